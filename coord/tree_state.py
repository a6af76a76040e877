"""The tree's state (its znodes by path, its sessions) and the only ways
an op changes it.

Every change goes through ``touch_node``/``touch_session`` first (which
``add_node`` and ``remove_node`` do for the nodes and parents they change):
that is how storage learns exactly what to persist, and how a transaction
keeps a copy of what it touched to put back if a later op fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coord.acl import AclTable
from coord.outcome import Code, Event, EventType, TreeError
from coord.quotas import Quotas
from coord.znode import Znode
from coord_api import paths

DEFAULT_MAX_DATA_BYTES = 1 << 20
# The most nodes one create may make (with its parents) or one recursive
# delete may remove (ZooKeeper's deleteall deletes in batches of this size).
# A constant, not a flag: only the tree sees the subtree, and every member
# must refuse the same commands. The door's --max-path-depth keeps creates
# well under it; this holds whatever the flags of the member that took one.
MAX_NODES_TOUCHED = 1000


@dataclass(slots=True)
class Session:
    """A session as every member holds it: what it owns and the replies it
    may be re-sent. Its liveness is each member's own (local_sessions.py)."""

    session_id: int
    timeout_ms: int
    password: bytes
    ephemerals: set[str] = field(default_factory=set)
    # Exactly-once writes: the latest xid applied, and the replies to the
    # latest writes by xid, so a write retried (same session, same xid) after
    # a lost connection or a leader change gets its first reply again and is
    # not applied twice.
    last_xid: int = 0
    replies: dict[int, object] = field(default_factory=dict)

    def copy(self) -> Session:
        return Session(
            self.session_id, self.timeout_ms, self.password, set(self.ephemerals),
            self.last_xid, dict(self.replies),
        )  # fmt: skip


class TreeState:
    """The znodes by path, the sessions that own ephemerals, the quotas'
    usage, and what changed since storage last looked."""

    def __init__(self, max_data_bytes: int = DEFAULT_MAX_DATA_BYTES) -> None:
        self.max_data_bytes = max_data_bytes
        self.nodes: dict[str, Znode] = {"/": Znode(b"", 0, 0, 0, 0, 0)}
        self.acls = AclTable()
        self.sessions: dict[int, Session] = {}
        self.quotas = Quotas()  # derived from the limits znodes under /coord/quota
        self.zxid = 0
        # Touched since storage last took them; storage writes what is there
        # now and deletes what is gone.
        self.dirty_nodes: set[str] = set()
        self.dirty_sessions: set[int] = set()
        self.dirty_replies: set[tuple[int, int]] = set()  # (session, xid)
        # While a multi runs: the state before each first touch, for rollback.
        self._undo_nodes: dict[str, Znode | None] | None = None
        self._undo_sessions: dict[int, Session | None] | None = None

    def node(self, path: str) -> Znode:
        node = self.nodes.get(path)
        if node is None:
            raise TreeError(Code.NO_NODE, f"no node {path}")
        return node

    def missing_ancestors(self, path: str) -> list[str]:
        """Ancestors of a create that do not exist yet, outermost first."""
        missing = []
        while path not in self.nodes:
            missing.append(path)
            path = paths.parent(path)
        return missing[::-1]

    def subtree_leaves_first(self, path: str) -> list[str]:
        order, stack = [], [path]
        while stack:
            current = stack.pop()
            order.append(current)
            if len(order) > MAX_NODES_TOUCHED:
                raise TreeError(
                    Code.LIMIT_EXCEEDED,
                    f"{path} has over {MAX_NODES_TOUCHED} nodes, more than one delete"
                    " may remove: delete its subtrees first, in steps",
                )
            stack.extend(paths.join(current, name) for name in sorted(self.nodes[current].children))
        return order[::-1]

    # ---------------------------------------------------- state mutations

    def touch_node(self, path: str) -> None:
        """Remember a node before it changes: for storage, and for rollback."""
        if self._undo_nodes is not None and path not in self._undo_nodes:
            old = self.nodes.get(path)
            self._undo_nodes[path] = old.copy() if old is not None else None
        self.dirty_nodes.add(path)

    def touch_session(self, session_id: int) -> None:
        if self._undo_sessions is not None and session_id not in self._undo_sessions:
            old = self.sessions.get(session_id)
            self._undo_sessions[session_id] = old.copy() if old is not None else None
        self.dirty_sessions.add(session_id)

    def add_node(self, path: str, node: Znode, zxid: int, events: list[Event]) -> None:
        parent_path, name = paths.parent(path), paths.basename(path)
        parent = self.nodes[parent_path]
        self.touch_node(parent_path)
        self.touch_node(path)
        self.nodes[path] = node
        self.quotas.charge(path, 1, len(node.data))
        parent.add_child(name)
        parent.cversion += 1
        parent.sequence += 1
        parent.pzxid = max(parent.pzxid, zxid)
        if node.ephemeral_owner:
            self.touch_session(node.ephemeral_owner)
            self.sessions[node.ephemeral_owner].ephemerals.add(path)
        events.append(Event(EventType.CREATED, path, node.acl))
        events.append(Event(EventType.CHILD, parent_path, parent.acl))

    def remove_node(self, path: str, zxid: int, events: list[Event]) -> None:
        node = self.nodes[path]
        parent_path = paths.parent(path)
        parent = self.nodes[parent_path]
        self.touch_node(parent_path)
        self.touch_node(path)
        del self.nodes[path]
        self.quotas.charge(path, -1, -len(node.data))
        parent.remove_child(paths.basename(path))
        parent.cversion += 1
        parent.pzxid = max(parent.pzxid, zxid)
        if node.ephemeral_owner and node.ephemeral_owner in self.sessions:
            self.touch_session(node.ephemeral_owner)
            self.sessions[node.ephemeral_owner].ephemerals.discard(path)
        events.append(Event(EventType.DELETED, path, node.acl))
        events.append(Event(EventType.CHILD, parent_path, parent.acl))

    # -------------------------------------------------------- transactions

    def begin_undo(self) -> None:
        """From now on keep a copy of each node and session before its first
        touch."""
        self._undo_nodes, self._undo_sessions = {}, {}

    def rollback(self) -> None:
        """Put back every node and session touched since ``begin_undo``."""
        for path, old in self._undo_nodes.items():
            if old is None:
                self.nodes.pop(path, None)
            else:
                self.nodes[path] = old
        for session_id, old in self._undo_sessions.items():
            if old is None:
                self.sessions.pop(session_id, None)
            else:
                self.sessions[session_id] = old

    def end_undo(self) -> None:
        self._undo_nodes = self._undo_sessions = None
