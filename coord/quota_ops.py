"""The quota ops (set_quota, delete_quota) and the check that refuses a
write that would take a quota past its limit.

A quota's limits live in a znode under /coord/quota (see quotas.py), so
setting or deleting one is an ordinary change of the tree: it fires watches
and reaches storage, snapshots and the state digest like any znode.
"""

from __future__ import annotations

from coord import acl as acls
from coord.op_checks import Caller, require, writable_path
from coord.outcome import Code, Event, EventType, TreeError
from coord.quotas import NO_LIMIT, Quota, limits_error, limits_path
from coord.quotas import ROOT as QUOTA_ROOT
from coord.tree_state import TreeState
from coord.znode import Znode
from coord_api import paths
from coord_api.wire import client_pb2 as pb


def quota_to_wire(path: str, quota: Quota) -> pb.Quota:
    limits = {name: getattr(quota, name) for name in ("count", "bytes")}
    return pb.Quota(
        path=path,
        used_count=quota.used_count,
        used_bytes=quota.used_bytes,
        **{name: limit for name, limit in limits.items() if limit != NO_LIMIT},
    )


def check_quota(tree: TreeState, changes: list[tuple[str, int, int]]) -> None:
    """Refuse what would take a quota past a limit (callers skip the call
    while there is no quota: most trees have none)."""
    refusal = tree.quotas.refusal(changes)
    if refusal is not None:
        raise TreeError(Code.QUOTA_EXCEEDED, refusal)


def _quota_admin(tree: TreeState, path: str, caller: Caller) -> None:
    """Quotas need ADMIN on their root's node, or while it is gone (a quota
    outlives its node, as ZooKeeper's) on its nearest ancestor."""
    while path not in tree.nodes:
        path = paths.parent(path)
    require(tree.nodes[path], acls.ADMIN, caller, path)


def set_quota(
    tree: TreeState,
    op: pb.SetQuotaRequest,
    zxid: int,
    time_ms: int,
    caller: Caller,
    events: list[Event],
) -> pb.SetQuotaResponse:
    """ZooKeeper's setquota rules: the node exists, no quota above or below
    it; limits not given keep their value. A quota set below the usage now
    is taken: the next write that grows the usage fails."""
    path = writable_path(op.path)
    error = limits_error(op)
    if error is not None:
        raise TreeError(Code.BAD_ARGUMENTS, error)
    tree.node(path)
    _quota_admin(tree, path, caller)
    other = tree.quotas.nested(path)
    if other is not None:
        raise TreeError(Code.BAD_ARGUMENTS, f"quotas do not nest: {other} has one")
    quota = tree.quotas.roots.get(path)
    if quota is None:
        subtree = tree.subtree_leaves_first(path)
        quota = Quota(
            used_count=len(subtree),
            used_bytes=sum(len(tree.nodes[member].data) for member in subtree),
        )
    if op.HasField("count"):
        quota.count = op.count
    if op.HasField("bytes"):
        quota.bytes = op.bytes
    _write_limits(tree, limits_path(path), quota.encode(), zxid, time_ms, events)
    tree.quotas.roots[path] = quota
    return pb.SetQuotaResponse(quota=quota_to_wire(path, quota), zxid=zxid)


def _write_limits(
    tree: TreeState, path: str, data: bytes, zxid: int, time_ms: int, events: list[Event]
) -> None:
    """Create or rewrite a limits znode, with the parents it lacks."""
    node = tree.nodes.get(path)
    if node is None:
        for ancestor in tree.missing_ancestors(paths.parent(path)):
            made = Znode(b"", zxid, zxid, zxid, time_ms, time_ms)
            tree.add_node(ancestor, made, zxid, events)
        node = Znode(data, zxid, zxid, zxid, time_ms, time_ms)
        tree.add_node(path, node, zxid, events)
        return
    tree.touch_node(path)
    node.data, node.version, node.mzxid, node.mtime = data, node.version + 1, zxid, time_ms
    events.append(Event(EventType.CHANGED, path, node.acl))


def delete_quota(
    tree: TreeState, op: pb.DeleteQuotaRequest, zxid: int, caller: Caller, events: list[Event]
) -> pb.DeleteQuotaResponse:
    """Remove the limits znode and the parents it leaves empty."""
    path = writable_path(op.path)
    if path not in tree.quotas.roots:
        raise TreeError(Code.NO_NODE, f"no quota on {path}")
    _quota_admin(tree, path, caller)
    del tree.quotas.roots[path]
    gone = limits_path(path)
    while gone != QUOTA_ROOT and not tree.nodes[gone].children:
        tree.remove_node(gone, zxid, events)
        gone = paths.parent(gone)
    return pb.DeleteQuotaResponse(zxid=zxid)
