"""The checks an op makes before it changes anything: the path's form, the
caller's permission on a node, the version the request expects.

Each refuses with a ``TreeError``; the ops call them in ZooKeeper's order,
so a request wrong in two ways gets the error ZooKeeper would give.
"""

from __future__ import annotations

from coord import acl as acls
from coord.acl import OPEN_ACL, Ids
from coord.outcome import Code, TreeError
from coord.wire import log_pb2
from coord.znode import Znode
from coord_api import paths

_PERM_NAMES = {
    acls.READ: "READ", acls.WRITE: "WRITE", acls.CREATE: "CREATE",
    acls.DELETE: "DELETE", acls.ADMIN: "ADMIN",
}  # fmt: skip


class Caller:
    """The ids a command's sender had proven (attached by the member that
    proposed it), read from the command only when an ACL other than the
    open one asks: most nodes have the open one."""

    __slots__ = ("_auth", "_ids")

    def __init__(self, command: log_pb2.Command) -> None:
        self._auth = command.auth
        self._ids: Ids | None = None

    def ids(self) -> Ids:
        if self._ids is None:
            self._ids = tuple((found.scheme, found.id) for found in self._auth)
        return self._ids


def require(node: Znode, perm: int, caller: Caller, path: str) -> None:
    """Refuse (NO_AUTH) unless the node's ACL grants `perm` to the caller."""
    if node.acl is not OPEN_ACL and not acls.permits(node.acl, perm, caller.ids()):
        raise TreeError(Code.NO_AUTH, f"no {_PERM_NAMES[perm]} permission on {path}")


def check_version(node: Znode, version: int, path: str) -> None:
    if version != -1 and version != node.version:
        raise TreeError(
            Code.BAD_VERSION, f"version {version} does not match {node.version} at {path}"
        )


def requested_version(request) -> int:
    return request.version if request.HasField("version") else -1


def checked_path(path: str) -> str:
    error = paths.path_error(path)
    if error:
        raise TreeError(Code.BAD_ARGUMENTS, error)
    return path


def writable_path(path: str) -> str:
    checked_path(path)
    if paths.is_reserved(path):
        raise TreeError(Code.BAD_ARGUMENTS, f"{path} is reserved for the service")
    return path
