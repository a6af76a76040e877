"""The znode tree: a pure, deterministic state machine (SPEC §4).

``Tree.apply(zxid, time_ms, command)`` is the only way state changes. It has
no I/O, no clock and no randomness: the leader stamps ``time_ms`` into the
log, and every member applying the same commands in the same order computes
the same tree, the same results (errors included) and the same sequential
names. Validation happens here, at apply time, so the leader needs no
bookkeeping of outstanding changes.

Besides the result, every apply reports the changes it made as watch events,
and the tree remembers which nodes and sessions it touched so that storage
can persist exactly those, together with the applied position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from coord import acl as acls
from coord.acl import OPEN_ACL, Acl, AclTable, Ids, InvalidAcl
from coord.quotas import NO_LIMIT, Quota, Quotas, limits_error, limits_path
from coord.quotas import ROOT as QUOTA_ROOT
from coord.wire import log_pb2
from coord_api import paths
from coord_api.wire import client_pb2 as pb

Code = pb.ErrorCode
DEFAULT_MAX_DATA_BYTES = 1 << 20
# The most nodes one create may make (with its parents) or one recursive
# delete may remove (ZooKeeper's deleteall deletes in batches of this size).
# A constant, not a flag: only the tree sees the subtree, and every member
# must refuse the same commands. The door's --max-path-depth keeps creates
# well under it; this holds whatever the flags of the member that took one.
MAX_NODES_TOUCHED = 1000
REPLY_WINDOW = 1024  # writes a session may have in flight and still retry safely


class EventType(IntEnum):
    CREATED = pb.CREATED
    DELETED = pb.DELETED
    CHANGED = pb.CHANGED
    CHILD = pb.CHILD


_NODE_EVENTS = (EventType.CREATED, EventType.DELETED)  # one per node made or removed


@dataclass(frozen=True, slots=True)
class Event:
    """A change one apply made, as a watch sees it, with the ACL the node it
    names had then: only a watcher that may READ the node hears it."""

    type: EventType
    path: str
    acl: Acl = OPEN_ACL


class TreeError(Exception):
    """A request the tree refuses; it carries the wire error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_wire(self) -> pb.Error:
        return pb.Error(code=self.code, message=self.message)


NO_CHILDREN: frozenset[str] = frozenset()


@dataclass(slots=True)
class Znode:
    data: bytes
    czxid: int
    mzxid: int
    pzxid: int
    ctime: int
    mtime: int
    version: int = 0
    cversion: int = 0
    aversion: int = 0
    ephemeral_owner: int = 0
    # Children ever created under this node: the next sequential suffix.
    # ZooKeeper 3.8 numbers by creations, so this parts ways with cversion
    # (creations and deletions) after the first delete.
    sequence: int = 0
    # Most znodes are leaves: they share one empty frozenset (an empty set
    # would cost 216 bytes each) until their first child.
    children: set[str] | frozenset[str] = NO_CHILDREN
    acl: Acl = OPEN_ACL  # shared with every node of the same ACL (Tree.acls)

    def add_child(self, name: str) -> None:
        if self.children:
            self.children.add(name)
        else:
            self.children = {name}

    def remove_child(self, name: str) -> None:
        if self.children:
            self.children.discard(name)

    def stat(self) -> pb.Stat:
        return pb.Stat(
            czxid=self.czxid,
            mzxid=self.mzxid,
            pzxid=self.pzxid,
            ctime=self.ctime,
            mtime=self.mtime,
            version=self.version,
            cversion=self.cversion,
            aversion=self.aversion,
            ephemeral_owner=self.ephemeral_owner,
            data_length=len(self.data),
            num_children=len(self.children),
        )

    def copy(self) -> Znode:
        return Znode(
            self.data, self.czxid, self.mzxid, self.pzxid, self.ctime, self.mtime,
            self.version, self.cversion, self.aversion, self.ephemeral_owner,
            self.sequence, set(self.children) if self.children else NO_CHILDREN, self.acl,
        )  # fmt: skip


@dataclass(slots=True)
class Session:
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


