"""The member: one server's runtime, built from named stages.

The doors (`coord.rpc`) call the member; the member's stages call the log
below them; what the log has to say flows back up as the events of
`LogEvents`, which the member dispatches to the stage each concerns:

    doors ─▶ Member ─▶ intake ─▶ log        a write enters the log; its request waits
                    ─▶ reads ─▶ log         read index, catch-up
                    ─▶ liveness ─▶ log      touch relay; expiry (reads.sync, intake.submit)
    log ─LogEvents─▶ Member ─▶ apply        tree, watches, liveness, intake's waiter,
                                            then storage and the log
                            ─▶ reads        the applied position reached

No stage calls back into the member. This is the one place where the log
is made and the stages put together; they share the member's state
(tree, watches, clock, counters), not each other's tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from coord.clock import Clock
from coord.counters import Counters
from coord.local_sessions import LocalSession, Send
from coord.member.apply import Apply
from coord.member.intake import Intake
from coord.member.limits import Limits
from coord.member.liveness import Liveness
from coord.member.log import ReplicatedLog
from coord.member.ports import DiskEvents, Peers
from coord.member.reads import Reads
from coord.member.status import member_status
from coord.outcome import Applied
from coord.paxos import Config, Role
from coord.tree import Tree
from coord.watches import WatchRegistry
from coord.wire import log_pb2
from coord_api.wire import client_pb2 as pb

if TYPE_CHECKING:
    from coord.rpc.member_trust import MemberTrust
    from coord.storage import Storage

CLOCK_TICK_S = 0.1  # how often request deadlines and session clocks are looked at


class Member:
    """Made inside the running event loop (the log binds to it); `start`
    joins the log and starts the clocks, `stop` ends them. The edge (cli.py)
    hands in how to open the storage and the peer transport: both are
    made here, the storage told of the member as its `DiskEvents`, so that
    no stage imports plyvel or grpc."""

    def __init__(
        self,
        open_storage: Callable[[DiskEvents], Storage],
        open_peers: Callable[[Storage], Peers],
        limits: Limits,
        member_id: int,
        members: dict[int, str],
        trust: MemberTrust,
        paxos: Config | None = None,
        log_retention: int = 10_000,
        request_timeout: float = 6.0,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.storage = storage = open_storage(self)
        self.limits = limits
        self.member_id = member_id
        self.members = members  # every member's client address, by id
        # How our log reaches the other members (their doors, our credentials).
        self.trust = trust
        self.tree = Tree(limits.max_data_bytes)
        applied_slot = storage.load(self.tree)
        self.watches = WatchRegistry(
            per_watcher=limits.max_watches_per_session, path_bytes=limits.max_path_bytes
        )
        self.watches.history_after = self.tree.zxid  # changes before we started are not known
        self.clock = Clock()  # one clock for timers and deadlines (tests may distort it)
        self.counters = Counters()
        self.stopping = asyncio.Event()  # long-lived calls end when it is set
        # A value is a serialized Batch, and serialized Batches concatenated
        # are one Batch with all their commands, in order (the later clock
        # reading wins): so a busy leader joins queued batches into one slot.
        config = replace(paxos or Config(), forward_timeout=0.8 * request_timeout, combine=b"".join)
        self.log = ReplicatedLog(
            storage, open_peers(storage), member_id, list(members), applied_slot, self,
            config, log_retention, self.clock,
        )  # fmt: skip
        self.intake = Intake(self.log, storage, self.member_id, self.clock, request_timeout)
        self.reads = Reads(self.log, self.tree, applied_slot)
        self.liveness = Liveness(
            self.log, self.tree, self.watches, self.clock, self.reads, self.intake,
            request_timeout,
        )  # fmt: skip
        self.apply = Apply(
            self.tree, self.watches, storage, self.log, self.counters, self.intake, self.liveness,
            applied_slot,
        )  # fmt: skip
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        """Join the log (which re-delivers what is chosen past the applied
        position), then start the clocks and the catch-up that lets this
        member serve reads."""
        self.log.start()
        self._tasks = [
            asyncio.create_task(self._clocks()),
            asyncio.create_task(self.reads.rejoin()),
        ]

    async def stop(self) -> None:
        self.stopping.set()
        for task in self._tasks:
            task.cancel()
        await self.log.stop()
        self.apply.save()
        self.intake.fail_all("member stopping")

    async def _clocks(self) -> None:
        while True:
            await asyncio.sleep(CLOCK_TICK_S)
            self.intake.time_out_requests()
            self.liveness.tick()
            self.apply.save()

    # ---------------------------------------- LogEvents: the log tells us

    def chosen(self, slot: int, value: bytes) -> None:
        self.apply.chosen(slot, value)
        self.reads.reached(slot)

    def state_installed(self, slot: int) -> None:
        """A snapshot replaced our state: reload the tree from disk."""
        reached = self.apply.reload()
        self.liveness.restart_clocks()
        self.reads.reached(reached)

    def sessions_touched(self, session_ids: list[int]) -> None:
        self.liveness.sessions_touched(session_ids)

    def role_changed(self, role: Role, leader: int | None, previous: int | None) -> None:
        self.intake.leader_changed(leader, previous)
        self.liveness.role_changed(role)

    def disk_failed(self, reason: str | None) -> None:
        """(DiskEvents) Storage could not write (`reason`), or can again
        (None); told on its writer thread, handled on the loop."""
        self._loop.call_soon_threadsafe(self.intake.disk_failed, reason)

    # ------------------------------------------------- what the doors call
    # The doors see only the member; each call goes to the stage it names.

    @property
    def applied_slot(self) -> int:
        return self.reads.applied_slot

    def submit(
        self, command: log_pb2.Command, on_applied: Callable[[], None] | None = None
    ) -> asyncio.Future[Applied]:
        return self.intake.submit(command, on_applied)

    def write_refusal(self) -> pb.Error | None:
        return self.intake.write_refusal()

    async def sync(self, timeout: float) -> pb.Error | None:
        return await self.reads.sync(timeout)

    async def caught_up(self, zxid: int, timeout: float) -> bool:
        return await self.reads.caught_up(zxid, timeout)

    def attach(self, session_id: int, timeout_ms: int, send: Send, end: Send) -> LocalSession:
        return self.liveness.attach(session_id, timeout_ms, send, end)

    def detach(self, local: LocalSession, send: Send) -> None:
        self.liveness.detach(local, send)

    def touch(self, session_id: int) -> None:
        self.liveness.touch(session_id)

    def status(self, address: str) -> pb.MemberStatus:
        return member_status(self, address)
