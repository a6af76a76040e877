"""A deterministic simulator for the sans-I/O Multi-Paxos core.

Everything that could vary comes from one seeded ``random.Random``: message
loss, duplication, delay (and so reordering), partitions and their healing,
crashes back to the durable state (some right after persisting and before
sending), restarts, truncation and snapshot catch-up, and client proposals.
The same seed replays the same run exactly.

After every step the world checks its invariants:
- no slot has two different chosen values (from the acceptors' disks: a
  value held by a quorum in one ballot is chosen; and from what members
  applied);
- every member's applied sequence is a prefix of one history;
- no acceptor's promise ever goes down, across crashes too.
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
from dataclasses import dataclass, field, replace

from coord.paxos import NOOP, ZERO, Ballot, Config, Node
from coord.paxos.messages import Accept, Entry, Message, Promise
from coord.rpc.peer_auth import in_own_name


class InvariantViolation(AssertionError):
    pass


@dataclass
class Faults:
    """A seed's fault mix; printed with a failure so it can be read."""

    drop: float
    duplicate: float
    max_delay: float
    partition_every: float  # mean seconds between partition changes; 0: none
    crash_every: float  # mean seconds between crashes; 0: none
    crash_after_persist: float  # chance a crash lands between persist and send
    truncate_tail: int  # keep this many applied slots in the log

    @classmethod
    def draw(cls, rng: random.Random) -> Faults:
        return cls(
            drop=rng.choice([0.0, 0.01, 0.05, 0.2]),
            duplicate=rng.choice([0.0, 0.02, 0.1]),
            max_delay=rng.choice([0.002, 0.02, 0.2]),
            partition_every=rng.choice([0.0, 1.0, 3.0]),
            crash_every=rng.choice([0.0, 1.0, 3.0]),
            crash_after_persist=rng.choice([0.0, 0.3]),
            truncate_tail=rng.choice([2, 10, 1000]),
        )

    @classmethod
    def none(cls) -> Faults:
        return cls(0.0, 0.0, 0.002, 0.0, 0.0, 0.0, 1000)


@dataclass
class Disk:
    """What survives a crash: the acceptor's records and the applied state."""

    promised: Ballot = ZERO
    accepted: dict[int, tuple[Ballot, bytes]] = field(default_factory=dict)
    log_start: int = 1
    applied: list[bytes] = field(default_factory=list)  # values of slots 1..n


@dataclass
class Member:
    id: int
    disk: Disk
    node: Node | None = None

    @property
    def alive(self) -> bool:
        return self.node is not None


CONFIG = Config(heartbeat=0.05, election_timeout=0.3, window=8, max_batch=4)
# Half the seeds run with combined slots (as the runtime does): a busy leader
# joins queued values into one slot; the checks split them again.
SEPARATOR = b"|"
COMBINED = replace(CONFIG, combine=SEPARATOR.join, combine_after=2, combine_bytes=40)
TICK = 0.02
RETRY_AFTER = 2.0
SETTLE_LIMIT = 60.0  # simulated seconds the healed cluster gets to converge
QUIET_DELAY = 0.005


INTRUDER = 0  # the identity an intruder's link proves: no member's
FORGED = b"forged"


