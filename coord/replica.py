"""The replica: the one path every write takes, and the apply loop.

A write becomes a command, commands queued in one turn of the event loop
become one batch stamped with the leader's clock, the batch is proposed to
the log, and what the log reports chosen is applied in slot order: the tree
computes the result, the watch registry fans the events out to the sessions'
streams, then the waiting request gets its result. The applied state and
position go to storage after each batch.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from dataclasses import dataclass

from coord.paxos import Config, Role
from coord.replication import PaxosLog
from coord.sessions import LocalSession, SessionTracker
from coord.storage import Storage
from coord.tree import Applied, Tree
from coord.watches import WatchRegistry
from coord.wire import log_pb2
from coord_client.wire import client_pb2 as pb

log = logging.getLogger(__name__)

MAX_BATCH_COMMANDS = 1024
EXPIRY_TICK_S = 0.1


@dataclass(frozen=True)
class Limits:
    min_session_timeout_ms: int = 2000
    max_session_timeout_ms: int = 60000
    max_data_bytes: int = 1 << 20

    def negotiate(self, asked_ms: int) -> int:
        return max(self.min_session_timeout_ms, min(self.max_session_timeout_ms, asked_ms))


class Replica:
    def __init__(
        self,
        storage: Storage,
        limits: Limits,
        member_id: int = 1,
        members: dict[int, str] | None = None,
        paxos: Config | None = None,
        log_retention: int = 10_000,
    ) -> None:
        self.storage = storage
        self.limits = limits
        self.member_id = member_id
        self.members = members or {member_id: ""}
        self._paxos_config = paxos
        self._log_retention = log_retention
        self.tree = Tree(limits.max_data_bytes)
        self.applied_slot = storage.load(self.tree)
        self.watches = WatchRegistry()
        self.tracker = SessionTracker()
        self.local: dict[int, LocalSession] = {}
        self._waiters: dict[int, asyncio.Future[Applied]] = {}
        # Unique across restarts, so a command proposed before a crash and
        # chosen after it cannot resolve a new request's waiter.
        self._request_ids = itertools.count(time.time_ns())
        self._pending: list[log_pb2.Command] = []
        self._zxid_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._zxid_waiter_ids = itertools.count()
        self._expiry_task: asyncio.Task | None = None
        self._touched: set[int] = set()  # heard here, not yet told to the leader
        self._applied_slot_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self.log: PaxosLog | None = None

    async def start(self) -> None:
        """Join the log (which re-delivers what is chosen past the applied
        position), then start the session clocks."""
        self.log = PaxosLog(
            self.storage, self.member_id, self.members, self.applied_slot,
            self._on_chosen, self._on_state_installed, self._paxos_config,
            self._log_retention,
        )  # fmt: skip
        self.log.on_touch = self._on_touch
        self.log.role_listeners.append(self._on_role)
        self.log.start()
        self._expiry_task = asyncio.create_task(self._session_clock())

    async def stop(self) -> None:
        if self._expiry_task is not None:
            self._expiry_task.cancel()
        if self.log is not None:
            await self.log.stop()
        self._fail_waiters("member stopping")

    # -------------------------------------------------------------- writes

    def submit(self, command: log_pb2.Command) -> asyncio.Future[Applied]:
        """Propose a command; the future resolves once it has been applied."""
        request_id = next(self._request_ids)
        command.origin_member = self.member_id
        command.origin_request = request_id
        future = asyncio.get_running_loop().create_future()
        self._waiters[request_id] = future
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(command)
        return future

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        time_ms = int(time.time() * 1000)
        for start in range(0, len(pending), MAX_BATCH_COMMANDS):
            batch = log_pb2.Batch(
                time_ms=time_ms, commands=pending[start : start + MAX_BATCH_COMMANDS]
            )
            self.log.propose(batch.SerializeToString())

    # ---------------------------------------------------------- apply loop

    def _on_chosen(self, slot: int, value: bytes) -> None:
        batch = log_pb2.Batch.FromString(value)
        tree = self.tree
        for command in batch.commands:
            zxid = tree.zxid + 1
            applied = tree.apply(zxid, batch.time_ms, command)
            if applied.events:
                self.watches.fire(applied.events, zxid)
            self._after_session_command(command, applied)
            if command.origin_member == self.member_id:
                future = self._waiters.pop(command.origin_request, None)
                if future is not None and not future.done():
                    future.set_result(applied)
        self.applied_slot = slot
        self.storage.save_applied(tree, slot)
        self.log.applied(slot)
        self._wake_zxid_waiters()

    def _on_state_installed(self, slot: int) -> None:
        """A snapshot replaced our state: reload the tree from disk."""
        self.applied_slot = self.storage.load(self.tree)
        for session in self.tree.sessions.values():
            self.tracker.track(session.session_id, session.timeout_ms)
        self._wake_zxid_waiters()

    def _on_role(self, role: Role, leader: int | None, previous: int | None) -> None:
        """We lost the leader we proposed through: those requests have an
        unknown outcome now, so say so (connection loss) rather than hang.
        (Requests made while no leader was known have not left: they go to
        the next one.) A new leader gives every session a fresh timeout
        before expiring any."""
        if previous is not None and previous != leader:
            self._fail_waiters("the leader changed; the outcome is unknown")
        if role is Role.LEADER:
            for session in self.tree.sessions.values():
                self.tracker.track(session.session_id, session.timeout_ms)

    def _fail_waiters(self, reason: str) -> None:
        waiters, self._waiters = self._waiters, {}
        error = pb.Error(code=pb.CONNECTION_LOSS, message=reason)
        for future in waiters.values():
            if not future.done():
                future.set_result(Applied(error, []))

    def _after_session_command(self, command: log_pb2.Command, applied: Applied) -> None:
        kind = command.WhichOneof("op")
        if kind == "open_session" and applied.ok:
            self.tracker.track(applied.result.session_id, applied.result.timeout_ms)
        elif kind in ("close_session", "expire_session"):
            self.tracker.forget(command.session_id)
            if applied.ok:
                self._end_local_session(command.session_id, expired=kind == "expire_session")

    def _end_local_session(self, session_id: int, expired: bool) -> None:
        local = self.local.pop(session_id, None)
        if local is None:
            return
        self.watches.remove_watcher(local)
        if expired and local.send is not None:
            local.send(
                pb.ServerMessage(
                    session_error=pb.Error(
                        code=pb.SESSION_EXPIRED, message=f"session 0x{session_id:x} has expired"
                    )
                )
            )

    # --------------------------------------------------------------- reads

    async def caught_up(self, zxid: int, timeout: float) -> bool:
        """Wait until this member has applied `zxid`; False if it did not in time."""
        if self.tree.zxid >= zxid:
            return True
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._zxid_waiters, (zxid, next(self._zxid_waiter_ids), future))
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False

    def _wake_zxid_waiters(self) -> None:
        for waiters, reached in (
            (self._zxid_waiters, self.tree.zxid),
            (self._applied_slot_waiters, self.applied_slot),
        ):
            while waiters and waiters[0][0] <= reached:
                future = heapq.heappop(waiters)[2]
                if not future.done():
                    future.set_result(None)

    async def sync(self, timeout: float) -> pb.Error | None:
        """Catch up with everything acknowledged anywhere before this call
        (a read index confirmed by a quorum); an error if that cannot be had."""
        try:
            index = await asyncio.wait_for(self.log.read_index(), timeout)
        except TimeoutError:
            index = 0
        if index == 0:
            return pb.Error(code=pb.CONNECTION_LOSS, message="no leader to confirm a read index")
        if self.applied_slot < index:
            future = asyncio.get_running_loop().create_future()
            heapq.heappush(self._applied_slot_waiters, (index, next(self._zxid_waiter_ids), future))
            try:
                await asyncio.wait_for(future, timeout)
            except TimeoutError:
                return pb.Error(code=pb.OPERATION_TIMEOUT, message="member did not catch up")
        return None

    # ------------------------------------------------------------ sessions

    def attach(self, session_id: int, timeout_ms: int, send) -> LocalSession:
        """Route a session's events to a stream on this member."""
        local = self.local.get(session_id)
        if local is None:
            local = self.local[session_id] = LocalSession(session_id, timeout_ms)
        local.send = send
        self.touch(session_id)
        return local

    def touch(self, session_id: int) -> None:
        """We heard from a session. Only the leader's clock expires sessions,
        so a follower passes what it heard on, in batches."""
        self.tracker.touch(session_id)
        if not self.log.is_leader:
            self._touched.add(session_id)

    def _on_touch(self, session_ids: list[int]) -> None:
        for session_id in session_ids:
            self.tracker.touch(session_id)

    def detach(self, local: LocalSession, send) -> None:
        if local.send is send:
            local.send = None

    async def _session_clock(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_TICK_S)
            if self._touched and self.log.touch_at_leader(sorted(self._touched)):
                self._touched.clear()
            if not self.log.is_leader:
                continue
            for session_id in self.tracker.due():
                log.info("expiring session 0x%x: silent past its timeout", session_id)
                asyncio.create_task(self._expire(session_id))

    async def _expire(self, session_id: int) -> None:
        command = log_pb2.Command(session_id=session_id, expire_session=log_pb2.ExpireSession())
        applied = await self.submit(command)
        if not applied.ok and session_id in self.tree.sessions:
            self.tracker.retry_expiry(session_id)

    # -------------------------------------------------------------- status

    def status(self, address: str) -> pb.MemberStatus:
        log_status = self.log.status()
        return pb.MemberStatus(
            id=self.member_id,
            address=address,
            role=log_status["role"],
            leader=log_status["leader"],
            leader_ballot=log_status["leader_ballot"],
            committed_slot=log_status["committed_slot"],
            applied_slot=self.applied_slot,
            committed_zxid=self.tree.zxid,
            applied_zxid=self.tree.zxid,
            sessions=len(self.tree.sessions),
            znodes=len(self.tree.nodes),
        )