@dataclass(slots=True)
class Applied:
    """What one command did: its wire result (or error) and its events."""

    result: object  # a pb response message, or pb.Error
    events: list[Event]

    @property
    def ok(self) -> bool:
        return not isinstance(self.result, pb.Error)


def _check_version(node: Znode, version: int, path: str) -> None:
    if version != -1 and version != node.version:
        raise TreeError(
            Code.BAD_VERSION, f"version {version} does not match {node.version} at {path}"
        )


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


def _require(node: Znode, perm: int, caller: Caller, path: str) -> None:
    """Refuse (NO_AUTH) unless the node's ACL grants `perm` to the caller."""
    if node.acl is not OPEN_ACL and not acls.permits(node.acl, perm, caller.ids()):
        raise TreeError(Code.NO_AUTH, f"no {_PERM_NAMES[perm]} permission on {path}")


def _requested_version(request) -> int:
    return request.version if request.HasField("version") else -1


def _checked_path(path: str) -> str:
    error = paths.path_error(path)
    if error:
        raise TreeError(Code.BAD_ARGUMENTS, error)
    return path


def _writable_path(path: str) -> str:
    _checked_path(path)
    if paths.is_reserved(path):
        raise TreeError(Code.BAD_ARGUMENTS, f"{path} is reserved for the service")
    return path


def quota_to_wire(path: str, quota: Quota) -> pb.Quota:
    limits = {name: getattr(quota, name) for name in ("count", "bytes")}
    return pb.Quota(
        path=path,
        used_count=quota.used_count,
        used_bytes=quota.used_bytes,
        **{name: limit for name, limit in limits.items() if limit != NO_LIMIT},
    )


def acl_to_wire(acl: Acl) -> list[pb.ACL]:
    return [
        pb.ACL(perms=perms, id=pb.Id(scheme=scheme, id=entry_id)) for perms, scheme, entry_id in acl
    ]


