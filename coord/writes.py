"""The ops a write command carries, one function each, with ZooKeeper's
order of checks.

Each validates everything before it changes anything, so a lone op that
fails leaves the tree as it was; inside a multi the transaction undoes what
the earlier ops did (transactions.py).
"""

from __future__ import annotations

from coord import acl as acls
from coord.acl import OPEN_ACL, Acl, InvalidAcl
from coord.op_checks import (
    Caller,
    check_version,
    checked_path,
    requested_version,
    require,
    writable_path,
)
from coord.outcome import Code, Event, EventType, TreeError
from coord.quota_ops import check_quota, delete_quota, set_quota
from coord.tree_state import MAX_NODES_TOUCHED, TreeState
from coord.znode import Znode
from coord_api import paths
from coord_api.wire import client_pb2 as pb


def run_op(
    tree: TreeState,
    kind: str,
    op,
    zxid: int,
    time_ms: int,
    session_id: int,
    caller: Caller,
    events: list[Event],
):
    """Apply one op (`kind` names its field in the command or multi);
    return its wire response or raise its refusal."""
    if kind == "create":
        return create(tree, op, zxid, time_ms, session_id, caller, events)
    if kind == "delete":
        return delete(tree, op, zxid, caller, events)
    if kind == "set_data":
        return set_data(tree, op, zxid, time_ms, caller, events)
    if kind == "check":
        node = tree.node(checked_path(op.path))
        require(node, acls.READ, caller, op.path)
        check_version(node, op.version, op.path)
        return pb.CheckResponse()
    if kind == "set_acl":
        return set_acl(tree, op, zxid, caller)
    if kind == "set_quota":
        return set_quota(tree, op, zxid, time_ms, caller, events)
    if kind == "delete_quota":
        return delete_quota(tree, op, zxid, caller, events)
    raise TreeError(Code.UNIMPLEMENTED, f"unknown operation {kind}")


def create(
    tree: TreeState,
    op: pb.CreateRequest,
    zxid: int,
    time_ms: int,
    session_id: int,
    caller: Caller,
    events: list[Event],
) -> pb.CreateResponse:
    """ZooKeeper's order: the ACL's validity, the parent's existence, CREATE
    on the parent, then the rest."""
    path = writable_path(op.path)
    if path == "/":
        raise TreeError(Code.NODE_EXISTS, "node / exists")
    if len(op.data) > tree.max_data_bytes:
        raise TreeError(
            Code.DATA_TOO_LARGE,
            f"data of {len(op.data)} bytes is over the limit of {tree.max_data_bytes}",
        )
    if op.ephemeral and not session_id:
        raise TreeError(Code.BAD_ARGUMENTS, "an ephemeral node needs a session")
    acl = _new_acl(tree, op.acl, caller, path, empty_is_open=True)
    parent_path = paths.parent(path)
    missing = tree.missing_ancestors(parent_path) if op.make_parents else []
    if len(missing) + 1 > MAX_NODES_TOUCHED:
        raise TreeError(
            Code.LIMIT_EXCEEDED,
            f"creating {path} would make {len(missing) + 1} nodes, over the"
            f" {MAX_NODES_TOUCHED} one create may make: create its parents in steps",
        )
    parent = tree.nodes.get(parent_path)
    if parent is None and not missing:
        raise TreeError(Code.NO_NODE, f"no node {parent_path}")
    # Made parents are created as if one by one: CREATE on the node that
    # exists, then on each made parent, which gets the new node's ACL.
    top_path = paths.parent(missing[0]) if missing else parent_path
    top = tree.nodes[top_path]
    require(top, acls.CREATE, caller, top_path)
    if missing and not acls.permits(acl, acls.CREATE, caller.ids()):
        raise TreeError(Code.NO_AUTH, f"no CREATE permission on {missing[-1]} once made")
    if top.ephemeral_owner:
        raise TreeError(
            Code.NO_CHILDREN_FOR_EPHEMERALS, f"{top_path} is ephemeral: it has no children"
        )
    if op.sequential:
        sequence = parent.sequence if parent is not None else 0
        path = paths.sequence_name(path, sequence)
    if path in tree.nodes:
        raise TreeError(Code.NODE_EXISTS, f"node {path} exists")
    if tree.quotas.roots:
        check_quota(tree, [*((made, 1, 0) for made in missing), (path, 1, len(op.data))])
    # Validated: from here on nothing fails, so a lone create needs no undo.
    for ancestor in missing:
        made = Znode(b"", zxid, zxid, zxid, time_ms, time_ms, acl=acl)
        tree.add_node(ancestor, made, zxid, events)
    owner = session_id if op.ephemeral else 0
    node = Znode(op.data, zxid, zxid, zxid, time_ms, time_ms, ephemeral_owner=owner, acl=acl)
    tree.add_node(path, node, zxid, events)
    return pb.CreateResponse(path=path, stat=node.stat(), zxid=zxid)


