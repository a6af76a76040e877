"""Liveness: whether each session is still alive, and where its events go.

Heartbeats are not replicated: every member keeps a clock per session and
restarts it whenever it hears from the session. Only the leader's clocks
expire sessions, so a follower relays what it heard to the leader, in
batches. The leader expires a silent session through the log (so every
member ends it at the same point), and only once a quorum round has shown
it still leads. A session attached here has a stream: its watch events go
there, and its end (closed or expired) ends that stream.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from coord.clock import Clock
from coord.local_sessions import LocalSession, Send, SessionTracker
from coord.member.intake import Intake
from coord.member.reads import Reads
from coord.outcome import Applied
from coord.paxos import Role
from coord.tree import Tree
from coord.watches import WatchRegistry
from coord.wire import log_pb2
from coord_api.wire import client_pb2 as pb

if TYPE_CHECKING:
    from coord.member.log import ReplicatedLog

log = logging.getLogger(__name__)


class Liveness:
    def __init__(
        self,
        log: ReplicatedLog,
        tree: Tree,
        watches: WatchRegistry,
        clock: Clock,
        reads: Reads,
        intake: Intake,
        request_timeout: float,
    ) -> None:
        self._log = log
        self._tree = tree
        self._watches = watches
        self._reads = reads
        self._intake = intake
        self._request_timeout = request_timeout
        self._tracker = SessionTracker(clock=clock.now)
        self._local: dict[int, LocalSession] = {}  # sessions attached to a stream here
        self._touched: set[int] = set()  # heard here, not yet told to the leader

    # ------------------------------------------------------ session streams

    def attach(self, session_id: int, timeout_ms: int, send: Send, end: Send) -> LocalSession:
        """Route a session's events to a stream on this member; `end` ends
        that stream with a last message (the session ended)."""
        local = self._local.get(session_id)
        if local is None:
            local = self._local[session_id] = LocalSession(session_id, timeout_ms)
        local.send, local.end = send, end
        self.touch(session_id)
        return local

    def detach(self, local: LocalSession, send: Send) -> None:
        """The stream `send` belongs to ended (unless a newer one took over)."""
        if local.send is send:
            local.send = local.end = None

    def touch(self, session_id: int) -> None:
        """We heard from a session. Only the leader's clock expires sessions,
        so a follower passes what it heard on, in batches."""
        self._tracker.touch(session_id)
        if not self._log.is_leader:
            self._touched.add(session_id)

    def sessions_touched(self, session_ids: list[int]) -> None:
        """A follower heard from these sessions."""
        for session_id in session_ids:
            self._tracker.touch(session_id)

    # --------------------------------------------------------------- clocks

    def restart_clocks(self) -> None:
        """Give every session in the tree a fresh timeout: at a new leader
        (it cannot know when the old one last heard from them) and after a
        snapshot replaced the tree."""
        for session in self._tree.sessions.values():
            self._tracker.track(session.session_id, session.timeout_ms)

    def role_changed(self, role: Role) -> None:
        """A new leader gives every session a fresh timeout before expiring any."""
        if role is Role.LEADER:
            self.restart_clocks()

    def session_applied(self, command: log_pb2.Command, applied: Applied) -> None:
        """`command` was just applied: start the clock of a session it
        opened, stop the clock of one it ended (and end its stream here)."""
        kind = command.WhichOneof("op")
        if kind == "open_session" and applied.ok:
            self._tracker.track(applied.result.session_id, applied.result.timeout_ms)
        elif kind in ("close_session", "expire_session"):
            self._tracker.forget(command.session_id)
            if applied.ok:
                self._end_local_session(command.session_id, expired=kind == "expire_session")

    def _end_local_session(self, session_id: int, expired: bool) -> None:
        local = self._local.pop(session_id, None)
        if local is None:
            return
        self._watches.remove_watcher(local)
        if expired and local.end is not None:
            message = f"session 0x{session_id:x} has expired"
            local.end(
                pb.ServerMessage(session_error=pb.Error(code=pb.SESSION_EXPIRED, message=message))
            )

    def tick(self) -> None:
        """Relay what we heard to the leader; as the leader, expire the
        sessions silent past their timeout."""
        if self._touched and self._log.touch_at_leader(sorted(self._touched)):
            self._touched.clear()
        if not self._log.is_leader:
            return
        for session_id in self._tracker.due():
            log.info("expiring session 0x%x: silent past its timeout", session_id)
            asyncio.create_task(self._expire(session_id))

    async def _expire(self, session_id: int) -> None:
        """Expire a silent session, but only as a confirmed leader: a quorum
        round first proves no newer leader (which gives every session a
        fresh timeout) has taken over, and the session must still be silent
        after it. A deposed leader's clock expires nobody."""
        confirmed = await self._reads.sync(self._request_timeout) is None
        if not (confirmed and self._log.is_leader and self._tracker.silent(session_id)):
            self._tracker.retry_expiry(session_id)
            return
        command = log_pb2.Command(session_id=session_id, expire_session=log_pb2.ExpireSession())
        applied = await self._intake.submit(command)
        if not applied.ok and session_id in self._tree.sessions:
            self._tracker.retry_expiry(session_id)
