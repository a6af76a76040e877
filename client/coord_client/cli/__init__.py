"""`coordctl`: inspect and change the tree from a shell (README, "A five-minute tour").

Every failure is one line on stderr (`coordctl: no node /a/b`) and exit code
1, never a traceback; `--json` makes every command print JSON. ACLs are read
and written in ZooKeeper's text form (security.py). The commands live by
subject in this package; this module is the root group and its options.
"""

from __future__ import annotations

from typing import Any

import click

from coord_client.cli import acls, nodes, quotas, recipes, status
from coord_client.cli.options import Credentials, credential
from coord_client.cli.session import DEFAULT_SERVERS, Ctl, Failure
from coord_client.exceptions import CoordError


class _Group(click.Group):
    """Turns the SDK's errors into coordctl's one-line failures."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (CoordError, ValueError) as exc:
            raise Failure(ctx.find_object(Ctl).describe(exc)) from None


@click.group(cls=_Group)
@click.option(
    "--servers",
    envvar="COORD_SERVERS",
    default=DEFAULT_SERVERS,
    show_default=True,
    help="Connect string: HOST:PORT[,HOST:PORT...] (default $COORD_SERVERS).",
)
@click.option(
    "--timeout", type=float, default=5.0, show_default=True, help="Seconds to wait for a session."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--tls-ca", envvar="COORD_TLS_CA", metavar="FILE",
    help="Connect with TLS, trusting the CA certificate(s) in FILE ($COORD_TLS_CA).",
)  # fmt: skip
@click.option(
    "--tls-cert", envvar="COORD_TLS_CERT", metavar="FILE",
    help="Client certificate for mutual TLS ($COORD_TLS_CERT).",
)  # fmt: skip
@click.option(
    "--tls-key", envvar="COORD_TLS_KEY", metavar="FILE",
    help="Private key of --tls-cert ($COORD_TLS_KEY).",
)  # fmt: skip
@click.option(
    "--auth",
    "auth",
    type=Credentials(),
    multiple=True,
    envvar="COORD_AUTH",
    help="Prove SCHEME:CREDENTIAL (digest:user:password) to the session; repeatable "
    "(default $COORD_AUTH, one a line).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    servers: str,
    timeout: float,
    as_json: bool,
    tls_ca: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    auth: tuple[str, ...],
) -> None:
    """Inspect and change a coord tree."""
    ctx.obj = Ctl(servers, timeout, as_json, tls_ca, tls_cert, tls_key)
    ctx.obj.auth = [credential(text) for text in auth]
    ctx.call_on_close(ctx.obj.close)


for command in (
    nodes.ls, nodes.get, nodes.stat, nodes.create, nodes.set_, nodes.delete, nodes.tree,
    nodes.watch, acls.getacl, acls.setacl, status.status, recipes.lock, recipes.elect,
    quotas.quota, recipes.config,
):  # fmt: skip
    cli.add_command(command)


def main() -> None:
    cli(prog_name="coordctl")