class Tree:
    """The in-memory tree and the sessions that own ephemerals."""

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

    # ------------------------------------------------------------- queries

    def node(self, path: str) -> Znode:
        node = self.nodes.get(path)
        if node is None:
            raise TreeError(Code.NO_NODE, f"no node {path}")
        return node

    def get_data(self, path: str) -> pb.GetDataResponse:
        node = self.node(_checked_path(path))
        return pb.GetDataResponse(data=node.data, stat=node.stat(), zxid=self.zxid)

    def exists(self, path: str) -> pb.ExistsResponse:
        node = self.nodes.get(_checked_path(path))
        if node is None:
            return pb.ExistsResponse(zxid=self.zxid)
        return pb.ExistsResponse(stat=node.stat(), zxid=self.zxid)

    def get_children(self, path: str) -> pb.GetChildrenResponse:
        node = self.node(_checked_path(path))
        return pb.GetChildrenResponse(
            children=sorted(node.children), stat=node.stat(), zxid=self.zxid
        )

    def get_acl(self, path: str) -> pb.GetAclResponse:
        node = self.node(_checked_path(path))
        return pb.GetAclResponse(acl=acl_to_wire(node.acl), stat=node.stat(), zxid=self.zxid)

    def get_quota(self, path: str) -> pb.GetQuotaResponse:
        quota = self.quotas.roots.get(_checked_path(path))
        if quota is None:
            raise TreeError(Code.NO_NODE, f"no quota on {path}")
        return pb.GetQuotaResponse(quota=quota_to_wire(path, quota), zxid=self.zxid)

    # --------------------------------------------------------------- apply

    def apply(self, zxid: int, time_ms: int, command: log_pb2.Command) -> Applied:
        """Apply one command as change `zxid`. Never raises for bad requests:
        the refusal is the result, and a refused command changes nothing."""
        if zxid <= self.zxid:
            raise ValueError(f"zxid {zxid} is not after the applied zxid {self.zxid}")
        self.zxid = zxid
        events: list[Event] = []
        kind = command.WhichOneof("op")
        try:
            if kind == "open_session":
                return Applied(self._open_session(zxid, command.open_session), events)
            if kind is None:
                raise TreeError(Code.BAD_ARGUMENTS, "command has no operation")
            session = self.sessions.get(command.session_id) if command.session_id else None
            if command.session_id and session is None:
                raise TreeError(
                    Code.SESSION_EXPIRED, f"session 0x{command.session_id:x} has expired"
                )
            if kind in ("close_session", "expire_session"):
                self._end_session(command.session_id, events)
                return Applied(pb.CloseSessionResponse(zxid=zxid), events)
            caller = Caller(command)
            if session is not None and command.xid > 0:
                return self._once(session, command, zxid, time_ms, kind, caller)
            return self._run(command, zxid, time_ms, kind, caller)
        except TreeError as err:
            return Applied(err.to_wire(), [])

    def _run(
        self, command: log_pb2.Command, zxid: int, time_ms: int, kind: str, caller: Caller
    ) -> Applied:
        events: list[Event] = []
        try:
            if kind == "multi":
                return Applied(self._multi(zxid, time_ms, command, caller, events), events)
            op = getattr(command, kind)
            result = self._op(kind, op, zxid, time_ms, command.session_id, caller, events)
            return Applied(result, events)
        except TreeError as err:
            return Applied(err.to_wire(), [])

    def _once(
        self,
        session: Session,
        command: log_pb2.Command,
        zxid: int,
        time_ms: int,
        kind: str,
        caller: Caller,
    ) -> Applied:
        """Apply a session's write unless it was applied before; either way
        the result is its first reply."""
        xid = command.xid
        if xid <= session.last_xid:
            reply = session.replies.get(xid)
            if reply is None:
                raise TreeError(
                    Code.RUNTIME_INCONSISTENCY,
                    f"xid {xid} of session 0x{session.session_id:x} was applied long ago",
                )
            return Applied(reply, [])
        if command.prev_xid and command.prev_xid != session.last_xid:
            raise TreeError(
                Code.CONNECTION_LOSS,
                f"write {xid} of session 0x{session.session_id:x} came before the write it "
                f"follows ({command.prev_xid}); it was not applied",
            )
        applied = self._run(command, zxid, time_ms, kind, caller)
        # A failed multi rolls sessions back to copies: use the live record.
        session = self.sessions[session.session_id]
        self._touch_session(session.session_id)
        session.last_xid = xid
        session.replies[xid] = applied.result
        self.dirty_replies.add((session.session_id, xid))
        if len(session.replies) > REPLY_WINDOW:
            oldest = next(iter(session.replies))
            del session.replies[oldest]
            self.dirty_replies.add((session.session_id, oldest))
        return applied

    def _op(
        self,
        kind: str,
        op,
        zxid: int,
        time_ms: int,
        session_id: int,
        caller: Caller,
        events: list[Event],
    ):
        if kind == "create":
            return self._create(op, zxid, time_ms, session_id, caller, events)
        if kind == "delete":
            return self._delete(op, zxid, caller, events)
        if kind == "set_data":
            return self._set_data(op, zxid, time_ms, caller, events)
        if kind == "check":
            node = self.node(_checked_path(op.path))
            _require(node, acls.READ, caller, op.path)
            _check_version(node, op.version, op.path)
            return pb.CheckResponse()
        if kind == "set_acl":
            return self._set_acl(op, zxid, caller)
        if kind == "set_quota":
            return self._set_quota(op, zxid, time_ms, caller, events)
        if kind == "delete_quota":
            return self._delete_quota(op, zxid, caller, events)
        raise TreeError(Code.UNIMPLEMENTED, f"unknown operation {kind}")

    # ---------------------------------------------------- state mutations

    def _touch_node(self, path: str) -> None:
        """Remember a node before it changes: for storage, and for rollback."""
        if self._undo_nodes is not None and path not in self._undo_nodes:
            old = self.nodes.get(path)
            self._undo_nodes[path] = old.copy() if old is not None else None
        self.dirty_nodes.add(path)

    def _touch_session(self, session_id: int) -> None:
        if self._undo_sessions is not None and session_id not in self._undo_sessions:
            old = self.sessions.get(session_id)
            self._undo_sessions[session_id] = old.copy() if old is not None else None
        self.dirty_sessions.add(session_id)

    def _add_node(self, path: str, node: Znode, zxid: int, events: list[Event]) -> None:
        parent_path, name = paths.parent(path), paths.basename(path)
        parent = self.nodes[parent_path]
        self._touch_node(parent_path)
        self._touch_node(path)
        self.nodes[path] = node
        self.quotas.charge(path, 1, len(node.data))
        parent.add_child(name)
        parent.cversion += 1
        parent.sequence += 1
        parent.pzxid = max(parent.pzxid, zxid)
        if node.ephemeral_owner:
            self._touch_session(node.ephemeral_owner)
            self.sessions[node.ephemeral_owner].ephemerals.add(path)
        events.append(Event(EventType.CREATED, path, node.acl))
        events.append(Event(EventType.CHILD, parent_path, parent.acl))

    def _remove_node(self, path: str, zxid: int, events: list[Event]) -> None:
        node = self.nodes[path]
        parent_path = paths.parent(path)
        parent = self.nodes[parent_path]
        self._touch_node(parent_path)
        self._touch_node(path)
        del self.nodes[path]
        self.quotas.charge(path, -1, -len(node.data))
        parent.remove_child(paths.basename(path))
        parent.cversion += 1
        parent.pzxid = max(parent.pzxid, zxid)
        if node.ephemeral_owner and node.ephemeral_owner in self.sessions:
            self._touch_session(node.ephemeral_owner)
            self.sessions[node.ephemeral_owner].ephemerals.discard(path)
        events.append(Event(EventType.DELETED, path, node.acl))
        events.append(Event(EventType.CHILD, parent_path, parent.acl))

    # ------------------------------------------------------------ the ops

    def _create(
        self,
        op: pb.CreateRequest,
        zxid: int,
        time_ms: int,
        session_id: int,
        caller: Caller,
        events: list[Event],
    ) -> pb.CreateResponse:
        """ZooKeeper's order: the ACL's validity, the parent's existence,
        CREATE on the parent, then the rest."""
        path = _writable_path(op.path)
        if path == "/":
            raise TreeError(Code.NODE_EXISTS, "node / exists")
        if len(op.data) > self.max_data_bytes:
            raise TreeError(
                Code.DATA_TOO_LARGE,
                f"data of {len(op.data)} bytes is over the limit of {self.max_data_bytes}",
            )
        if op.ephemeral and not session_id:
            raise TreeError(Code.BAD_ARGUMENTS, "an ephemeral node needs a session")
        acl = self._new_acl(op.acl, caller, path, empty_is_open=True)
        parent_path = paths.parent(path)
        missing = self._missing_ancestors(parent_path) if op.make_parents else []
        if len(missing) + 1 > MAX_NODES_TOUCHED:
            raise TreeError(
                Code.LIMIT_EXCEEDED,
                f"creating {path} would make {len(missing) + 1} nodes, over the"
                f" {MAX_NODES_TOUCHED} one create may make: create its parents in steps",
            )
        parent = self.nodes.get(parent_path)
        if parent is None and not missing:
            raise TreeError(Code.NO_NODE, f"no node {parent_path}")
        # Made parents are created as if one by one: CREATE on the node that
        # exists, then on each made parent, which gets the new node's ACL.
        top_path = paths.parent(missing[0]) if missing else parent_path
        top = self.nodes[top_path]
        _require(top, acls.CREATE, caller, top_path)
        if missing and not acls.permits(acl, acls.CREATE, caller.ids()):
            raise TreeError(Code.NO_AUTH, f"no CREATE permission on {missing[-1]} once made")
        if top.ephemeral_owner:
            raise TreeError(
                Code.NO_CHILDREN_FOR_EPHEMERALS, f"{top_path} is ephemeral: it has no children"
            )
        if op.sequential:
            sequence = parent.sequence if parent is not None else 0
            path = paths.sequence_name(path, sequence)
        if path in self.nodes:
            raise TreeError(Code.NODE_EXISTS, f"node {path} exists")
        if self.quotas.roots:
            self._check_quota([*((made, 1, 0) for made in missing), (path, 1, len(op.data))])
        # Validated: from here on nothing fails, so a lone create needs no undo.
        for ancestor in missing:
            made = Znode(b"", zxid, zxid, zxid, time_ms, time_ms, acl=acl)
            self._add_node(ancestor, made, zxid, events)
        owner = session_id if op.ephemeral else 0
        node = Znode(op.data, zxid, zxid, zxid, time_ms, time_ms, ephemeral_owner=owner, acl=acl)
        self._add_node(path, node, zxid, events)
        return pb.CreateResponse(path=path, stat=node.stat(), zxid=zxid)

    def _missing_ancestors(self, path: str) -> list[str]:
        """Ancestors of a create that do not exist yet, outermost first."""
        missing = []
        while path not in self.nodes:
            missing.append(path)
            path = paths.parent(path)
        return missing[::-1]

    def _new_acl(self, wire, caller: Caller, path: str, empty_is_open: bool) -> Acl:
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
        self.acls.prune(node.acl for node in self.nodes.values())
        return self.acls.intern(fixed)

    def _delete(
        self, op: pb.DeleteRequest, zxid: int, caller: Caller, events: list[Event]
    ) -> pb.DeleteResponse:
        """ZooKeeper's order: DELETE on the parent comes before the node's
        existence; a recursive delete needs DELETE on every node it empties."""
        path = _writable_path(op.path)
        if path == "/":
            raise TreeError(Code.BAD_ARGUMENTS, "the root cannot be deleted")
        parent_path = paths.parent(path)
        parent = self.nodes.get(parent_path)
        if parent is None:
            raise TreeError(Code.NO_NODE, f"no node {path}")
        _require(parent, acls.DELETE, caller, parent_path)
        node = self.node(path)
        _check_version(node, _requested_version(op), path)
        if node.children and not op.recursive:
            raise TreeError(Code.NOT_EMPTY, f"node {path} has children")
        victims = self._subtree_leaves_first(path)
        for victim in victims:
            if self.nodes[victim].children:
                _require(self.nodes[victim], acls.DELETE, caller, victim)
        for victim in victims:
            self._remove_node(victim, zxid, events)
        return pb.DeleteResponse(zxid=zxid)

    def _subtree_leaves_first(self, path: str) -> list[str]:
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

    def _set_data(
        self,
        op: pb.SetDataRequest,
        zxid: int,
        time_ms: int,
        caller: Caller,
        events: list[Event],
    ) -> pb.SetDataResponse:
        path = _writable_path(op.path)
        node = self.node(path)
        _require(node, acls.WRITE, caller, path)
        _check_version(node, _requested_version(op), path)
        if len(op.data) > self.max_data_bytes:
            raise TreeError(
                Code.DATA_TOO_LARGE,
                f"data of {len(op.data)} bytes is over the limit of {self.max_data_bytes}",
            )
        if self.quotas.roots:
            growth = len(op.data) - len(node.data)
            self._check_quota([(path, 0, growth)])
            self.quotas.charge(path, 0, growth)
        self._touch_node(path)
        node.data = op.data
        node.version += 1
        node.mzxid = zxid
        node.mtime = time_ms
        events.append(Event(EventType.CHANGED, path, node.acl))
        return pb.SetDataResponse(stat=node.stat(), zxid=zxid)

    def _set_acl(self, op: pb.SetAclRequest, zxid: int, caller: Caller) -> pb.SetAclResponse:
        """ZooKeeper's order: the new ACL's validity, the node's existence,
        ADMIN on it, then its aversion. No watch fires (as ZooKeeper)."""
        path = _writable_path(op.path)
        acl = self._new_acl(op.acl, caller, path, empty_is_open=False)
        node = self.node(path)
        _require(node, acls.ADMIN, caller, path)
        version = _requested_version(op)
        if version != -1 and version != node.aversion:
            raise TreeError(
                Code.BAD_VERSION, f"aversion {version} does not match {node.aversion} at {path}"
            )
        self._touch_node(path)
        node.acl = acl
        node.aversion += 1
        return pb.SetAclResponse(stat=node.stat(), zxid=zxid)

    # ------------------------------------------------------------- quotas

    def _check_quota(self, changes: list[tuple[str, int, int]]) -> None:
        """Refuse what would take a quota past a limit (callers skip the
        call while there is no quota: most trees have none)."""
        refusal = self.quotas.refusal(changes)
        if refusal is not None:
            raise TreeError(Code.QUOTA_EXCEEDED, refusal)

    def _quota_admin(self, path: str, caller: Caller) -> None:
        """Quotas need ADMIN on their root's node, or while it is gone (a
        quota outlives its node, as ZooKeeper's) on its nearest ancestor."""
        while path not in self.nodes:
            path = paths.parent(path)
        _require(self.nodes[path], acls.ADMIN, caller, path)

    def _set_quota(
        self,
        op: pb.SetQuotaRequest,
        zxid: int,
        time_ms: int,
        caller: Caller,
        events: list[Event],
    ) -> pb.SetQuotaResponse:
        """ZooKeeper's setquota rules: the node exists, no quota above or
        below it; limits not given keep their value. A quota set below the
        usage now is taken: the next write that grows the usage fails."""
        path = _writable_path(op.path)
        error = limits_error(op)
        if error is not None:
            raise TreeError(Code.BAD_ARGUMENTS, error)
        self.node(path)
        self._quota_admin(path, caller)
        other = self.quotas.nested(path)
        if other is not None:
            raise TreeError(Code.BAD_ARGUMENTS, f"quotas do not nest: {other} has one")
        quota = self.quotas.roots.get(path)
        if quota is None:
            subtree = self._subtree_leaves_first(path)
            quota = Quota(
                used_count=len(subtree),
                used_bytes=sum(len(self.nodes[member].data) for member in subtree),
            )
        if op.HasField("count"):
            quota.count = op.count
        if op.HasField("bytes"):
            quota.bytes = op.bytes
        self._write_limits(limits_path(path), quota.encode(), zxid, time_ms, events)
        self.quotas.roots[path] = quota
        return pb.SetQuotaResponse(quota=quota_to_wire(path, quota), zxid=zxid)

    def _write_limits(
        self, path: str, data: bytes, zxid: int, time_ms: int, events: list[Event]
    ) -> None:
        """Create or rewrite a limits znode, with the parents it lacks."""
        node = self.nodes.get(path)
        if node is None:
            for ancestor in self._missing_ancestors(paths.parent(path)):
                made = Znode(b"", zxid, zxid, zxid, time_ms, time_ms)
                self._add_node(ancestor, made, zxid, events)
            node = Znode(data, zxid, zxid, zxid, time_ms, time_ms)
            self._add_node(path, node, zxid, events)
            return
        self._touch_node(path)
        node.data, node.version, node.mzxid, node.mtime = data, node.version + 1, zxid, time_ms
        events.append(Event(EventType.CHANGED, path, node.acl))

    def _delete_quota(
        self, op: pb.DeleteQuotaRequest, zxid: int, caller: Caller, events: list[Event]
    ) -> pb.DeleteQuotaResponse:
        """Remove the limits znode and the parents it leaves empty."""
        path = _writable_path(op.path)
        if path not in self.quotas.roots:
            raise TreeError(Code.NO_NODE, f"no quota on {path}")
        self._quota_admin(path, caller)
        del self.quotas.roots[path]
        gone = limits_path(path)
        while gone != QUOTA_ROOT and not self.nodes[gone].children:
            self._remove_node(gone, zxid, events)
            gone = paths.parent(gone)
        return pb.DeleteQuotaResponse(zxid=zxid)

    def _multi(
        self,
        zxid: int,
        time_ms: int,
        command: log_pb2.Command,
        caller: Caller,
        events: list[Event],
    ) -> pb.MultiResponse:
        """All or nothing: on the first failure undo what the earlier ops did."""
        ops = command.multi.ops
        self._undo_nodes, self._undo_sessions = {}, {}
        usage = self.quotas.usage()
        results: list[pb.OpResult] = []
        nodes_touched = 0  # made or removed: the whole transaction shares one cap
        try:
            for index, op in enumerate(ops):
                kind = op.WhichOneof("op")
                try:
                    if kind is None:
                        raise TreeError(Code.BAD_ARGUMENTS, f"op {index} has no operation")
                    before = len(events)
                    response = self._op(
                        kind, getattr(op, kind), zxid, time_ms, command.session_id, caller, events
                    )
                    nodes_touched += sum(e.type in _NODE_EVENTS for e in events[before:])
                    if nodes_touched > MAX_NODES_TOUCHED:
                        raise TreeError(
                            Code.LIMIT_EXCEEDED,
                            f"the transaction makes or removes over {MAX_NODES_TOUCHED} nodes,"
                            " more than one request may: split it",
                        )
                except TreeError as err:
                    self._rollback()
                    self.quotas.restore(usage)
                    events.clear()
                    return pb.MultiResponse(results=self._failed_results(index, err, len(ops)))
                results.append(pb.OpResult(**{kind: response}))
            return pb.MultiResponse(results=results, zxid=zxid)
        finally:
            self._undo_nodes = self._undo_sessions = None

    @staticmethod
    def _failed_results(failed: int, err: TreeError, count: int) -> list[pb.OpResult]:
        rolled_back = pb.Error(code=Code.ROLLED_BACK, message="rolled back")
        later = pb.Error(code=Code.RUNTIME_INCONSISTENCY, message="not attempted")
        errors = [rolled_back] * failed + [err.to_wire()] + [later] * (count - failed - 1)
        return [pb.OpResult(error=error) for error in errors]

    def _rollback(self) -> None:
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

    # ----------------------------------------------------------- sessions

    def _open_session(self, zxid: int, op: log_pb2.OpenSession) -> pb.OpenSessionResponse:
        """The session id is the zxid that opened it: unique, and the same on
        every member."""
        if op.timeout_ms <= 0:
            raise TreeError(Code.BAD_ARGUMENTS, f"session timeout {op.timeout_ms} ms")
        self._touch_session(zxid)
        self.sessions[zxid] = Session(zxid, op.timeout_ms, op.password)
        return pb.OpenSessionResponse(
            session_id=zxid, password=op.password, timeout_ms=op.timeout_ms, zxid=zxid
        )

    def _end_session(self, session_id: int, events: list[Event]) -> None:
        """Close or expire: the session's ephemerals go in the same change."""
        if not session_id:
            raise TreeError(Code.BAD_ARGUMENTS, "no session to end")
        session = self.sessions[session_id]
        for path in sorted(session.ephemerals):
            self._remove_node(path, self.zxid, events)
        self._touch_session(session_id)
        del self.sessions[session_id]

    # ------------------------------------------------------------ storage

    def take_dirty(self) -> tuple[set[str], set[int], set[tuple[int, int]]]:
        """Hand storage what changed since the last call."""
        dirty = self.dirty_nodes, self.dirty_sessions, self.dirty_replies
        self.dirty_nodes, self.dirty_sessions, self.dirty_replies = set(), set(), set()
        return dirty

    def load(self, nodes: dict[str, Znode], sessions: dict[int, Session], zxid: int) -> None:
        """Rebuild from storage: children sets and ephemeral sets are derived,
        equal ACLs shared."""
        self.nodes = nodes
        self.acls = AclTable()
        for node in nodes.values():
            node.acl = self.acls.intern(node.acl)
        self.nodes.setdefault("/", Znode(b"", 0, 0, 0, 0, 0))
        self.sessions = sessions
        self.zxid = zxid
        for path in sorted(nodes):
            if path != "/":
                nodes[paths.parent(path)].add_child(paths.basename(path))
        for path, node in nodes.items():
            if node.ephemeral_owner in sessions:
                sessions[node.ephemeral_owner].ephemerals.add(path)
        self.quotas = Quotas.from_znodes(nodes)
        self.dirty_nodes, self.dirty_sessions, self.dirty_replies = set(), set(), set()
