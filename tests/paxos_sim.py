"""A deterministic simulator for the Multi-Paxos core and its driver.

Every member runs the production driver (coord/member/driver.py) over an
in-memory Store (its ``Disk``: a write lands after a simulated delay, in
order) and an in-memory Transport (the network below), so what the tests
check is the code that decides when a record is durable and a message may
leave, not a copy of it.

Everything that could vary comes from one seeded ``random.Random``: message
loss, duplication, delay (and so reordering), disk latency, partitions and
their healing, crashes back to the durable state (the writes in flight
landing or not; some crashes while a write is in flight, some right after
it landed and before the driver heard of it), restarts, pauses (a member
stalls, then handles its backlog in some order: a leader may wake still
believing it leads), truncation and snapshot catch-up, and client
proposals and reads. The same seed replays the same run exactly.

After every step the world checks its invariants (tests/sim_invariants.py):
- no slot has two different chosen values (from the acceptors' disks: a
  value held by a quorum in one ballot is chosen; and from what members
  applied);
- every member's applied sequence is a prefix of one history;
- no acceptor's promise ever goes down, across crashes too;
- what an acceptor told a peer (the ballot it promised or accepted in)
  survives its crash: its disk holds that promise;
- a read index (sync) covers every slot some member applied before the
  read was asked for.
Then faults stop, everything heals, and every member must converge and
every proposal made after the healing must be chosen.

An intruder on the network forges messages in members' names (real messages
re-addressed, their values replaced): the network authenticates every link
as production's peer door does, so a message whose claimed sender is not the
link's proven member is dropped (``coord.rpc.peer_auth.in_own_name``). With
authentication off, forged values get chosen and the checks say so; every
value applied must be one a client proposed.
"""

from __future__ import annotations

import heapq
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from coord.member.driver import Driver
from coord.member.ports import Done
from coord.paxos import Ballot, Config, Message
from coord.paxos.messages import Accept, Accepted, Entry, Promise, Reject
from coord.rpc.peer_auth import in_own_name
from tests.sim_faults import Faults
from tests.sim_invariants import SEPARATOR, Invariants, InvariantViolation
from tests.sim_member import Disk, Member, MemberAbove, MemberNetwork, MemberStore

CONFIG = Config(heartbeat=0.05, election_timeout=0.3, window=8, max_batch=4)
# Half the seeds run with combined slots (as the runtime does): a busy leader
# joins queued values into one slot; the checks split them again.
COMBINED = replace(CONFIG, combine=SEPARATOR.join, combine_after=2, combine_bytes=40)
TICK = 0.02
RETRY_AFTER = 2.0
SETTLE_LIMIT = 60.0  # simulated seconds the healed cluster gets to converge
QUIET_DELAY = 0.005
READ_RATE = 0.3  # of the clients' turns, those that also read
PAUSE_JITTER = 0.01  # a paused member's backlog is handled within this, in any order


INTRUDER = 0  # the identity an intruder's link proves: no member's
FORGED = b"forged"


