"""The replicated log: the driver (driver.py) run on the member's event loop.

It has the shape the member expects of a log (``propose``, ``read_index``,
``status``, events through ``LogEvents``) and gives the driver what it
needs of a runtime: a ticker, the storage's completions moved from its
writer thread onto the loop, futures for read indexes, and the peer
doors' frames decoded. The disk and the peers are handed in (coord/storage.py
and coord/peers/ in a running member), so nothing here does I/O itself.

A cluster of one member runs the same code; it elects itself at once.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from concurrent.futures import Future
from typing import Protocol

from coord import trace
from coord.clock import Clock
from coord.member.driver import Driver
from coord.member.events import LogEvents
from coord.member.ports import Done, Peers
from coord.paxos import Ballot, Config, Role
from coord.paxos import wire as paxos_wire
from coord.paxos.messages import Entry
from coord.wire import admin_pb2, peer_pb2

log = logging.getLogger(__name__)

TICK_S = 0.02


class Disk(Protocol):
    """The member's disk as coord/storage.py offers it: each write's Future
    resolves on the storage's writer thread."""

    failure: str | None

    def load_acceptor(self) -> tuple[Ballot, dict[int, tuple[Ballot, bytes]], int]: ...

    def persist_acceptor(
        self, promised: Ballot | None, entries: list[Entry], truncate: int
    ) -> Future: ...

    def install_state(self, slot: int, zxid: int, items: list) -> Future: ...


class _OnLoop:
    """The Disk as the driver's Store: completions come on the event loop."""

    def __init__(self, disk: Disk, loop: asyncio.AbstractEventLoop) -> None:
        self._disk = disk
        self._loop = loop

    @property
    def failure(self) -> str | None:
        return self._disk.failure

    def load_acceptor(self) -> tuple[Ballot, dict[int, tuple[Ballot, bytes]], int]:
        return self._disk.load_acceptor()

    def persist_acceptor(
        self, promised: Ballot | None, entries: list[Entry], truncate: int, done: Done
    ) -> None:
        self._report(self._disk.persist_acceptor(promised, entries, truncate), done)

    def install_state(self, slot: int, zxid: int, items: list, done: Done) -> None:
        self._report(self._disk.install_state(slot, zxid, items), done)

    def _report(self, future: Future, done: Done) -> None:
        if future.done():  # written in our thread
            done(future.exception())
            return

        def on_disk(written: Future) -> None:  # on the writer thread
            self._loop.call_soon_threadsafe(done, written.exception())

        future.add_done_callback(on_disk)


class ReplicatedLog:
    def __init__(
        self,
        disk: Disk,
        peers: Peers,
        member_id: int,
        members: list[int],
        applied_slot: int,
        events: LogEvents,
        config: Config | None = None,
        log_retention: int = 10_000,
        clock: Clock | None = None,
    ) -> None:
        self._disk = disk
        self._peers = peers
        self.clock = clock or Clock()
        self.member_id = member_id
        self.members = members
        self._events = events
        self.log_retention = log_retention
        self._loop = asyncio.get_running_loop()
        self._driver = Driver(
            member_id, members, config or Config(), random.Random(), self.clock.now(),
            applied_slot, _OnLoop(disk, self._loop), peers, events, self,
        )  # fmt: skip
        self.node = self._driver.node
        self._reads: dict[int, asyncio.Future[int]] = {}
        self._read_ids = itertools.count(1)
        self._ticker: asyncio.Task | None = None
        self.frames_in = 0

    # ---------------------------------------------------------------- life

    def start(self) -> None:
        self._peers.start(self)
        self._ticker = asyncio.create_task(self._tick_forever())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        await self._peers.stop()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self._driver.tick(self.clock.now())

    # ----------------------------------------------------------- interface

    @property
    def is_leader(self) -> bool:
        return self.node.role is Role.LEADER

    @property
    def leader(self) -> int | None:
        return self.node.leader

    def leads(self, member: int) -> bool:
        """Whether `member` is the leader we follow, or owns the ballot we
        promised (a new leader's snapshot may come before its first accept)."""
        return member != self.member_id and member in (self.node.leader, self.node.promised.member)

    def propose(self, value: bytes, expires: float) -> None:
        """Propose a value; dropped if no leader has taken it by `expires`
        (on our clock)."""
        self._driver.propose(value, expires)

    async def read_index(self) -> int:
        """A slot that covers every write acknowledged before the call: the
        leader confirms it still leads with a quorum round. 0 if no leader."""
        request = next(self._read_ids)
        future = self._loop.create_future()
        self._reads[request] = future
        self._driver.read_index(request)
        try:
            return await future
        finally:
            self._reads.pop(request, None)

    def answered(self, request: int, index: int) -> None:
        future = self._reads.get(request)
        if future is not None and not future.done():
            future.set_result(index)

    @property
    def frames_out(self) -> int:
        return self._peers.frames_out

    def receive(self, frame: peer_pb2.PeerFrame) -> None:
        """Hand a peer's messages to the core; dropped while our disk cannot
        be written: an acceptor that cannot persist answers nobody (what it
        would say could not be made durable first), so the others go on
        without it, as without a member that is down, until it can."""
        if self._disk.failure is not None:
            return
        self.frames_in += 1
        messages = []
        for message in frame.messages:
            if message.dst != self.member_id or message.src not in self.members:
                continue
            if message.WhichOneof("kind") == "touch_sessions":
                self._events.sessions_touched(list(message.touch_sessions.session_ids))
                continue
            decoded = paxos_wire.decode(message)
            if decoded is not None:
                if trace.ON:
                    trace.message("in", decoded)
                messages.append(decoded)
        self._driver.receive(messages)

    def peer_lost(self, peer: int) -> None:
        self._driver.peer_lost(peer)

    def touch_at_leader(self, session_ids: list[int]) -> bool:
        """Tell the leader these sessions are alive; False if no leader is known."""
        leader = self.node.leader
        return leader is not None and self._peers.touch(leader, session_ids)

    def applied(self, slot: int) -> None:
        """The member applied `slot`."""
        self._driver.applied(slot)

    def durable(self, slot: int) -> None:
        """The state as of `slot` is on disk; trim the log once it runs long
        (never past what the disk holds: a restart replays the rest)."""
        if slot - self.node.log_start > 2 * self.log_retention:
            self._driver.truncate(slot - self.log_retention)

    def status(self) -> dict:
        node = self.node
        return {
            "role": node.role.value,
            "leader": node.leader or 0,
            "leader_ballot": str(node.promised),
            "committed_slot": node.commit,
        }

    def set_faults(self, faults: admin_pb2.Faults) -> None:
        """Fault injection (tests only): per-link faults and a distorted clock."""
        self._peers.set_faults(faults)
        self.clock.distort(faults.clock_offset_s, faults.clock_rate or 1.0)

    async def install_snapshot(self, chunks: list[peer_pb2.SnapshotChunk]) -> bool:
        """Replace our state with a peer's; what is chosen meanwhile waits.
        Not while our disk cannot be written: the peer sends it again later."""
        last = chunks[-1]
        items = [(k, v) for chunk in chunks for k, v in zip(chunk.keys, chunk.values, strict=True)]
        installed = self._loop.create_future()

        def done(error: BaseException | None) -> None:
            if installed.done():  # the peer's call ended meanwhile
                return
            if error is None:
                installed.set_result(None)
            else:
                installed.set_exception(error)

        if not self._driver.install_snapshot(last.slot, last.zxid, items, done):
            return False
        await installed
        log.info("installed a snapshot at slot %d from member %d", last.slot, last.src)
        return True
