"""`coordctl`: inspect and change the tree from a shell (SPEC §2).

Every failure is one line on stderr (`coordctl: no node /a/b`) and exit code
1, never a traceback; `--json` makes every command print JSON. ACLs are read
and written in ZooKeeper's text form (security.py).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click
import grpc
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from coord_api.paths import basename, join, validate_path
from coord_api.wire import client_pb2 as pb
from coord_api.wire.client_pb2_grpc import CoordStub
from coord_client.channel import open_channel, parse_hosts
from coord_client.client import Client
from coord_client.events import KazooState, WatchedEvent
from coord_client.exceptions import (
    AuthFailedError,
    BadVersionError,
    ConnectionLoss,
    CoordError,
    CoordTimeoutError,
    DataTooLargeError,
    InvalidACLError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    SessionExpiredError,
    TLSError,
)
from coord_client.quota import QuotaInfo
from coord_client.recipes import Config, Election, Lock
from coord_client.security import ACL, acl_to_text, acls_from_text, perms_to_text
from coord_client.tls import ClientTLS, Names, diagnose

DEFAULT_SERVERS = "127.0.0.1:7181"
SESSION_TIMEOUT = 10.0  # seconds; the session coordctl asks for
TLS_NAMES = Names("give --tls-ca", "--tls-ca", "--tls-cert", "--tls-key")

# What went wrong, by exception class (first match), naming the path.
_PROBLEMS: list[tuple[type[CoordError], str]] = [
    (NoNodeError, "no node {path}"),
    (NodeExistsError, "node exists {path}"),
    (NotEmptyError, "node has children {path} (use -r)"),
    (BadVersionError, "bad version for {path}"),
    (NoChildrenForEphemeralsError, "ephemeral nodes cannot have children: {path}"),
    (DataTooLargeError, "data too large for {path}"),
    (NoAuthError, "not authorized for {path} (NO_AUTH)"),
    (InvalidACLError, "invalid ACL for {path} (INVALID_ACL)"),
    (AuthFailedError, "authentication failed (AUTH_FAILED)"),
    (SessionExpiredError, "session expired"),
    (ConnectionLoss, "lost the connection to {servers}"),
    (CoordTimeoutError, "cannot reach {servers}"),
]


class Failure(click.ClickException):
    """The one line coordctl prints before exiting with code 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"coordctl: {self.message}", err=True)