class World(Invariants):
    def __init__(
        self,
        seed: int,
        size: int,
        faults: Faults | None = None,
        authenticate: bool = True,
        driver: type[Driver] = Driver,
    ) -> None:
        self.seed = seed
        self.driver_class = driver  # the tests plant bugs in a subclass
        self.size = size
        self.rng = random.Random(seed)
        # Pauses are drawn from a generator of their own, so that the other
        # faults' schedules stay what they were without them.
        self.pauser = random.Random(seed * 19 + 7)
        if faults is None:
            pause_every = self.pauser.choice([0.0, 1.0, 3.0])
            faults = replace(Faults.draw(self.rng), pause_every=pause_every)
        self.faults = faults
        # Drawn apart from self.rng, so the schedules stay what they were.
        self.config = COMBINED if random.Random(seed * 7 + 1).random() < 0.5 else CONFIG
        # The intruder has a generator of its own, for the same reason.
        self.intruder = random.Random(seed * 13 + 5)
        self.forge_rate = self.intruder.choice([0.0, 0.02, 0.1])
        self.authenticate = authenticate
        # Reads (read indexes) are drawn from a generator of their own too.
        self.reader = random.Random(seed * 17 + 3)
        self.reads: dict[int, int] = {}  # request -> the slot its index must reach
        self.now = 0.0
        self._events: list[tuple[float, int, str, object]] = []
        self._seq = 0
        self.ids = list(range(1, size + 1))
        self.members = {i: Member(i, Disk()) for i in self.ids}
        self.blocked: set[tuple[int, int]] = set()
        self.history: list[bytes] = []  # the one chosen sequence, as applied
        self.quorum_chosen: dict[int, bytes] = {}
        self.proposed: list[bytes] = []
        self._proposed_set: set[bytes] = set()
        self.unchosen: dict[bytes, float] = {}  # proposed value -> when to retry
        self.faulty = True
        self.client_stop = float("inf")
        self.steps = 0
        self.counts: dict[str, int] = defaultdict(int)
        for member in self.members.values():
            self._boot(member)
            self._at(self.rng.uniform(0, TICK), "tick", member.id)

    # ------------------------------------------------------------ scheduling

    def _at(self, when: float, kind: str, payload: object) -> None:
        self._seq += 1
        heapq.heappush(self._events, (when, self._seq, kind, payload))

    def run(self, fault_seconds: float = 5.0, quiet_seconds: float = 2.0) -> None:
        """Faults for a while; then heal, keep the clients going for a while,
        stop them, and require convergence within a generous bound."""
        self._schedule_chaos()
        self._at(0.05, "client", None)
        self._run_until(fault_seconds)
        self._heal()
        first_quiet = len(self.proposed)
        self.client_stop = fault_seconds + quiet_seconds
        deadline = self.client_stop + SETTLE_LIMIT
        while self.now < deadline and not (self.now > self.client_stop and self._settled()):
            self._run_until(self.now + 0.5)
        self._check_converged(first_quiet)

    def _settled(self) -> bool:
        applied = {len(m.applied) for m in self.members.values()}
        return not self.unchosen and len(applied) == 1

    def _run_until(self, end: float) -> None:
        while self._events and self._events[0][0] <= end:
            when, _, kind, payload = heapq.heappop(self._events)
            self.now = when
            self.steps += 1
            getattr(self, f"_on_{kind}")(payload)
        self.now = end

    # ----------------------------------------------------------------- events

    def _on_tick(self, member_id: int) -> None:
        member = self.members[member_id]
        if self._deferred(member, "tick", member_id):
            return
        if member.alive:
            member.driver.tick(self.now)
            tail = self.faults.truncate_tail
            if len(member.disk.applied) > tail and self.rng.random() < 0.5:
                member.driver.truncate(len(member.disk.applied) - tail)
        self._at(self.now + TICK, "tick", member_id)

    def _on_deliver(self, payload) -> None:
        msg, sender = payload
        if self.authenticate and not in_own_name(sender, [msg.src]):
            self.counts["forged refused"] += 1
            return
        member = self.members[msg.dst]
        if self._deferred(member, "deliver", payload):
            return
        if member.alive:
            member.driver.receive([msg])

    def _on_client(self, _) -> None:
        """A client proposes a new value, and retries (as clients do, with the
        same session and xid) values that were not chosen in time; once the
        clients stop, only the retries go on, until every value is chosen."""
        fresh = []
        if self.now <= self.client_stop:
            value = f"v{len(self.proposed)}".encode()
            self.proposed.append(value)
            self._proposed_set.add(value)
            fresh.append(value)
        elif not self.unchosen:
            return
        overdue = [v for v, due in self.unchosen.items() if due < self.now]
        for v in [*fresh, *overdue]:
            self.unchosen[v] = self.now + RETRY_AFTER
            serving = self._serving()
            if serving:
                self.rng.choice(serving).driver.propose(v, float("inf"))
        if fresh and self.reader.random() < READ_RATE:
            self._read()
        self._at(self.now + self.rng.expovariate(1 / 0.03), "client", None)

    def _read(self) -> None:
        """A client asks a member for a read index (a sync): every value a
        member applied before it asked (one a client may have seen) must lie
        at or below the index it gets."""
        alive = [m for m in self.members.values() if m.alive]
        if alive:
            request = len(self.reads) + 1
            self.reads[request] = len(self.history)
            self._on_read((self.reader.choice(alive).id, request))

    def _on_read(self, payload: tuple[int, int]) -> None:
        """A read reaches its member (a stalled one handles it with its
        backlog, once its pause ends)."""
        member_id, request = payload
        member = self.members[member_id]
        if not self._deferred(member, "read", payload) and member.alive:
            member.driver.read_index(request)

    def _serving(self) -> list[Member]:
        """The members a client can reach: alive and not paused (a client
        of a stalled member times out and goes to another)."""
        return [m for m in self.members.values() if m.alive and m.paused_until <= self.now]

    def _deferred(self, member: Member, kind: str, payload: object) -> bool:
        """Whether the event waits for the member's pause to end (it is
        handled then, in some order among the others that waited)."""
        if member.paused_until <= self.now:
            return False
        self._at(member.paused_until + self.pauser.uniform(0, PAUSE_JITTER), kind, payload)
        return True

    def _on_pause(self, member_id: int) -> None:
        member = self.members[member_id]
        if self.faulty and member.alive:
            member.paused_until = self.now + self.pauser.uniform(0.1, 1.0)
            self.counts["pauses"] += 1
        self._schedule_pause()

    def _schedule_pause(self) -> None:
        if self.faults.pause_every and self.faulty:
            victim = self.pauser.choice(self.ids)
            when = self.now + self.pauser.expovariate(1 / self.faults.pause_every)
            self._at(when, "pause", victim)

    def _on_crash(self, member_id: int) -> None:
        if self.faulty:
            self._crash(self.members[member_id])
            self._at(self.now + self.rng.uniform(0.1, 1.5), "restart", member_id)
        self._schedule_crash()

    def _on_restart(self, member_id: int) -> None:
        member = self.members[member_id]
        if not member.alive:
            self._boot(member)

    def _on_partition(self, _) -> None:
        if not self.faulty:
            return
        self.blocked = set()
        shape = self.rng.choice(["heal", "isolate", "one-way", "random"])
        if shape == "isolate":
            victim = self.rng.choice(self.ids)
            self.blocked = {(victim, o) for o in self.ids} | {(o, victim) for o in self.ids}
        elif shape == "one-way":
            a, b = self.rng.sample(self.ids, 2)
            self.blocked = {(a, b)}
        elif shape == "random":
            self.blocked = {
                (a, b) for a in self.ids for b in self.ids if a != b and self.rng.random() < 0.3
            }
        self.counts[f"partition-{shape}"] += 1
        next_change = self.now + self.rng.expovariate(1 / self.faults.partition_every)
        self._at(next_change, "partition", None)

    def _on_snapshot(self, payload) -> None:
        dst, values = payload
        member = self.members[dst]
        if self._deferred(member, "snapshot", payload):
            return
        if member.alive:
            member.driver.install_snapshot(len(values), 0, list(values), self._installed)

    def _installed(self, error: BaseException | None) -> None:
        assert error is None, error

    def _on_written(self, payload) -> None:
        """A member's oldest write lands; sometimes the member crashes right
        then, before its driver hears of it (and so before it sends)."""
        member_id, incarnation = payload
        member = self.members[member_id]
        if member.incarnation != incarnation or self._deferred(member, "written", payload):
            return
        land, done = member.writes.popleft()
        land()
        if self.faulty and self.rng.random() < self.faults.crash_after_persist * 0.01:
            self.counts["crash-after-persist"] += 1
            self._crash(member)
            self._at(self.now + self.rng.uniform(0.1, 1.0), "restart", member.id)
            return
        done(None)

    # --------------------------------------------------------------- members

    def _boot(self, member: Member) -> None:
        above = MemberAbove(self, member)
        member.paused_until = 0.0  # a new process
        member.applied = list(member.disk.applied)
        member.driver = self.driver_class(
            member.id, self.ids, self.config, random.Random(self.rng.random()), self.now,
            len(member.applied), MemberStore(self, member), MemberNetwork(self, member),
            above, above,
        )  # fmt: skip

    def _crash(self, member: Member) -> None:
        """Back to what the disk holds: of the writes in flight, those before
        a random point landed (a disk keeps writes in order), the rest did not."""
        if not member.alive:
            return
        landed = self.rng.randint(0, len(member.writes))
        for land, _ in list(member.writes)[:landed]:
            land()
        self.counts["writes lost in crashes"] += len(member.writes) - landed
        member.writes.clear()
        member.driver = None
        member.incarnation += 1
        self.counts["crashes"] += 1
        self._check_revealed(member)
        for other in self.members.values():
            if other.alive and self.rng.random() < 0.7:  # its connections break
                other.driver.peer_lost(member.id)

    def write(
        self, member: Member, land: Callable[[], None], done: Done, may_land_now: bool = False
    ) -> None:
        if may_land_now and not member.writes and self.rng.random() < self.faults.disk_at_once:
            self.counts["writes landed within the call"] += 1
            land()
            done(None)
            return
        when = max(member.disk_free_at, self.now + self.rng.uniform(0, self.faults.disk_delay))
        member.disk_free_at = when
        member.writes.append((land, done))
        self._at(when, "written", (member.id, member.incarnation))
        if self.faulty and self.rng.random() < self.faults.crash_mid_write * 0.01:
            self._at(self.rng.uniform(self.now, when), "power_cut", member.id)

    def _on_power_cut(self, member_id: int) -> None:
        member = self.members[member_id]
        if self.faulty and member.alive:
            self.counts["crash-mid-write"] += 1
            self._crash(member)
            self._at(self.now + self.rng.uniform(0.1, 1.0), "restart", member.id)

    def land_acceptor(
        self, member: Member, promised: Ballot | None, entries: list[Entry], truncate: int
    ) -> None:
        disk = member.disk
        if promised is not None:
            if promised < disk.promised:
                raise InvariantViolation(
                    f"member {member.id} promise went down: {disk.promised} -> {promised}"
                )
            disk.promised = promised
        if truncate:
            for slot in [s for s in disk.accepted if s <= truncate]:
                del disk.accepted[slot]
            disk.log_start = max(disk.log_start, truncate + 1)
        for entry in entries:
            if entry.slot > truncate:
                disk.accepted[entry.slot] = (entry.ballot, entry.value)
        for entry in entries:
            self._check_quorum_choice(entry.slot)

    def land_state(self, member: Member, slot: int, values: tuple[bytes, ...]) -> None:
        self._check_prefix(member.id, values)
        disk = member.disk
        disk.applied = list(values)
        for s in [s for s in disk.accepted if s <= slot]:
            del disk.accepted[s]
        disk.log_start = slot + 1

    def send(self, member: Member, msg: Message) -> None:
        if isinstance(msg, Promise | Accepted):
            member.revealed = max(member.revealed, msg.ballot)
        if isinstance(msg, Accepted):
            accepted = member.driver.node.accepted
            for slot in range(msg.start, msg.match + 1):
                entry = accepted.get(slot)
                if entry is not None and entry[0] == msg.ballot:
                    member.revealed_entries[slot] = msg.ballot
        elif isinstance(msg, Reject):
            member.revealed = max(member.revealed, msg.promised)
        if not self.faulty:
            self._at(self.now + self.rng.uniform(0, QUIET_DELAY), "deliver", (msg, msg.src))
            return
        if self.intruder.random() < self.forge_rate:
            self._forge(msg)
        faults = self.faults
        if (msg.src, msg.dst) in self.blocked or self.rng.random() < faults.drop:
            return
        copies = 2 if self.rng.random() < faults.duplicate else 1
        for _ in range(copies):
            self._at(self.now + self.rng.uniform(0, faults.max_delay), "deliver", (msg, msg.src))

    def ship_snapshot(self, member: Member, peer: int) -> None:
        """A member's applied state, on its way to `peer`."""
        delay = self.rng.uniform(0, self.faults.max_delay)
        self._at(self.now + delay, "snapshot", (peer, tuple(member.disk.applied)))

    def _forge(self, msg: Message) -> None:
        """The intruder copies a message seen on the wire, puts it in another
        member's name and its own values in it, and sends it on its own link."""
        claimed = self.intruder.choice([i for i in self.ids if i != msg.dst])
        if isinstance(msg, Accept):
            forged = replace(msg, src=claimed, values=tuple(FORGED for _ in msg.values))
        elif isinstance(msg, Promise):
            entries = tuple(Entry(e.slot, e.ballot, FORGED) for e in msg.entries)
            forged = replace(msg, src=claimed, entries=entries)
        else:
            forged = replace(msg, src=claimed)
        self.counts["forged"] += 1
        self._at(self.now + self.intruder.uniform(0, 0.05), "deliver", (forged, INTRUDER))

    def apply(self, member: Member, slot: int, value: bytes) -> None:
        """A member applies a chosen value. The core forwards at least once
        (a duplicated Forward is proposed twice); exactly-once is the state
        machine's job, so a value may be chosen in two slots here."""
        applied = member.applied
        if slot != len(applied) + 1:
            raise InvariantViolation(f"member {member.id} applied slot {slot} after {len(applied)}")
        applied.append(value)
        member.driver.applied(slot)
        self._check_prefix(member.id, applied)
        # The state goes to disk behind the writes asked for before it.
        self.write(member, partial(self.land_applied, member, slot, value), _unheard)

    def land_applied(self, member: Member, slot: int, value: bytes) -> None:
        if len(member.disk.applied) == slot - 1:  # not already in a snapshot
            member.disk.applied.append(value)

    # ----------------------------------------------------------------- chaos

    def _schedule_chaos(self) -> None:
        if self.faults.partition_every:
            self._at(self.rng.expovariate(1 / self.faults.partition_every), "partition", None)
        self._schedule_crash()
        self._schedule_pause()

    def _schedule_crash(self) -> None:
        if self.faults.crash_every and self.faulty:
            victim = self.rng.choice(self.ids)
            self._at(self.now + self.rng.expovariate(1 / self.faults.crash_every), "crash", victim)

    def _heal(self) -> None:
        self.faulty = False
        self.blocked = set()
        for member in self.members.values():
            member.paused_until = min(member.paused_until, self.now)
            if not member.alive:
                self._boot(member)

    def summary(self) -> str:
        faults = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        return (
            f"seed {self.seed} size {self.size}: {self.steps} steps, "
            f"{len(self.history)} slots chosen, {len(self.proposed)} proposals; "
            f"faults {self.faults}; injected {faults or 'none'}"
        )


def _unheard(error: BaseException | None) -> None:
    """The driver is not told when the applied state lands."""


def replay_command(seed: int, size: int) -> str:
    return f"python scripts/simulate --seed {seed} --size {size}"
