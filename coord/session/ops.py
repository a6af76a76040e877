"""Client operations, as both the session stream and the unary RPCs run them.

Writes become log commands (carrying the sender's ids: the tree checks
their ACLs at apply); reads run against this member's tree, checked here
against the reader's ids, and a read that sets a watch registers it in the
same step, so no change can slip between the read and the watch.
"""

from __future__ import annotations

from coord import acl as acls
from coord.acl import Ids
from coord.member.limits import Limits
from coord.tree import Code, Tree, TreeError, acl_to_wire
from coord.watches import Kind, Watcher, WatchRegistry
from coord.wire import log_pb2
from coord_api import paths
from coord_api.wire import client_pb2 as pb

WRITES = frozenset(
    {"create", "delete", "set_data", "multi", "check", "set_acl", "set_quota", "delete_quota"}
)
READS = frozenset(
    {
        "get_data", "exists", "get_children", "sync", "add_watch", "remove_watch", "get_acl",
        "auth", "get_quota",
    }
)  # fmt: skip

_REMOVE_KINDS = {
    pb.ANY: tuple(Kind),
    pb.DATA: (Kind.DATA,),
    pb.CHILDREN: (Kind.CHILD,),
    pb.PERSISTENT_WATCH: (Kind.PERSISTENT,),
    pb.PERSISTENT_RECURSIVE_WATCH: (Kind.RECURSIVE,),
}
_ADD_KINDS = {pb.PERSISTENT: Kind.PERSISTENT, pb.PERSISTENT_RECURSIVE: Kind.RECURSIVE}
# Reads that may set a one-shot watch: the query, and the watch it sets.
_WATCHING_READS = {
    "get_data": (Tree.get_data, Kind.DATA),
    "exists": (Tree.exists, Kind.DATA),
    "get_children": (Tree.get_children, Kind.CHILD),
}


def command(kind: str, op, session_id: int, xid: int = 0, auth=()) -> log_pb2.Command:
    """A write request as the log carries it, with the sender's ids (`auth`,
    wire Ids); the unary-only session reference stays out of the log."""
    cmd = log_pb2.Command(session_id=session_id, xid=xid, auth=auth, **{kind: op})
    if kind != "check":
        getattr(cmd, kind).ClearField("session")
    return cmd


def precheck(kind: str, op, limits: Limits) -> pb.Error | None:
    """Refuse a write before it costs a log entry: over a limit of this
    member's (ops in a transaction, a path's length or depth: so no
    make-parents makes more nodes than its path is deep), or, for a single
    op, of a shape the tree would refuse (a bad path, data over the limit;
    the tree checks those again when it applies, a transaction's per op).
    The limits are decided here only, before the command is logged: a
    member whose flags differ applies the same log the same way."""
    if kind == "multi":
        if len(op.ops) > limits.max_multi_ops:
            return pb.Error(
                code=Code.LIMIT_EXCEEDED,
                message=f"a transaction of {len(op.ops)} ops is over the limit"
                f" (--max-multi-ops {limits.max_multi_ops})",
            )
        inner = (getattr(each, each.WhichOneof("op")) for each in op.ops if each.WhichOneof("op"))
        return next(filter(None, (_over_path_limits(each.path, limits) for each in inner)), None)
    error = paths.path_error(op.path)
    if error:
        return pb.Error(code=Code.BAD_ARGUMENTS, message=error)
    size = len(op.data) if kind in ("create", "set_data") else 0
    if size > limits.max_data_bytes:
        return pb.Error(
            code=Code.DATA_TOO_LARGE,
            message=f"data of {size} bytes is over the limit of {limits.max_data_bytes}",
        )
    return _over_path_limits(op.path, limits)


def _over_path_limits(path: str, limits: Limits) -> pb.Error | None:
    size = len(path) if path.isascii() else len(path.encode())
    if size > limits.max_path_bytes:
        return pb.Error(
            code=Code.LIMIT_EXCEEDED,
            message=f"a path of {size} bytes is over the limit"
            f" (--max-path-bytes {limits.max_path_bytes})",
        )
    depth = path.count("/")
    if depth > limits.max_path_depth:
        return pb.Error(
            code=Code.LIMIT_EXCEEDED,
            message=f"a path {depth} deep is over the limit"
            f" (--max-path-depth {limits.max_path_depth})",
        )
    return None


def _valid_path(path: str) -> str:
    error = paths.path_error(path)
    if error:
        raise TreeError(Code.BAD_ARGUMENTS, error)
    return path


def _require(tree: Tree, path: str, perm: int, ids: Ids) -> None:
    """Refuse (NO_AUTH) a read of a node whose ACL does not grant `perm`;
    a missing node is the query's own answer."""
    node = tree.nodes.get(path)
    if node is not None and not acls.permits(node.acl, perm, ids):
        raise TreeError(Code.NO_AUTH, f"no READ permission on {path}")


def get_acl(tree: Tree, path: str, ids: Ids) -> pb.GetAclResponse:
    """READ or ADMIN may see the ACL; without ADMIN digest hashes are
    hidden (ZooKeeper's FinalRequestProcessor)."""
    response = tree.get_acl(path)
    node = tree.nodes[path]
    if not acls.permits(node.acl, acls.READ | acls.ADMIN, ids):
        raise TreeError(Code.NO_AUTH, f"no READ or ADMIN permission on {path}")
    if not acls.permits(node.acl, acls.ADMIN, ids):
        del response.acl[:]
        response.acl.extend(acl_to_wire(acls.masked(node.acl)))
    return response


def read(
    tree: Tree,
    watches: WatchRegistry,
    kind: str,
    op,
    watcher: Watcher | None,
    ids: Ids,
):
    """Run a read now, as a caller with `ids`; raises TreeError for a
    refused one."""
    if kind in _WATCHING_READS:
        query, watch_kind = _WATCHING_READS[kind]
        _require(tree, op.path, acls.READ, ids)
        response = query(tree, op.path)
        if watcher is not None and op.watch:
            watches.add(watch_kind, op.path, watcher)
        return response
    if kind == "sync":
        return pb.SyncResponse(path=_valid_path(op.path), zxid=tree.zxid)
    if kind == "add_watch":
        mode = _ADD_KINDS.get(op.mode)
        if mode is None:
            raise TreeError(Code.BAD_ARGUMENTS, f"unknown watch mode {op.mode}")
        if watcher is None:
            raise TreeError(Code.BAD_ARGUMENTS, "a watch needs a session stream")
        _require(tree, _valid_path(op.path), acls.READ, ids)
        watches.add(mode, op.path, watcher)
        return pb.AddWatchResponse()
    if kind == "remove_watch":
        kinds = _REMOVE_KINDS.get(op.kind)
        if kinds is None:
            raise TreeError(Code.BAD_ARGUMENTS, f"unknown watch kind {op.kind}")
        if watcher is not None:
            watches.remove(kinds, _valid_path(op.path), watcher)
        return pb.RemoveWatchResponse()
    if kind == "get_acl":
        return get_acl(tree, op.path, ids)
    if kind == "get_quota":
        _require(tree, _valid_path(op.path), acls.READ, ids)
        return tree.get_quota(op.path)
    raise TreeError(Code.UNIMPLEMENTED, f"unknown operation {kind}")