class World:
    def __init__(
        self, seed: int, size: int, faults: Faults | None = None, authenticate: bool = True
    ) -> None:
        self.seed = seed
        self.size = size
        self.rng = random.Random(seed)
        self.faults = faults if faults is not None else Faults.draw(self.rng)
        # Drawn apart from self.rng, so the schedules stay what they were.
        self.config = COMBINED if random.Random(seed * 7 + 1).random() < 0.5 else CONFIG
        # The intruder has a generator of its own, for the same reason.
        self.intruder = random.Random(seed * 13 + 5)
        self.forge_rate = self.intruder.choice([0.0, 0.02, 0.1])
        self.authenticate = authenticate
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
        applied = {len(m.disk.applied) for m in self.members.values()}
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
        if member.alive:
            member.node.tick(self.now)
            self._drain(member)
        self._at(self.now + TICK, "tick", member_id)

    def _on_deliver(self, payload) -> None:
        msg, sender = payload
        if self.authenticate and not in_own_name(sender, [msg.src]):
            self.counts["forged refused"] += 1
            return
        member = self.members[msg.dst]
        if member.alive:
            member.node.receive(msg)
            self._drain(member)

    def _on_client(self, _) -> None:
        """A client proposes a new value, and retries (as clients do, with the
        same session and xid) values that were not chosen in time."""
        if self.now > self.client_stop:
            return
        value = f"v{len(self.proposed)}".encode()
        self.proposed.append(value)
        self._proposed_set.add(value)
        overdue = [v for v, due in self.unchosen.items() if due < self.now]
        for v in [value, *overdue]:
            self.unchosen[v] = self.now + RETRY_AFTER
            alive = [m for m in self.members.values() if m.alive]
            if alive:
                member = self.rng.choice(alive)
                member.node.propose(v)
                self._drain(member)
        self._at(self.now + self.rng.expovariate(1 / 0.03), "client", None)

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
        if member.alive and len(values) > len(member.disk.applied):
            self._check_prefix(member.id, values)
            member.disk.applied = list(values)
            member.node.install_snapshot(len(values))
            member.disk.log_start = member.node.log_start
            for slot in [s for s in member.disk.accepted if s < member.node.log_start]:
                del member.disk.accepted[slot]
            self.counts["snapshots"] += 1
            self._drain(member)

    # --------------------------------------------------------------- members

    def _boot(self, member: Member) -> None:
        disk = member.disk
        member.node = Node(
            member.id, self.ids, self.config, random.Random(self.rng.random()),
            now=self.now, promised=disk.promised, accepted=disk.accepted,
            log_start=disk.log_start, applied=len(disk.applied),
        )  # fmt: skip

    def _crash(self, member: Member) -> None:
        if member.alive:
            member.node = None
            self.counts["crashes"] += 1
            for other in self.members.values():
                if other.alive and self.rng.random() < 0.7:  # its connections break
                    other.node.peer_lost(member.id)
                    self._drain(other)

    def _drain(self, member: Member) -> None:
        """Do what a runtime does with a Ready: persist, then send and apply.

        The core forwards at least once (a duplicated Forward is proposed
        twice); exactly-once is the state machine's job, so a value may be
        chosen in two slots here."""
        while member.alive:
            ready = member.node.ready()
            if not (ready.must_persist() or ready.messages or ready.chosen or ready.snapshots):
                return
            self._persist(member, ready)
            if (
                self.faulty
                and ready.must_persist()
                and self.rng.random() < (self.faults.crash_after_persist * 0.01)
            ):
                self.counts["crash-after-persist"] += 1
                self._crash(member)
                self._at(self.now + self.rng.uniform(0.1, 1.0), "restart", member.id)
                return
            for msg in ready.messages:
                self._send(msg)
            for slot, value in ready.chosen:
                self._apply(member, slot, value)
            for peer in ready.snapshots:
                self._at(
                    self.now + self.faults.max_delay,
                    "snapshot",
                    (peer, tuple(member.disk.applied)),
                )
            tail = self.faults.truncate_tail
            if len(member.disk.applied) > tail and self.rng.random() < 0.1:
                member.node.truncate(len(member.disk.applied) - tail)

    def _persist(self, member: Member, ready) -> None:
        disk = member.disk
        if ready.promised is not None:
            if ready.promised < disk.promised:
                raise InvariantViolation(
                    f"member {member.id} promise went down: {disk.promised} -> {ready.promised}"
                )
            disk.promised = ready.promised
        for entry in ready.entries:
            disk.accepted[entry.slot] = (entry.ballot, entry.value)
        if ready.truncate:
            for slot in [s for s in disk.accepted if s <= ready.truncate]:
                del disk.accepted[slot]
            disk.log_start = max(disk.log_start, ready.truncate + 1)
        for entry in ready.entries:
            self._check_quorum_choice(entry.slot)

    def _send(self, msg: Message) -> None:
        if msg.dst == msg.src:
            self._at(self.now, "deliver", (msg, msg.src))
            return
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

    def _apply(self, member: Member, slot: int, value: bytes) -> None:
        applied = member.disk.applied
        if slot != len(applied) + 1:
            raise InvariantViolation(f"member {member.id} applied slot {slot} after {len(applied)}")
        applied.append(value)
        self._check_prefix(member.id, applied)

    # ------------------------------------------------------------ invariants

    def _check_prefix(self, member_id: int, applied) -> None:
        n = len(applied)
        if n > len(self.history):
            if list(applied[: len(self.history)]) != self.history:
                raise InvariantViolation(f"member {member_id} diverged before slot {n}")
            for value in applied[len(self.history) :]:
                self._check_proposed(value)
                self.history.append(value)
                for proposal in value.split(SEPARATOR):
                    self.unchosen.pop(proposal, None)
        elif applied[n - 1] != self.history[n - 1]:
            raise InvariantViolation(
                f"slot {n}: member {member_id} applied {applied[n - 1]!r}, "
                f"history has {self.history[n - 1]!r}"
            )

    def _check_proposed(self, value: bytes) -> None:
        if value == NOOP:
            return
        for proposal in value.split(SEPARATOR):
            if proposal not in self._proposed_set:
                raise InvariantViolation(f"applied {proposal!r}, which no client proposed")

    def _check_quorum_choice(self, slot: int) -> None:
        holders: dict[tuple[Ballot, bytes], int] = defaultdict(int)
        for member in self.members.values():
            record = member.disk.accepted.get(slot)
            if record is not None:
                holders[record] += 1
        quorum = self.size // 2 + 1
        for (_, value), count in holders.items():
            if count >= quorum:
                chosen = self.quorum_chosen.setdefault(slot, value)
                if chosen != value:
                    raise InvariantViolation(f"slot {slot} chosen twice: {chosen!r} and {value!r}")

    def _check_converged(self, first_quiet: int) -> None:
        lengths = {m.id: len(m.disk.applied) for m in self.members.values()}
        if len(set(lengths.values())) != 1:
            raise InvariantViolation(f"members did not converge: applied {lengths}")
        chosen = {p for v in self.history if v != NOOP for p in v.split(SEPARATOR)}
        lost = [v for v in self.proposed[first_quiet:] if v not in chosen]
        if lost:
            raise InvariantViolation(f"{len(lost)} proposals after healing not chosen: {lost[:3]}")

    # ----------------------------------------------------------------- chaos

    def _schedule_chaos(self) -> None:
        if self.faults.partition_every:
            self._at(self.rng.expovariate(1 / self.faults.partition_every), "partition", None)
        self._schedule_crash()

    def _schedule_crash(self) -> None:
        if self.faults.crash_every and self.faulty:
            victim = self.rng.choice(self.ids)
            self._at(self.now + self.rng.expovariate(1 / self.faults.crash_every), "crash", victim)

    def _heal(self) -> None:
        self.faulty = False
        self.blocked = set()
        for member in self.members.values():
            if not member.alive:
                self._boot(member)

    def summary(self) -> str:
        faults = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        return (
            f"seed {self.seed} size {self.size}: {self.steps} steps, "
            f"{len(self.history)} slots chosen, {len(self.proposed)} proposals; "
            f"faults {self.faults}; injected {faults or 'none'}"
        )


def replay_command(seed: int, size: int) -> str:
    return f"python scripts/simulate --seed {seed} --size {size}"