def _new_acl(tree: TreeState, wire, caller: Caller, path: str, empty_is_open: bool) -> Acl:
    """A create's or set_acl's ACL, checked, expanded and shared."""
    if not wire and empty_is_open:
        return OPEN_ACL
    if len(wire) > acls.MAX_ENTRIES:
        raise TreeError(
            Code.BAD_ARGUMENTS,
            f"an ACL of {len(wire)} entries is over the limit of {acls.MAX_ENTRIES}",
        )
    try:
        fixed = acls.fixup(
            ((entry.perms, entry.id.scheme, entry.id.id) for entry in wire), caller.ids()
        )
    except InvalidAcl as err:
        raise TreeError(Code.INVALID_ACL, f"{err} (at {path})") from None
    tree.acls.prune(node.acl for node in tree.nodes.values())
    return tree.acls.intern(fixed)


def delete(
    tree: TreeState, op: pb.DeleteRequest, zxid: int, caller: Caller, events: list[Event]
) -> pb.DeleteResponse:
    """ZooKeeper's order: DELETE on the parent comes before the node's
    existence; a recursive delete needs DELETE on every node it empties."""
    path = writable_path(op.path)
    if path == "/":
        raise TreeError(Code.BAD_ARGUMENTS, "the root cannot be deleted")
    parent_path = paths.parent(path)
    parent = tree.nodes.get(parent_path)
    if parent is None:
        raise TreeError(Code.NO_NODE, f"no node {path}")
    require(parent, acls.DELETE, caller, parent_path)
    node = tree.node(path)
    check_version(node, requested_version(op), path)
    if node.children and not op.recursive:
        raise TreeError(Code.NOT_EMPTY, f"node {path} has children")
    victims = tree.subtree_leaves_first(path)
    for victim in victims:
        if tree.nodes[victim].children:
            require(tree.nodes[victim], acls.DELETE, caller, victim)
    for victim in victims:
        tree.remove_node(victim, zxid, events)
    return pb.DeleteResponse(zxid=zxid)


def set_data(
    tree: TreeState,
    op: pb.SetDataRequest,
    zxid: int,
    time_ms: int,
    caller: Caller,
    events: list[Event],
) -> pb.SetDataResponse:
    path = writable_path(op.path)
    node = tree.node(path)
    require(node, acls.WRITE, caller, path)
    check_version(node, requested_version(op), path)
    if len(op.data) > tree.max_data_bytes:
        raise TreeError(
            Code.DATA_TOO_LARGE,
            f"data of {len(op.data)} bytes is over the limit of {tree.max_data_bytes}",
        )
    if tree.quotas.roots:
        growth = len(op.data) - len(node.data)
        check_quota(tree, [(path, 0, growth)])
        tree.quotas.charge(path, 0, growth)
    tree.touch_node(path)
    node.data = op.data
    node.version += 1
    node.mzxid = zxid
    node.mtime = time_ms
    events.append(Event(EventType.CHANGED, path, node.acl))
    return pb.SetDataResponse(stat=node.stat(), zxid=zxid)


def set_acl(tree: TreeState, op: pb.SetAclRequest, zxid: int, caller: Caller) -> pb.SetAclResponse:
    """ZooKeeper's order: the new ACL's validity, the node's existence,
    ADMIN on it, then its aversion. No watch fires (as ZooKeeper)."""
    path = writable_path(op.path)
    acl = _new_acl(tree, op.acl, caller, path, empty_is_open=False)
    node = tree.node(path)
    require(node, acls.ADMIN, caller, path)
    version = requested_version(op)
    if version != -1 and version != node.aversion:
        raise TreeError(
            Code.BAD_VERSION, f"aversion {version} does not match {node.aversion} at {path}"
        )
    tree.touch_node(path)
    node.acl = acl
    node.aversion += 1
    return pb.SetAclResponse(stat=node.stat(), zxid=zxid)
