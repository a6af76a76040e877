"""The replica: the one path every write takes, and the apply loop.

A write becomes a command, commands queued in one turn of the event loop
become one batch stamped with the leader's clock, the batch is proposed to
the log, and what the log reports chosen is applied in slot order: the tree
computes the result, the watch registry fans the events out to the sessions'
streams, then the waiting request gets its result. The applied state and
position go to storage after each batch; once they are on disk, the log may
be trimmed behind them.

While the member's disk cannot be written (storage reports why), new writes
are refused (NOT_READ_ONLY, not applied) and those waiting end with
connection loss (their outcome is unknown); reads go on from memory, and
the member takes writes again as soon as storage does.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass, replace

from coord import trace
from coord.clock import Clock
from coord.counters import Counters
from coord.member.log import ReplicatedLog
from coord.member.ports import DiskEvents
from coord.paxos import Config, Role
from coord.peers.transport import PeerTransport
from coord.rpc.member_trust import MemberTrust
from coord.sessions import LocalSession, SessionTracker
from coord.storage import Storage
from coord.tree import Applied, Tree
from coord.watches import WatchRegistry
from coord.wire import log_pb2
from coord_api.wire import client_pb2 as pb

log = logging.getLogger(__name__)

MAX_BATCH_COMMANDS = 1024
EXPIRY_TICK_S = 0.1
DROP_MARGIN = 0.2  # of the request timeout: a proposal without a leader goes this early
REJOIN_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Limits:
    """What one client may ask of this member (the flags of the same names).
    Those on a request's shape are decided at the door, before the request
    is logged, so members with different flags never disagree on a logged
    command (the tree's own caps are constants, see tree.py)."""

    min_session_timeout_ms: int = 2000
    max_session_timeout_ms: int = 60000
    max_data_bytes: int = 1 << 20
    max_request_bytes: int = (1 << 20) + 1024  # as ZooKeeper's jute.maxbuffer
    max_sessions: int = 10_000
    max_sessions_per_ip: int = 60  # as ZooKeeper's maxClientCnxns
    max_outstanding_per_session: int = 1000
    max_unread_bytes: int = 8 << 20
    max_watches_per_session: int = 10_000
    max_multi_ops: int = 1000
    max_path_bytes: int = 4096
    max_path_depth: int = 128

    def negotiate(self, asked_ms: int) -> int:
        return max(self.min_session_timeout_ms, min(self.max_session_timeout_ms, asked_ms))


@dataclass(slots=True)
class _Waiting:
    """A write proposed from here, and whoever waits for its result."""

    future: asyncio.Future[Applied]
    command: log_pb2.Command
    deadline: float
    on_applied: Callable[[], None] | None = None

    def fail(self, reason: str) -> None:
        if not self.future.done():
            error = pb.Error(code=pb.CONNECTION_LOSS, message=reason)
            self.future.set_result(Applied(error, []))


class Replica:
    def __init__(
        self,
        open_storage: Callable[[DiskEvents], Storage],
        limits: Limits,
        member_id: int = 1,
        members: dict[int, str] | None = None,
        trust: MemberTrust | None = None,
        paxos: Config | None = None,
        log_retention: int = 10_000,
        request_timeout: float = 6.0,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        # The storage tells us when its disk cannot be written (disk_failed).
        self.storage = open_storage(self)
        self.limits = limits
        self.member_id = member_id
        self.members = members or {member_id: ""}
        # How our log reaches the other members (their doors, our credentials).
        self.trust = trust or MemberTrust(member_id, self.members)
        # A proposal that found no leader is dropped before its request times
        # out, so a request reported failed never takes effect later.
        self.request_timeout = request_timeout
        # A value is a serialized Batch, and serialized Batches concatenated
        # are one Batch with all their commands, in order (the later clock
        # reading wins): so a busy leader joins queued batches into one slot.
        self._paxos_config = replace(
            paxos or Config(), forward_timeout=0.8 * request_timeout, combine=b"".join
        )
        self._log_retention = log_retention
        self.tree = Tree(limits.max_data_bytes)
        self.applied_slot = self.storage.load(self.tree)
        self.watches = WatchRegistry(
            per_watcher=limits.max_watches_per_session, path_bytes=limits.max_path_bytes
        )
        self.watches.history_after = self.tree.zxid  # changes before we started are not known
        self.clock = Clock()  # one clock for timers and deadlines (tests may distort it)
        self.tracker = SessionTracker(clock=self.clock.now)
        self.counters = Counters()
        self.local: dict[int, LocalSession] = {}
        # Writes proposed here and not yet applied, by request id, in order.
        self._waiting: dict[int, _Waiting] = {}
        # Unique across restarts, so a command proposed before a crash and
        # chosen after it cannot resolve a new request's waiter.
        self._request_ids = itertools.count(time.time_ns())
        self._pending: list[_Waiting] = []
        self._zxid_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._zxid_waiter_ids = itertools.count()
        self._expiry_task: asyncio.Task | None = None
        self._rejoin_task: asyncio.Task | None = None
        self._rejoined = asyncio.Event()
        self.stopping = asyncio.Event()  # long-lived calls end when it is set
        self._touched: set[int] = set()  # heard here, not yet told to the leader
        self._applied_slot_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self.log: ReplicatedLog | None = None
        # The applied state's writes not yet seen done, in slot order.
        self._saving: deque[tuple[int, Future]] = deque()

    async def start(self) -> None:
        """Join the log (which re-delivers what is chosen past the applied
        position), then start the session clocks."""
        self.log = ReplicatedLog(
            self.storage, PeerTransport(self.trust, self.storage), self.member_id,
            list(self.trust.doors), self.applied_slot, self, self._paxos_config,
            self._log_retention, self.clock,
        )  # fmt: skip
        self.log.start()
        self._expiry_task = asyncio.create_task(self._session_clock())
        self._rejoin_task = asyncio.create_task(self._rejoin())

    async def stop(self) -> None:
        self.stopping.set()
        for task in (self._expiry_task, self._rejoin_task):
            if task is not None:
                task.cancel()
        if self.log is not None:
            await self.log.stop()
        self._fail_waiters("member stopping")

    # -------------------------------------------------------------- writes

    def submit(
        self, command: log_pb2.Command, on_applied: Callable[[], None] | None = None
    ) -> asyncio.Future[Applied]:
        """Propose a command; the future resolves once it has been applied.
        `on_applied` runs right after the apply, before the next command is
        applied: a session answers the reads queued behind this write there,
        so they see exactly the state this write left."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(
            loop.create_future(), command, self.clock.now() + self.request_timeout, on_applied
        )
        refusal = self.write_refusal()
        if refusal is not None:
            waiting.future.set_result(Applied(refusal, []))
        else:
            self._propose(waiting)
        return waiting.future

    def write_refusal(self) -> pb.Error | None:
        """Why no write can be proposed here now, if none can: the data dir
        cannot be written. A write refused so was not applied."""
        if self.storage.failure is None:
            return None
        message = f"{self._disk_failure()}; the write was not applied"
        return pb.Error(code=pb.NOT_READ_ONLY, message=message)

    def _disk_failure(self) -> str:
        return f"member {self.member_id} cannot write its data dir: {self.storage.failure}"

    def disk_failed(self, reason: str | None) -> None:
        """(DiskEvents) Told on the storage's writer thread: handled on the loop."""
        self._loop.call_soon_threadsafe(self._on_disk_failure, reason)

    def _on_disk_failure(self, reason: str | None) -> None:
        """Writes waiting here may or may not be chosen once the disk is
        back: say so now (connection loss) rather than when they time out."""
        if reason is not None:
            self._fail_waiters(f"{self._disk_failure()}; the outcome is unknown")

    def _propose(self, waiting: _Waiting) -> None:
        request_id = next(self._request_ids)
        waiting.command.origin_member = self.member_id
        waiting.command.origin_request = request_id
        self._waiting[request_id] = waiting
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(waiting)

    def _flush(self) -> None:
        """One batch per turn of the event loop, stamped with our clock. A
        batch that finds no leader is dropped before its first request
        would time out, so a request reported failed never applies later."""
        pending, self._pending = self._pending, []
        if trace.ON:
            trace.commands("batch", (w.command for w in pending))
        time_ms = int(time.time() * 1000)
        for start in range(0, len(pending), MAX_BATCH_COMMANDS):
            chunk = pending[start : start + MAX_BATCH_COMMANDS]
            batch = log_pb2.Batch(time_ms=time_ms, commands=[w.command for w in chunk])
            expires = min(w.deadline for w in chunk) - DROP_MARGIN * self.request_timeout
            self.log.propose(batch.SerializeToString(), expires)

    # ---------------------------------------------------------- apply loop

    def chosen(self, slot: int, value: bytes) -> None:
        batch = log_pb2.Batch.FromString(value)
        if trace.ON:
            trace.commands("apply", batch.commands, slot)
        tree = self.tree
        self.counters.slots_applied += 1
        self.counters.commands_applied += len(batch.commands)
        for command in batch.commands:
            zxid = tree.zxid + 1
            applied = tree.apply(zxid, batch.time_ms, command)
            if applied.events:
                self.watches.fire(applied.events, zxid)
            self._after_session_command(command, applied)
            if command.origin_member == self.member_id:
                waiting = self._waiting.pop(command.origin_request, None)
                if waiting is not None and not waiting.future.done():
                    waiting.future.set_result(applied)
                    if waiting.on_applied is not None:
                        waiting.on_applied()
        self.applied_slot = slot
        self._saving.append((slot, self.storage.save_applied(tree, slot)))
        self.log.applied(slot)
        self._note_durable()
        self._wake_zxid_waiters()

    def _note_durable(self) -> None:
        """Tell the log how far the applied state is on disk: only that lets
        it be trimmed. (The writes end in order; one fails only when the
        member stops with its disk unwritable, and the log then still holds
        what a restart replays.)"""
        durable = 0
        while self._saving and self._saving[0][1].done():
            slot, saved = self._saving.popleft()
            if saved.exception() is None:
                durable = slot
        if durable:
            self.log.durable(durable)

    def state_installed(self, slot: int) -> None:
        """A snapshot replaced our state: reload the tree from disk."""
        self.applied_slot = self.storage.load(self.tree)
        self.watches.history_after = self.tree.zxid
        for session in self.tree.sessions.values():
            self.tracker.track(session.session_id, session.timeout_ms)
        self._wake_zxid_waiters()

    def role_changed(self, role: Role, leader: int | None, previous: int | None) -> None:
        """We lost the leader we proposed through, and with it perhaps some
        of our proposals. A session's writes are proposed again, in order:
        the tree applies each (session, xid) once and in the session's order.
        Other writes have an unknown outcome now: say so (connection loss)
        rather than hang. A new leader gives every session a fresh timeout
        before expiring any."""
        if previous is not None and previous != leader:
            waiting, self._waiting = self._waiting, {}
            for entry in waiting.values():
                if entry.command.session_id and entry.command.xid:
                    self._propose(entry)
                else:
                    entry.fail("the leader changed; the outcome is unknown")
        if role is Role.LEADER:
            for session in self.tree.sessions.values():
                self.tracker.track(session.session_id, session.timeout_ms)

    def _fail_waiters(self, reason: str) -> None:
        waiting, self._waiting = self._waiting, {}
        for entry in waiting.values():
            entry.fail(reason)

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
        if expired and local.end is not None:
            message = f"session 0x{session_id:x} has expired"
            local.end(
                pb.ServerMessage(session_error=pb.Error(code=pb.SESSION_EXPIRED, message=message))
            )

    # --------------------------------------------------------------- reads

    async def _rejoin(self) -> None:
        """A member that starts does not know what was chosen while it was
        away, nor (alone) whether its own log tail was: it serves reads only
        once it has caught up with a read index confirmed by a quorum."""
        while await self.sync(REJOIN_TIMEOUT_S) is not None:
            await asyncio.sleep(EXPIRY_TICK_S)
        self._rejoined.set()

    async def caught_up(self, zxid: int, timeout: float) -> bool:
        """Wait until this member has rejoined and applied `zxid`; False if
        it did not in time."""
        try:
            await asyncio.wait_for(self._rejoined.wait(), timeout)
        except TimeoutError:
            return False
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
        (a read index confirmed by a quorum); an error if that cannot be had
        in time."""
        try:
            index = await asyncio.wait_for(self.log.read_index(), timeout)
        except TimeoutError:
            return pb.Error(code=pb.CONNECTION_LOSS, message="no leader confirmed a read index")
        if self.applied_slot < index:
            future = asyncio.get_running_loop().create_future()
            heapq.heappush(self._applied_slot_waiters, (index, next(self._zxid_waiter_ids), future))
            try:
                await asyncio.wait_for(future, timeout)
            except TimeoutError:
                return pb.Error(code=pb.OPERATION_TIMEOUT, message="member did not catch up")
        return None

    # ------------------------------------------------------------ sessions

    def attach(self, session_id: int, timeout_ms: int, send, end) -> LocalSession:
        """Route a session's events to a stream on this member; `end` ends
        that stream with a last message (the session ended)."""
        local = self.local.get(session_id)
        if local is None:
            local = self.local[session_id] = LocalSession(session_id, timeout_ms)
        local.send, local.end = send, end
        self.touch(session_id)
        return local

    def touch(self, session_id: int) -> None:
        """We heard from a session. Only the leader's clock expires sessions,
        so a follower passes what it heard on, in batches."""
        self.tracker.touch(session_id)
        if not self.log.is_leader:
            self._touched.add(session_id)

    def sessions_touched(self, session_ids: list[int]) -> None:
        for session_id in session_ids:
            self.tracker.touch(session_id)

    def detach(self, local: LocalSession, send) -> None:
        if local.send is send:
            local.send = local.end = None

    def _time_out_requests(self) -> None:
        now = self.clock.now()
        expired = [rid for rid, entry in self._waiting.items() if entry.deadline < now]
        for request_id in expired:
            self._waiting.pop(request_id).fail("no leader took the request in time")

    async def _session_clock(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_TICK_S)
            self._time_out_requests()
            if self._touched and self.log.touch_at_leader(sorted(self._touched)):
                self._touched.clear()
            if not self.log.is_leader:
                continue
            for session_id in self.tracker.due():
                log.info("expiring session 0x%x: silent past its timeout", session_id)
                asyncio.create_task(self._expire(session_id))

    async def _expire(self, session_id: int) -> None:
        """Expire a silent session, but only as a confirmed leader: a quorum
        round first proves no newer leader (which gives every session a
        fresh timeout) has taken over, and the session must still be silent
        after it. A deposed leader's clock expires nobody."""
        confirmed = await self.sync(self.request_timeout) is None
        if not (confirmed and self.log.is_leader and self.tracker.silent(session_id)):
            self.tracker.retry_expiry(session_id)
            return
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
            peer_frames_in=self.log.frames_in,
            peer_frames_out=self.log.frames_out,
            disk_syncs=self.storage.syncs,
            **asdict(self.counters),
        )
