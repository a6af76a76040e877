"""The replicated log: the sans-I/O Paxos core, driven by asyncio and gRPC.

It has the shape the replica expects of a log (``propose``, an ``on_chosen``
callback, ``read_index``, ``status``), and it does the runtime's part of the
core's contract: persist what each Ready asks for (one fsync per batch, in
the storage writer thread), send its messages only once that is on disk and
in order, hand chosen values to the apply loop, ship snapshots to members
behind the log's start, and drop log entries the durable state covers.

A cluster of one member runs the same code; it elects itself at once.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future

import grpc

from coord import trace
from coord.clock import Clock
from coord.member.events import LogEvents
from coord.paxos import Config, Node, Ready, Role
from coord.paxos import wire as paxos_wire
from coord.rpc.member_trust import PEER, MemberTrust
from coord.storage import Storage, StorageError
from coord.wire import admin_pb2, peer_pb2, peer_pb2_grpc

log = logging.getLogger(__name__)

TICK_S = 0.02
LINK_BUFFER = 256
SNAPSHOT_CHUNK_ITEMS = 2000


class PeerLink:
    """Our messages to one peer over one Deliver stream; reconnects on its own,
    and reports when an open stream breaks."""

    def __init__(self, trust: MemberTrust, peer: int, on_lost: Callable[[int], None]) -> None:
        self.member_id = trust.member_id
        self.peer = peer
        self.trust = trust
        self._on_lost = on_lost
        self._buffer: list[peer_pb2.PeerMessage] = []
        self._wakeup = asyncio.Event()
        self.connected = False
        self._task: asyncio.Task | None = None
        self.frames_out = 0
        self.fault = admin_pb2.LinkFault()  # injected by tests; healthy by default
        self._random = random.Random()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def send(self, message: peer_pb2.PeerMessage) -> None:
        """Queue a message. While (re)connecting, the newest LINK_BUFFER
        messages wait for the connection; older ones are dropped, so a peer
        that comes back gets what is recent, not a flood."""
        fault = self.fault
        if fault.blocked or (fault.drop and self._random.random() < fault.drop):
            return
        if fault.delay_ms:
            delay = self._random.uniform(0, fault.delay_ms / 1000)
            asyncio.get_running_loop().call_later(delay, self._queue, message)
        else:
            self._queue(message)

    def _queue(self, message: peer_pb2.PeerMessage) -> None:
        self._buffer.append(message)
        if len(self._buffer) > LINK_BUFFER:
            del self._buffer[: len(self._buffer) - LINK_BUFFER]
        self._wakeup.set()

    async def _run(self) -> None:
        backoff = 0.05
        async with self.trust.channel(self.peer) as channel:
            stub = peer_pb2_grpc.PeerStub(channel)
            while True:
                call = stub.Deliver(metadata=self.trust.metadata(PEER + "Deliver", self.peer))
                try:
                    # An empty frame first: it fails fast if the peer is down.
                    await call.write(peer_pb2.PeerFrame(src=self.member_id))
                    self.connected = True
                    backoff = 0.05
                    while True:
                        await self._wakeup.wait()
                        self._wakeup.clear()
                        frame = peer_pb2.PeerFrame(messages=self._buffer, src=self.member_id)
                        self._buffer = []
                        self.frames_out += 1
                        if trace.ON:
                            trace.wire("written", frame.messages)
                        await call.write(frame)
                except (grpc.RpcError, grpc.aio.UsageError, asyncio.InvalidStateError) as err:
                    log.debug("stream to member %d ended: %r", self.peer, err)
                finally:
                    call.cancel()
                if self.connected:
                    # What was in flight to a peer that broke is lost, as on
                    # any broken connection: Paxos resends what matters.
                    self.connected = False
                    self._buffer = []
                    self._on_lost(self.peer)
                await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
                backoff = min(backoff * 2, 0.5)


class PaxosLog:
    def __init__(
        self,
        storage: Storage,
        trust: MemberTrust,
        applied_slot: int,
        events: LogEvents,
        config: Config | None = None,
        log_retention: int = 10_000,
        clock: Clock | None = None,
    ) -> None:
        self._storage = storage
        self.clock = clock or Clock()
        member_id, members = trust.member_id, trust.doors
        self.member_id = member_id
        self.members = members
        self._trust = trust
        self._events = events
        self.log_retention = log_retention
        self._loop = asyncio.get_running_loop()
        promised, accepted, log_start = storage.load_acceptor()
        self.node = Node(
            member_id, list(members), config or Config(), random.Random(),
            now=self.clock.now(), promised=promised, accepted=accepted,
            log_start=log_start, applied=applied_slot,
        )  # fmt: skip
        self.applied_slot = applied_slot
        self._links = {
            peer: PeerLink(trust, peer, self.peer_lost) for peer in members if peer != member_id
        }
        # Messages wait for the persistence of the Ready they came with.
        self._outbox: deque[tuple[Future | None, list]] = deque()
        self._reads: dict[int, asyncio.Future[int]] = {}
        self._read_ids = itertools.count(1)
        self._ticker: asyncio.Task | None = None
        self._snapshots_out: set[int] = set()
        self._installing = False
        self._held: list[tuple[int, bytes]] = []  # chosen while a snapshot installs
        self.frames_in = 0
        self._last_role: tuple[Role, int | None] = (Role.FOLLOWER, None)

    # ---------------------------------------------------------------- life

    def start(self) -> None:
        for link in self._links.values():
            link.start()
        self._ticker = asyncio.create_task(self._tick_forever())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for link in self._links.values():
            await link.stop()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.node.tick(self.clock.now())
            self._drain()

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
        self.node.propose(value, expires)
        self._drain()

    async def read_index(self) -> int:
        """A slot that covers every write acknowledged before the call: the
        leader confirms it still leads with a quorum round. 0 if no leader."""
        request = next(self._read_ids)
        future = self._loop.create_future()
        self._reads[request] = future
        self.node.read_index(request)
        self._drain()
        try:
            return await future
        finally:
            self._reads.pop(request, None)

    @property
    def frames_out(self) -> int:
        return sum(link.frames_out for link in self._links.values())

    def receive(self, frame: peer_pb2.PeerFrame) -> None:
        """Hand a peer's messages to the core; dropped while our disk cannot
        be written: an acceptor that cannot persist answers nobody (what it
        would say could not be made durable first), so the others go on
        without it, as without a member that is down, until it can."""
        if self._storage.failure is not None:
            return
        self.frames_in += 1
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
                self.node.receive(decoded)
        self._drain()

    def touch_at_leader(self, session_ids: list[int]) -> bool:
        """Tell the leader these sessions are alive; False if no leader is known."""
        leader = self.node.leader
        link = self._links.get(leader) if leader is not None else None
        if link is None or not link.connected:
            return False
        message = peer_pb2.PeerMessage(src=self.member_id, dst=leader)
        message.touch_sessions.session_ids.extend(session_ids)
        link.send(message)
        return True

    def applied(self, slot: int) -> None:
        """The replica applied `slot`."""
        self.applied_slot = slot

    def durable(self, slot: int) -> None:
        """The state as of `slot` is on disk; trim the log once it runs long
        (never past what the disk holds: a restart replays the rest)."""
        if slot - self.node.log_start > 2 * self.log_retention:
            self.node.truncate(slot - self.log_retention)
            self._drain()

    def status(self) -> dict:
        node = self.node
        return {
            "role": node.role.value,
            "leader": node.leader or 0,
            "leader_ballot": str(node.promised),
            "committed_slot": node.commit,
        }

    # ------------------------------------------------------------- runtime

    def set_faults(self, faults: admin_pb2.Faults) -> None:
        """Fault injection (tests only): per-link faults and a distorted clock."""
        for link in self._links.values():
            link.fault = admin_pb2.LinkFault()
        for fault in faults.links:
            if fault.peer in self._links:
                self._links[fault.peer].fault = fault
        self.clock.distort(faults.clock_offset_s, faults.clock_rate or 1.0)

    def peer_lost(self, peer: int) -> None:
        self.node.peer_lost(peer)
        self._drain()

    def _drain(self) -> None:
        """Carry out every Ready the core has for us."""
        while True:
            ready = self.node.ready()
            if not (
                ready.must_persist()
                or ready.messages
                or ready.chosen
                or ready.snapshots
                or ready.reads
            ):
                break
            self._carry_out(ready)
        role = (self.node.role, self.node.leader)
        if role != self._last_role:
            previous_leader = self._last_role[1]
            self._last_role = role
            log.info(
                "%s, leader %s, ballot %s", role[0].value, role[1] or "unknown", self.node.promised
            )
            self._events.role_changed(*role, previous_leader)

    def _carry_out(self, ready: Ready) -> None:
        if trace.ON:
            trace.ready(ready)
        durable = None
        if ready.must_persist():
            durable = self._storage.persist_acceptor(ready.promised, ready.entries, ready.truncate)
            durable.add_done_callback(lambda _: self._loop.call_soon_threadsafe(self._flush))
        if ready.messages:
            self._outbox.append((durable, ready.messages))
            self._flush()
        if self._installing:
            self._held.extend(ready.chosen)
        else:
            for slot, value in ready.chosen:
                self._events.chosen(slot, value)
        for peer in ready.snapshots:
            if peer not in self._snapshots_out:
                self._snapshots_out.add(peer)
                asyncio.create_task(self._send_snapshot(peer))
        for request, index in ready.reads:
            future = self._reads.get(request)
            if future is not None and not future.done():
                future.set_result(index)

    def _flush(self) -> None:
        """Send, in order, the messages whose records are on disk."""
        while self._outbox:
            durable, messages = self._outbox[0]
            if durable is not None and not durable.done():
                return
            self._outbox.popleft()
            if durable is not None and durable.exception() is not None:
                # Stopping with the disk unwritable: their records are not
                # on disk, so the messages are not sent (as if lost).
                log.warning("dropped %d messages: %s", len(messages), durable.exception())
                continue
            for message in messages:
                if trace.ON:
                    trace.message("queued", message)
                if message.dst == self.member_id:
                    self._loop.call_soon(self._receive_own, message)
                else:
                    link = self._links.get(message.dst)
                    if link is not None:
                        link.send(paxos_wire.encode(message))

    def _receive_own(self, message) -> None:
        if trace.ON:
            trace.message("in", message)
        self.node.receive(message)
        self._drain()

    # ----------------------------------------------------------- snapshots

    async def _send_snapshot(self, peer: int) -> None:
        try:
            slot, zxid, items = await asyncio.to_thread(self._storage.state_snapshot)
            if slot < self.node.log_start - 1:
                return  # our own state is not durable that far yet: the core asks again
            chunks = [
                items[i : i + SNAPSHOT_CHUNK_ITEMS]
                for i in range(0, max(len(items), 1), SNAPSHOT_CHUNK_ITEMS)
            ]
            frames = [
                peer_pb2.SnapshotChunk(
                    src=self.member_id,
                    slot=slot,
                    zxid=zxid,
                    keys=[k for k, _ in chunk],
                    values=[v for _, v in chunk],
                    last=i == len(chunks) - 1,
                )  # fmt: skip
                for i, chunk in enumerate(chunks)
            ]
            metadata = self._trust.metadata(PEER + "InstallSnapshot", peer)
            async with self._trust.channel(peer) as channel:
                stub = peer_pb2_grpc.PeerStub(channel)
                await stub.InstallSnapshot(iter(frames), timeout=60, metadata=metadata)
            log.info("sent member %d a snapshot at slot %d (%d records)", peer, slot, len(items))
        except grpc.aio.AioRpcError as err:
            log.warning("snapshot to member %d failed: %s", peer, err.details())
        except StorageError as err:
            log.warning("no snapshot for member %d: %s", peer, err)
        finally:
            self._snapshots_out.discard(peer)

    async def install_snapshot(self, chunks: list[peer_pb2.SnapshotChunk]) -> bool:
        """Replace our state with a peer's; what is chosen meanwhile waits.
        Not while our disk cannot be written: the peer sends it again later."""
        last = chunks[-1]
        if last.slot <= self.applied_slot or self._installing or self._storage.failure:
            return False
        items = [(k, v) for chunk in chunks for k, v in zip(chunk.keys, chunk.values, strict=True)]
        self._installing = True
        try:
            await asyncio.wrap_future(self._storage.install_state(last.slot, last.zxid, items))
        finally:
            self._installing = False
        held, self._held = self._held, []
        self.applied_slot = last.slot
        self._events.state_installed(last.slot)
        self.node.install_snapshot(last.slot)
        for slot, value in held:
            if slot > last.slot:
                self._events.chosen(slot, value)
        self._drain()
        log.info("installed a snapshot at slot %d from member %d", last.slot, last.src)
        return True
