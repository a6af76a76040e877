"""coordctl's commands on nodes: read, write, delete, draw and watch them."""

from __future__ import annotations

import sys
import threading
from typing import Any

import click
from rich.tree import Tree

from coord_api.paths import basename, join
from coord_client.cli.options import parse_acl, path_argument
from coord_client.cli.render import console, data_json
from coord_client.cli.session import Ctl, Failure, pass_ctl
from coord_client.client import Client
from coord_client.events import KazooState, WatchedEvent
from coord_client.exceptions import NoNodeError, SessionExpiredError
from coord_client.security import ACL


@click.command()
@path_argument()
@pass_ctl
def ls(ctl: Ctl, path: str) -> None:
    """The children of PATH, one a line, sorted."""
    names = sorted(ctl.client().get_children(path))
    if ctl.as_json:
        ctl.emit(names)
    else:
        for name in names:
            click.echo(name)


@click.command()
@path_argument()
@pass_ctl
def get(ctl: Ctl, path: str) -> None:
    """The data of PATH, raw, to stdout."""
    data, stat = ctl.client().get(path)
    if ctl.as_json:
        ctl.emit({"path": path, **data_json(data), "stat": stat.to_dict()})
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


@click.command()
@path_argument()
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


@click.command()
@path_argument()
@click.argument("data", default="")
@click.option("-e", "--ephemeral", is_flag=True, help="Gone when this command's session ends.")
@click.option("-s", "--sequential", is_flag=True, help="Append a 10-digit sequence number.")
@click.option("-p", "--parents", is_flag=True, help="Create missing parents.")
@click.option(
    "--acl",
    callback=parse_acl,
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


@click.command(name="set")
@path_argument()
@click.argument("data")
@click.option("-v", "--version", type=int, default=-1, help="Only if the node has this version.")
@pass_ctl
def set_(ctl: Ctl, path: str, data: str, version: int) -> None:
    """Set the data of PATH."""
    new_stat = ctl.client().set(path, data.encode(), version=version)
    if ctl.as_json:
        ctl.emit(new_stat.to_dict())


@click.command()
@path_argument()
@click.option("-v", "--version", type=int, default=-1, help="Only if the node has this version.")
@click.option("-r", "--recursive", is_flag=True, help="Delete the whole subtree, atomically.")
@pass_ctl
def delete(ctl: Ctl, path: str, version: int, recursive: bool) -> None:
    """Delete PATH."""
    ctl.client().delete(path, version=version, recursive=recursive)
    if ctl.as_json:
        ctl.emit({"deleted": path})


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


@click.command()
@path_argument(default="/")
@pass_ctl
def tree(ctl: Ctl, path: str) -> None:
    """The subtree at PATH drawn as a tree, with data sizes."""
    top = _subtree(ctl.client(), path)
    if ctl.as_json:
        ctl.emit(top)
        return
    drawing = Tree(f"{path} ({top['dataLength']} bytes)")
    _draw(top, drawing)
    console().print(drawing)


@click.command()
@path_argument()
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