@dataclass
class Ctl:
    """The global options, the path the command is about, and the session (opened on first use)."""

    servers: str
    timeout: float
    as_json: bool
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    auth: list[tuple[str, str]] = field(default_factory=list)
    path: str = "/"
    _client: Client | None = field(default=None, init=False, repr=False)

    @property
    def use_tls(self) -> bool:
        """Any TLS flag turns TLS on; --tls-ca alone is the usual one."""
        return bool(self.tls_ca or self.tls_cert or self.tls_key)

    def tls(self) -> ClientTLS | None:
        """The TLS settings, tried first with a handshake on each member in
        turn until one goes through (or cannot be reached): gRPC's C core
        logs a failed handshake on stderr, and coordctl's word is one line."""
        tls = ClientTLS.from_options(
            self.use_tls, ca=self.tls_ca, certfile=self.tls_cert, keyfile=self.tls_key
        )
        if tls is None:
            return None
        problem = None
        for address in parse_hosts(self.servers):
            problem = diagnose(address, tls, self.timeout)
            if problem is None:
                return tls
        raise TLSError(problem)

    def client(self) -> Client:
        if self._client is None:
            self.tls()
            self._client = Client(
                self.servers, timeout=SESSION_TIMEOUT, auth_data=self.auth, use_ssl=self.use_tls,
                ca=self.tls_ca, certfile=self.tls_cert, keyfile=self.tls_key,
            )  # fmt: skip
            self._client.start(timeout=self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.stop()

    def describe(self, exc: Exception) -> str:
        if isinstance(exc, TLSError):
            return exc.problem.describe(TLS_NAMES)
        for cls, template in _PROBLEMS:
            if isinstance(exc, cls):
                return template.format(path=self.path, servers=self.servers)
        return str(exc) or type(exc).__name__

    def emit(self, value: Any) -> None:
        click.echo(json.dumps(value))


class _Group(click.Group):
    """Turns the SDK's errors into coordctl's one-line failures."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (CoordError, ValueError) as exc:
            raise Failure(ctx.find_object(Ctl).describe(exc)) from None


def _note_path(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    ctx.find_object(Ctl).path = validate_path(value)  # refused before connecting
    return value


def _path_argument(**kwargs: Any) -> Any:
    return click.argument("path", callback=_note_path, **kwargs)


class Credentials(click.ParamType):
    """--auth values; from $COORD_AUTH one a line, as a password may hold
    commas and spaces."""

    name = "SCHEME:CREDENTIAL"

    def split_envvar_value(self, rv: str) -> list[str]:
        return [line for line in rv.splitlines() if line.strip()]


def _credential(text: str) -> tuple[str, str]:
    """`SCHEME:CREDENTIAL` (`digest:user:password`), split at the first colon."""
    scheme, colon, credential = text.partition(":")
    if not scheme or not colon:
        raise ValueError(f"bad --auth {text!r}: use SCHEME:CREDENTIAL")
    return scheme, credential


def _parse_acl(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    """An ACL argument in ZooKeeper's text form; refused before connecting."""
    return None if value is None else acls_from_text(value)


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
    ctx.obj.auth = [_credential(text) for text in auth]
    ctx.call_on_close(ctx.obj.close)


pass_ctl = click.make_pass_decorator(Ctl)


@cli.command()
@_path_argument()
@pass_ctl
def ls(ctl: Ctl, path: str) -> None:
    """The children of PATH, one a line, sorted."""
    names = sorted(ctl.client().get_children(path))
    if ctl.as_json:
        ctl.emit(names)
    else:
        for name in names:
            click.echo(name)


def _data_json(data: bytes) -> dict[str, str]:
    """Data as JSON text: UTF-8 when it is, else base64."""
    try:
        return {"data": data.decode("utf-8"), "encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"data": base64.b64encode(data).decode("ascii"), "encoding": "base64"}


@cli.command()
@_path_argument()
@pass_ctl
def get(ctl: Ctl, path: str) -> None:
    """The data of PATH, raw, to stdout."""
    data, stat = ctl.client().get(path)
    if ctl.as_json:
        ctl.emit({"path": path, **_data_json(data), "stat": stat.to_dict()})
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


@cli.command()
@_path_argument()
@pass_ctl
def stat(ctl: Ctl, path: str) -> None:
    """The Stat fields of PATH."""
    found = ctl.client().exists(path)
    if found is None:
        raise NoNodeError(path)
    if ctl.as_json:
        ctl.emit(found.to_dict())
    else:
        for name, value in found.to_dict().items():
            click.echo(f"{name} = {value}")


@cli.command()
@_path_argument()
@click.argument("data", default="")
@click.option("-e", "--ephemeral", is_flag=True, help="Gone when this command's session ends.")
@click.option("-s", "--sequential", is_flag=True, help="Append a 10-digit sequence number.")
@click.option("-p", "--parents", is_flag=True, help="Create missing parents.")
@click.option(
    "--acl",
    callback=_parse_acl,
    help="The node's ACL, as setacl's (default: open to anyone).",
)
@pass_ctl
def create(
    ctl: Ctl,
    path: str,
    data: str,
    ephemeral: bool,
    sequential: bool,
    parents: bool,
    acl: list[ACL] | None,
) -> None:
    """Create PATH holding DATA; prints the created path."""
    try:
        created = ctl.client().create(
            path,
            data.encode(),
            acl=acl,
            ephemeral=ephemeral,
            sequence=sequential,
            makepath=parents,
        )
    except NoNodeError:
        raise Failure(f"no parent node for {path} (use -p)") from None
    if ctl.as_json:
        ctl.emit({"path": created})
    else:
        click.echo(created)


@cli.command(name="set")
@_path_argument()
@click.argument("data")
@click.option("-v", "--version", type=int, default=-1, help="Only if the node has this version.")
@pass_ctl
def set_(ctl: Ctl, path: str, data: str, version: int) -> None:
    """Set the data of PATH."""
    new_stat = ctl.client().set(path, data.encode(), version=version)
    if ctl.as_json:
        ctl.emit(new_stat.to_dict())


@cli.command()
@_path_argument()
@click.option("-v", "--version", type=int, default=-1, help="Only if the node has this version.")
@click.option("-r", "--recursive", is_flag=True, help="Delete the whole subtree, atomically.")
@pass_ctl
def delete(ctl: Ctl, path: str, version: int, recursive: bool) -> None:
    """Delete PATH."""
    ctl.client().delete(path, version=version, recursive=recursive)
    if ctl.as_json:
        ctl.emit({"deleted": path})


def _acl_json(acl: ACL) -> dict[str, str]:
    return {"scheme": acl.id.scheme, "id": acl.id.id, "perms": perms_to_text(acl.perms)}


@cli.command()
@_path_argument()
@pass_ctl
def getacl(ctl: Ctl, path: str) -> None:
    """The ACL of PATH, one `scheme:id:perms` a line (perms from cdrwa)."""
    acls, found = ctl.client().get_acls(path)
    if ctl.as_json:
        ctl.emit({"path": path, "acl": [_acl_json(acl) for acl in acls], "stat": found.to_dict()})
    else:
        for acl in acls:
            click.echo(acl_to_text(acl))


@cli.command()
@_path_argument()
@click.argument("acl", callback=_parse_acl)
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


def _console() -> Console:
    """Rich output to stdout, not cut to 80 columns when stdout is not a terminal."""
    return Console(soft_wrap=True, highlight=False, width=None if sys.stdout.isatty() else 1000)


def _subtree(client: Client, root: str) -> dict[str, Any]:
    """{path, dataLength, children} for `root` and below, read a level at a time
    with every read of a level in flight at once."""
    top: dict[str, Any] = {"path": root, "dataLength": 0, "children": []}
    level: list[tuple[dict[str, Any], dict[str, Any] | None]] = [(top, None)]
    while level:
        reads = [
            (node, up, client.get_children_async(node["path"], include_data=True))
            for node, up in level
        ]
        level = []
        for node, up, read in reads:
            try:
                names, node_stat = read.get()
            except NoNodeError:
                if up is None:
                    raise
                up["children"].remove(node)  # deleted while we walked
                continue
            node["dataLength"] = node_stat.dataLength
            for name in sorted(names):
                child = {"path": join(node["path"], name), "dataLength": 0, "children": []}
                node["children"].append(child)
                level.append((child, node))
    return top


def _draw(node: dict[str, Any], branch: Tree) -> None:
    for child in node["children"]:
        label = f"{basename(child['path'])} ({child['dataLength']} bytes)"
        _draw(child, branch.add(label))


@cli.command()
@_path_argument(default="/")
@pass_ctl
def tree(ctl: Ctl, path: str) -> None:
    """The subtree at PATH drawn as a tree, with data sizes."""
    top = _subtree(ctl.client(), path)
    if ctl.as_json:
        ctl.emit(top)
        return
    drawing = Tree(f"{path} ({top['dataLength']} bytes)")
    _draw(top, drawing)
    _console().print(drawing)


@cli.command()
@_path_argument()
@click.option("-r", "--recursive", is_flag=True, help="Also the changes below PATH.")
@pass_ctl
def watch(ctl: Ctl, path: str, recursive: bool) -> None:
    """Stream the changes of PATH (TYPE PATH ZXID a line) until Ctrl-C."""
    client = ctl.client()
    lost = threading.Event()

    def show(event: WatchedEvent) -> None:
        if ctl.as_json:
            ctl.emit({"type": str(event.type), "path": event.path, "zxid": event.zxid})
        else:
            click.echo(f"{event.type} {event.path} {event.zxid}")

    def on_state(state: KazooState) -> None:
        if state is KazooState.LOST:
            lost.set()

    client.add_listener(on_state)
    client.add_watch(path, show, recursive=recursive)
    click.echo(f"coordctl: watching {path} (Ctrl-C to stop)", err=True)
    try:
        lost.wait()
    except KeyboardInterrupt:
        return
    raise SessionExpiredError()


def _status(ctl: Ctl) -> pb.StatusResponse:
    """Ask the first member that answers."""
    tls = ctl.tls()
    problem = None
    for address in parse_hosts(ctl.servers):
        channel = open_channel(address, tls, ctl.timeout)
        try:
            return CoordStub(channel).Status(pb.StatusRequest(), timeout=ctl.timeout)
        except grpc.RpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise Failure(f"{address}: {exc.details()}") from None
            problem = diagnose(address, tls, ctl.timeout) or problem
        finally:
            channel.close()
    if problem is not None:
        raise TLSError(problem)
    raise CoordTimeoutError()


_STATUS_COLUMNS = [
    ("id", "id"),
    ("address", "address"),
    ("role", "role"),
    ("leader ballot", "leader_ballot"),
    ("committed zxid", "committed_zxid"),
    ("applied zxid", "applied_zxid"),
    ("sessions", "sessions"),
    ("znodes", "znodes"),
]


@cli.command()
@pass_ctl
def status(ctl: Ctl) -> None:
    """One row per member: role, leader ballot, zxids, sessions, znodes."""
    members = [
        {f.name: getattr(member, f.name) for f in member.DESCRIPTOR.fields}
        for member in _status(ctl).members
    ]
    if ctl.as_json:
        ctl.emit(members)
        return
    table = Table()
    for title, _ in _STATUS_COLUMNS:
        table.add_column(title)
    for member in members:
        table.add_row(*(str(member[key]) for _, key in _STATUS_COLUMNS))
    _console().print(table)


def _run_while(lost: threading.Event, command: tuple[str, ...], env: dict[str, str]) -> int:
    """Run `command`; stop it (SIGTERM) if what it depends on is lost."""
    proc = subprocess.Popen(command, env={**os.environ, **env})

    def guard() -> None:
        if lost.wait() and proc.poll() is None:
            proc.terminate()

    threading.Thread(target=guard, daemon=True).start()
    code = proc.wait()
    if lost.is_set():
        raise Failure("the session was lost while the command ran; it was stopped")
    return code


@cli.command(context_settings={"ignore_unknown_options": True})
@_path_argument()
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def lock(ctx: click.Context, path: str, command: tuple[str, ...]) -> None:
    """Run COMMAND holding the lock at PATH (coordctl lock PATH -- CMD ...);
    exits with its code. COORD_LOCK_PATH and COORD_FENCING_TOKEN are set for
    it; if the session is lost meanwhile, COMMAND is stopped."""
    ctl = ctx.find_object(Ctl)
    held = Lock(ctl.client(), path)
    with held:
        env = {"COORD_LOCK_PATH": path, "COORD_FENCING_TOKEN": str(held.fencing_token)}
        code = _run_while(held.lost, command, env)
    ctx.exit(code)


@cli.command(context_settings={"ignore_unknown_options": True})
@_path_argument()
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--id", "identifier", help="How this contender shows among the contenders.")
@click.pass_context
def elect(ctx: click.Context, path: str, command: tuple[str, ...], identifier: str | None) -> None:
    """Wait to be elected leader at PATH, then run COMMAND as the leader
    (coordctl elect PATH -- CMD ...); exits with its code. If the session is
    lost meanwhile, COMMAND is stopped."""
    ctl = ctx.find_object(Ctl)
    election = Election(ctl.client(), path, identifier)
    codes: list[int] = []
    election.run(lambda: codes.append(_run_while(election.lost, command, {})))
    ctx.exit(codes[0] if codes else 1)


@cli.group()
def quota() -> None:
    """Hard quotas on subtrees (ZooKeeper 3.7+'s setquota -N/-B)."""


@contextmanager
def _quota_named() -> Iterator[None]:
    """A missing quota is not a missing node: the member's own words."""
    try:
        yield
    except NoNodeError as exc:
        raise Failure(str(exc)) from None


def _show_quota(ctl: Ctl, info: QuotaInfo) -> None:
    if ctl.as_json:
        ctl.emit(info.to_dict())
        return
    for name, limit, used in (
        ("count", info.count, info.used_count),
        ("bytes", info.bytes, info.used_bytes),
    ):
        click.echo(f"{name}={used}/{'none' if limit is None else limit}")


@quota.command(name="set")
@_path_argument()
@click.option("--count", type=int, help="Most znodes in the subtree, PATH included.")
@click.option("--bytes", "size", type=int, help="Most bytes of data in the subtree.")
@pass_ctl
def quota_set(ctl: Ctl, path: str, count: int | None, size: int | None) -> None:
    """Set a hard quota on PATH; a limit not given keeps its value. Prints
    the quota as `quota get`."""
    with _quota_named():
        _show_quota(ctl, ctl.client().set_quota(path, count=count, bytes=size))


@quota.command(name="get")
@_path_argument()
@pass_ctl
def quota_get(ctl: Ctl, path: str) -> None:
    """The quota on PATH: `count=USED/LIMIT` and `bytes=USED/LIMIT` (none: no limit)."""
    with _quota_named():
        _show_quota(ctl, ctl.client().get_quota(path))


@quota.command(name="rm")
@_path_argument()
@pass_ctl
def quota_rm(ctl: Ctl, path: str) -> None:
    """Remove the quota on PATH."""
    with _quota_named():
        ctl.client().delete_quota(path)
    if ctl.as_json:
        ctl.emit({"deleted_quota": path})


@cli.group()
def config() -> None:
    """Configuration kept as the children of a node (Config recipe)."""


@config.command(name="get")
@_path_argument()
@click.argument("key")
@pass_ctl
def config_get(ctl: Ctl, path: str, key: str) -> None:
    """The value of KEY, raw, to stdout."""
    view = Config(ctl.client(), path)
    if key not in view:
        raise Failure(f"no key {key} in {path}")
    if ctl.as_json:
        ctl.emit({"key": key, **_data_json(view[key]), "version": view.version})
    else:
        sys.stdout.buffer.write(view[key])
    view.close()


@config.command(name="set")
@_path_argument()
@click.argument("pairs", nargs=-1, required=True)
@click.option("-v", "--version", type=int, default=None, help="Only if still at this version.")
@pass_ctl
def config_set(ctl: Ctl, path: str, pairs: tuple[str, ...], version: int | None) -> None:
    """Set KEY=VALUE pairs in one transaction; prints the new version."""
    if any("=" not in pair for pair in pairs):
        raise Failure("each pair must be KEY=VALUE")
    view = Config(ctl.client(), path)
    new = view.update(
        {k: v.encode() for k, _, v in (p.partition("=") for p in pairs)}, version=version
    )
    view.close()
    if ctl.as_json:
        ctl.emit({"version": new})
    else:
        click.echo(new)


@config.command(name="dump")
@_path_argument()
@pass_ctl
def config_dump(ctl: Ctl, path: str) -> None:
    """Every key with its value, and the version, as JSON."""
    view = Config(ctl.client(), path)
    values = {key: _data_json(view[key])["data"] for key in sorted(view)}
    ctl.emit({"path": path, "version": view.version, "values": values})
    view.close()


def main() -> None:
    cli(prog_name="coordctl")


if __name__ == "__main__":
    main()
