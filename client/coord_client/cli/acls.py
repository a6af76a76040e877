"""coordctl's commands on ACLs, read and written in ZooKeeper's text form
(coord_client/security.py)."""

from __future__ import annotations

import click

from coord_client.cli.options import parse_acl, path_argument
from coord_client.cli.session import Ctl, pass_ctl
from coord_client.security import ACL, acl_to_text, perms_to_text


def _acl_json(acl: ACL) -> dict[str, str]:
    return {"scheme": acl.id.scheme, "id": acl.id.id, "perms": perms_to_text(acl.perms)}


@click.command()
@path_argument()
@pass_ctl
def getacl(ctl: Ctl, path: str) -> None:
    """The ACL of PATH, one `scheme:id:perms` a line (perms from cdrwa)."""
    acls, found = ctl.client().get_acls(path)
    if ctl.as_json:
        ctl.emit({"path": path, "acl": [_acl_json(acl) for acl in acls], "stat": found.to_dict()})
    else:
        for acl in acls:
            click.echo(acl_to_text(acl))


@click.command()
@path_argument()
@click.argument("acl", callback=parse_acl)
@click.option("-v", "--version", type=int, default=-1, help="Only if the ACL has this aversion.")
@pass_ctl
def setacl(ctl: Ctl, path: str, acl: list[ACL], version: int) -> None:
    """Set the ACL of PATH: `scheme:id:perms[,scheme:id:perms...]`, e.g.
    `digest:bob:HASH:cdrwa,world:anyone:r`, `auth::cdrwa`, `ip:10.0.0.0/8:r`,
    `x509:CN=alice,O=Example:rw`. A comma starts a new entry only when a
    `scheme:` follows it, so an x509 subject keeps its commas."""
    new_stat = ctl.client().set_acls(path, acl, version=version)
    if ctl.as_json:
        ctl.emit(new_stat.to_dict())
