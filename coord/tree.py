"""The znode tree: a pure, deterministic state machine.

``Tree.apply(zxid, time_ms, command)`` is the only way state changes. It has
no I/O, no clock and no randomness: the leader stamps ``time_ms`` into the
log, and every member applying the same commands in the same order computes
the same tree, the same results (errors included) and the same sequential
names. Validation happens here, at apply time, so the leader needs no
bookkeeping of outstanding changes.

Besides the result, every apply reports the changes it made as watch events,
and the tree remembers which nodes and sessions it touched so that storage
can persist exactly those, together with the applied position.

This module holds the entry point (which op, which session, exactly-once
replies), the sessions' lifecycle, the reads and the hand-off to storage;
the state and its primitives are in tree_state.py, the ops in writes.py,
quota_ops.py and transactions.py.
"""

from __future__ import annotations

from coord.acl import Acl, AclTable
from coord.op_checks import Caller, checked_path
from coord.outcome import Applied, Code, Event, TreeError
from coord.quota_ops import quota_to_wire
from coord.quotas import Quotas
from coord.transactions import multi
from coord.tree_state import Session, TreeState
from coord.wire import log_pb2
from coord.writes import run_op
from coord.znode import Znode
from coord_api import paths
from coord_api.wire import client_pb2 as pb

REPLY_WINDOW = 1024  # writes a session may have in flight and still retry safely


def acl_to_wire(acl: Acl) -> list[pb.ACL]:
    return [
        pb.ACL(perms=perms, id=pb.Id(scheme=scheme, id=entry_id)) for perms, scheme, entry_id in acl
    ]


class Tree(TreeState):
    """The in-memory tree and the sessions that own ephemerals."""

    # ------------------------------------------------------------- queries

    def get_data(self, path: str) -> pb.GetDataResponse:
        node = self.node(checked_path(path))
        return pb.GetDataResponse(data=node.data, stat=node.stat(), zxid=self.zxid)

    def exists(self, path: str) -> pb.ExistsResponse:
        node = self.nodes.get(checked_path(path))
        if node is None:
            return pb.ExistsResponse(zxid=self.zxid)
        return pb.ExistsResponse(stat=node.stat(), zxid=self.zxid)

    def get_children(self, path: str) -> pb.GetChildrenResponse:
        node = self.node(checked_path(path))
        return pb.GetChildrenResponse(
            children=sorted(node.children), stat=node.stat(), zxid=self.zxid
        )

    def get_acl(self, path: str) -> pb.GetAclResponse:
        node = self.node(checked_path(path))
        return pb.GetAclResponse(acl=acl_to_wire(node.acl), stat=node.stat(), zxid=self.zxid)

    def get_quota(self, path: str) -> pb.GetQuotaResponse:
        quota = self.quotas.roots.get(checked_path(path))
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
                return Applied(multi(self, zxid, time_ms, command, caller, events), events)
            op = getattr(command, kind)
            result = run_op(self, kind, op, zxid, time_ms, command.session_id, caller, events)
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
        self.touch_session(session.session_id)
        session.last_xid = xid
        session.replies[xid] = applied.result
        self.dirty_replies.add((session.session_id, xid))
        if len(session.replies) > REPLY_WINDOW:
            oldest = next(iter(session.replies))
            del session.replies[oldest]
            self.dirty_replies.add((session.session_id, oldest))
        return applied

    # ----------------------------------------------------------- sessions

    def _open_session(self, zxid: int, op: log_pb2.OpenSession) -> pb.OpenSessionResponse:
        """The session id is the zxid that opened it: unique, and the same on
        every member."""
        if op.timeout_ms <= 0:
            raise TreeError(Code.BAD_ARGUMENTS, f"session timeout {op.timeout_ms} ms")
        self.touch_session(zxid)
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
            self.remove_node(path, self.zxid, events)
        self.touch_session(session_id)
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
