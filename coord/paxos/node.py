"""One Multi-Paxos member: acceptor, proposer and learner in one object.

Inputs: ``tick(now)``, ``receive(message)``, ``propose(value)``,
``read_index(request)``, ``peer_lost(peer)``, ``install_snapshot(slot)``,
``truncate(slot)``. Output: ``ready()`` returns everything the runtime must
do, in this order: persist ``promised``/``entries``/``truncate`` durably;
then send ``messages`` (those addressed to this member come back through
``receive``); apply ``chosen`` in slot order; ship a state snapshot to each
peer in ``snapshots``; answer each read in ``reads`` once applied that far.

The protocol, in short:
- Ballots are (round, member). A follower that stops hearing its leader (a
  randomized timeout, or at once when the leader's connection breaks) first
  probes its peers (pre-vote: granted only by members that have lost the
  leader too and are not ahead of it), then promises its new ballot to
  itself durably and runs phase 1 once for every slot after its commit point.
- The new leader adopts, per slot, the value with the highest accepted ballot
  among a quorum's promises, fills holes with no-ops, and re-proposes all of
  them in its ballot before new work.
- Phase 2 is pipelined (up to ``window`` unchosen slots) and batched (each
  Accept carries a run of slots); or, with ``combine``, a busy leader joins
  the values queued behind ``combine_after`` slots in flight into one.
  Followers learn the commit point from the next Accept or heartbeat, and
  mark a slot chosen only if they accepted it in the ballot that chose it
  (the learner rule); otherwise the leader's gap detection resends it.
- The leader counts its own vote only after its own acceptor has persisted
  the slot: it sends itself the same Accept as everyone else.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from coord.paxos.ballot import ZERO, Ballot, quorum
from coord.paxos.messages import (
    Accept,
    Accepted,
    Entry,
    Forward,
    Message,
    Prepare,
    Probe,
    ProbeReply,
    Promise,
    ReadIndex,
    ReadIndexReply,
    Reject,
)

NOOP = b""
MAX_MESSAGES_PER_SEND = 8  # per peer per ready(); replies pull the rest


class Role(Enum):
    FOLLOWER = "follower"
    CANDIDATE = "candidate"  # probing (pre-vote)
    PREPARING = "preparing"  # phase 1
    LEADER = "leader"


@dataclass(frozen=True)
class Config:
    heartbeat: float = 0.1
    election_timeout: float = 1.0  # a follower waits a random time in [E, 2E]
    window: int = 64  # unchosen slots in flight
    max_batch: int = 64  # slots per Accept message
    # With `combine`, the values queued while `combine_after` slots are in
    # flight share the next slot (up to `combine_bytes`), so a busy leader
    # proposes fewer, larger slots: every slot costs each member messages, an
    # fsync and an apply (Nagle's algorithm, for slots). None: one value per
    # slot, up to `window` in flight.
    combine: Callable[[list[bytes]], bytes] | None = None
    combine_after: int = 1
    combine_bytes: int = 1 << 20
    # A read-index request that found no leader for this long is dropped.
    forward_timeout: float = 5.0


@dataclass
class Ready:
    promised: Ballot | None = None
    entries: list[Entry] = field(default_factory=list)
    truncate: int = 0  # drop accepted entries up to this slot
    messages: list[Message] = field(default_factory=list)
    chosen: list[tuple[int, bytes]] = field(default_factory=list)
    snapshots: list[int] = field(default_factory=list)
    reads: list[tuple[int, int]] = field(default_factory=list)  # (request, index); 0: refused

    def must_persist(self) -> bool:
        return self.promised is not None or bool(self.entries) or bool(self.truncate)


@dataclass
class _PendingRead:
    request: int
    origin: int | None  # the follower that asked, or None for our own
    index: int
    seq: int


class Node:
    def __init__(
        self,
        member_id: int,
        members: list[int],
        config: Config,
        rng: random.Random,
        *,
        now: float = 0.0,
        promised: Ballot = ZERO,
        accepted: dict[int, tuple[Ballot, bytes]] | None = None,
        log_start: int = 1,
        applied: int = 0,
    ) -> None:
        if member_id not in members:
            raise ValueError(f"member {member_id} is not in {members}")
        self.id = member_id
        self.members = tuple(sorted(members))
        self.others = tuple(m for m in self.members if m != member_id)
        self.quorum = quorum(len(self.members))
        self.config = config
        self.rng = rng
        self.now = now
        # Acceptor state (durable).
        self.promised = promised
        self.accepted: dict[int, tuple[Ballot, bytes]] = dict(accepted or {})
        self.log_start = log_start
        # Learner state.
        self.commit = max(applied, log_start - 1)
        self.delivered = self.commit
        self._match_cache: tuple[Ballot, int] = (ZERO, 0)
        # Who leads, as far as we know.
        self.role = Role.FOLLOWER
        self.leader: int | None = None
        self.leader_alive = False
        self._heard = now
        self.round_seen = promised.round
        self.deadline = now + self._election_timeout()
        self._grants: set[int] = set()
        self._probe_round = 0
        self._promises: dict[int, Promise] = {}
        self._from_slot = 0
        # Proposer state (meaningful while preparing or leading).
        self.ballot = ZERO
        self._proposed: dict[int, bytes] = {}
        self._queue: deque[tuple[float, bytes]] = deque()  # (expires, value)
        self._next_slot = 0
        self._next: dict[int, int] = {}
        self._match: dict[int, int] = {}
        self._rewound_seq: dict[int, int] = {}
        self._last_ack: dict[int, float] = {}
        self._acked_seq: dict[int, int] = {}
        self._snapshot_sent: dict[int, float] = {}
        self._seq = 0
        self._sent_through = 0
        self._barrier = 0
        self._appends_due = False
        self._commit_due = False
        self._heartbeat_due = False
        self._next_heartbeat = 0.0
        self._reads: list[_PendingRead] = []
        # Follower side: proposals waiting for a leader, reads sent to it.
        self._unforwarded: list[tuple[float, bytes]] = []  # (expires, value)
        self._unasked_reads: list[tuple[float, int]] = []  # (asked at, request)
        # request -> (asked at, the leader asked, when we last asked it)
        self._asked_reads: dict[int, tuple[float, int, float]] = {}
        self._out = Ready()

    # ================================================================ inputs

    def tick(self, now: float) -> None:
        self.now = now
        if self.role is Role.LEADER:
            if now >= self._next_heartbeat:
                self._heartbeat_due = True
            self._check_quorum()
            for peer, sent in list(self._snapshot_sent.items()):
                if now - sent > self.config.election_timeout:
                    del self._snapshot_sent[peer]  # no word: offer it again
            return
        if self.leader_alive and now - self._heard > self.config.election_timeout:
            self.leader_alive = False
        if self._unforwarded and min(t for t, _ in self._unforwarded) < now:
            self._unforwarded = [(t, v) for t, v in self._unforwarded if t >= now]
        horizon = now - self.config.forward_timeout
        if self._unasked_reads and self._unasked_reads[0][0] < horizon:
            self._unasked_reads = [(t, r) for t, r in self._unasked_reads if t >= horizon]
        for request, (asked_at, _, sent_at) in list(self._asked_reads.items()):
            if asked_at < horizon:
                del self._asked_reads[request]
            elif now - sent_at > self.config.election_timeout:
                # No answer: the message may have been lost. Ask again.
                del self._asked_reads[request]
                self._unasked_reads.append((asked_at, request))
        if now >= self.deadline or (not self.others and self.role is Role.FOLLOWER):
            self._start_probe()

    def propose(self, value: bytes, expires: float = float("inf")) -> None:
        """Queue a value; a follower forwards it to the leader it knows. A
        value no leader has taken by `expires` is dropped, so a request its
        client was told had failed cannot take effect later."""
        if self.role is Role.LEADER:
            self._queue.append((expires, value))
            self._propose_queued()
        else:
            self._unforwarded.append((expires, value))

    def read_index(self, request: int) -> None:
        """Ask for a read index confirmed by a quorum (sync, linearizable
        reads). Without a leader the request waits for one; the runtime
        decides how long it may wait."""
        if self.role is Role.LEADER:
            self._add_read(request, None)
        else:
            self._unasked_reads.append((self.now, request))

    def peer_lost(self, peer: int) -> None:
        """The runtime saw a peer's connection break. A follower that lost
        its leader stops waiting for a timeout that can only confirm it; a
        leader left without a quorum of connections steps down at once, so
        it takes no writes it cannot commit."""
        if peer == self.leader and self.role is Role.FOLLOWER:
            self.leader_alive = False
            self._start_probe()
        elif self.role is Role.LEADER and peer in self._last_ack:
            self._last_ack[peer] = float("-inf")
            self._check_quorum()

    def install_snapshot(self, slot: int) -> None:
        """The runtime installed a state snapshot that covers slots <= slot."""
        if slot <= self.commit:
            return
        self.commit = self.delivered = slot
        self._drop_through(slot)

    def truncate(self, slot: int) -> None:
        """The applied state is durable through `slot`: drop the log below."""
        slot = min(slot, self.delivered)
        if slot >= self.log_start:
            self._drop_through(slot)

    def _drop_through(self, slot: int) -> None:
        for s in [s for s in self.accepted if s <= slot]:
            del self.accepted[s]
        for s in [s for s in self._proposed if s <= slot]:
            del self._proposed[s]
        self.log_start = slot + 1
        self._out.truncate = slot

    def receive(self, msg: Message) -> None:
        handler = _HANDLERS[type(msg)]
        handler(self, msg)

    # =============================================================== output

    def ready(self) -> Ready:
        """Everything to do now; see the module docstring for the order."""
        if self.role is Role.LEADER:
            if self._heartbeat_due:
                self._heartbeat_due = False
                self._next_heartbeat = self.now + self.config.heartbeat
                self._seq += 1
                for peer in self.members:
                    if peer == self.id:
                        if self._next[peer] < self._next_slot:
                            self._send_appends(peer)
                    else:
                        self._send_appends(peer, heartbeat=True)
                self._confirm_reads()
            elif self._appends_due or self._commit_due:
                # New slots go out; where there are none, a moved commit point
                # goes out alone, so followers answer their clients promptly.
                for peer in self.members:
                    if self._next[peer] < self._next_slot:
                        self._send_appends(peer)
                    elif self._commit_due and peer != self.id:
                        self._send_appends(peer, heartbeat=True)
            self._appends_due = self._commit_due = False
        elif self.leader is not None and self.leader_alive:
            if self._unforwarded:
                values = tuple(v for _, v in self._unforwarded)
                self._send(Forward(self.id, self.leader, values))
                self._unforwarded = []
            # Ask the leader we follow now, again if we asked an earlier one.
            stale = [(t, r) for r, (t, ldr, _) in self._asked_reads.items() if ldr != self.leader]
            for asked_at, request in [*stale, *self._unasked_reads]:
                self._send(ReadIndex(self.id, self.leader, request))
                self._asked_reads[request] = (asked_at, self.leader, self.now)
            self._unasked_reads = []
        out, self._out = self._out, Ready()
        return out

    # ============================================================ elections

    def _election_timeout(self) -> float:
        timeout = self.config.election_timeout
        return self.rng.uniform(timeout, 2 * timeout)

    def _note_round(self, round_: int) -> None:
        self.round_seen = max(self.round_seen, round_)

    def _start_probe(self) -> None:
        self.role = Role.CANDIDATE
        self.leader = None
        self.leader_alive = False
        self.deadline = self.now + self._election_timeout()
        self._probe_round = max(self.round_seen, self.promised.round) + 1
        self._grants = {self.id}
        for peer in self.others:
            self._send(Probe(self.id, peer, self._probe_round, self.commit))
        self._maybe_prepare()

    def _on_probe(self, msg: Probe) -> None:
        # Prefer candidates that are not far behind (they would need long
        # catch-up), but do not split hairs: followers learn the commit point
        # a heartbeat apart, and refusing a peer one slot behind would cost a
        # whole election timeout. Safety never rests on this check.
        granted = (
            self.role is not Role.LEADER
            and not self.leader_alive
            and msg.commit + self.config.window >= self.commit
        )
        self._send(ProbeReply(self.id, msg.src, msg.round, granted))

    def _on_probe_reply(self, msg: ProbeReply) -> None:
        if self.role is Role.CANDIDATE and msg.round == self._probe_round and msg.granted:
            self._grants.add(msg.src)
            self._maybe_prepare()

    def _maybe_prepare(self) -> None:
        if len(self._grants) < self.quorum:
            return
        self.ballot = Ballot(max(self.round_seen, self.promised.round) + 1, self.id)
        self._note_round(self.ballot.round)
        self.role = Role.PREPARING
        self.deadline = self.now + self._election_timeout()
        # Our own promise is persisted before any Prepare leaves, so a
        # restart never reuses this ballot.
        self.promised = self._out.promised = self.ballot
        self._from_slot = self.commit + 1
        self._promises = {self.id: self._promise_for(self.ballot, self._from_slot, self.id)}
        for peer in self.others:
            self._send(Prepare(self.id, peer, self.ballot, self._from_slot))
        self._maybe_lead()

    def _step_down(self) -> None:
        if self.role is Role.LEADER:
            # Our own reads go to the next leader; followers' are refused
            # (they ask the next leader themselves).
            for read in self._reads:
                if read.origin is None:
                    self._unasked_reads.append((self.now, read.request))
                else:
                    self._answer_read(read, 0)
            self._reads = []
            # Values sent out may yet be chosen (their outcome is unknown);
            # those that never left, and queued ones, go to the next leader.
            unsent = sorted(s for s in self._proposed if s > max(self._sent_through, self._barrier))
            self._unforwarded.extend((float("inf"), self._proposed[s]) for s in unsent)
            self._unforwarded.extend(self._queue)
            self._queue.clear()
        self.role = Role.FOLLOWER
        self.leader = None
        self.leader_alive = False
        self._proposed = {}
        self.deadline = self.now + self._election_timeout()

    def _check_quorum(self) -> None:
        """A leader that has not heard from a quorum for an election timeout
        steps down: it may be on the minority side of a partition."""
        horizon = self.now - self.config.election_timeout
        heard = 1 + sum(1 for peer in self.others if self._last_ack.get(peer, -1.0) >= horizon)
        if heard < self.quorum:
            self._step_down()

    # ============================================================== phase 1

    def _promise_for(self, ballot: Ballot, from_slot: int, dst: int) -> Promise:
        entries = tuple(
            Entry(slot, *self.accepted[slot]) for slot in sorted(self.accepted) if slot >= from_slot
        )
        return Promise(self.id, dst, ballot, entries, self.commit, self.log_start)

    def _admit(self, msg: Prepare | Accept) -> bool:
        """The acceptor's rule: refuse a ballot below our promise; promise
        (durably, with this Ready) a higher one, which ends any ambition of
        our own."""
        self._note_round(msg.ballot.round)
        if msg.ballot < self.promised:
            self._send(Reject(self.id, msg.src, msg.ballot, self.promised))
            return False
        if msg.ballot > self.promised:
            self.promised = self._out.promised = msg.ballot
            if self.role is not Role.FOLLOWER and msg.src != self.id:
                self._step_down()
        return True

    def _on_prepare(self, msg: Prepare) -> None:
        if not self._admit(msg):
            return
        # A would-be leader is at work: give it time before running ourselves.
        self.deadline = self.now + self._election_timeout()
        self._send(self._promise_for(msg.ballot, msg.from_slot, msg.src))

    def _on_promise(self, msg: Promise) -> None:
        if self.role is Role.PREPARING and msg.ballot == self.ballot:
            self._promises[msg.src] = msg
            self._maybe_lead()

    def _maybe_lead(self) -> None:
        if self.role is not Role.PREPARING or len(self._promises) < self.quorum:
            return
        promises = self._promises.values()
        if any(p.log_start > self._from_slot for p in promises):
            # Someone truncated slots we have not learned: they are chosen,
            # not holes. We are behind and must not lead.
            self._step_down()
            return
        adopted: dict[int, tuple[Ballot, bytes]] = {}
        for promise in promises:
            for entry in promise.entries:
                if entry.slot >= self._from_slot and (
                    entry.slot not in adopted or entry.ballot > adopted[entry.slot][0]
                ):
                    adopted[entry.slot] = (entry.ballot, entry.value)
        # Recovered slots, or at least one no-op: a leader's first slot chosen
        # in its own ballot tells it (and read indexes) where the log stands.
        last = max(adopted, default=self._from_slot)
        self.role = Role.LEADER
        self.leader = self.id
        self.leader_alive = True
        self._proposed = {
            slot: adopted[slot][1] if slot in adopted else NOOP
            for slot in range(self._from_slot, last + 1)
        }
        self._next_slot = last + 1
        self._barrier = self._sent_through = last
        self._next = {peer: self._from_slot for peer in self.members}
        self._match = {peer: 0 for peer in self.members}
        for promise in promises:
            self._next[promise.src] = min(promise.commit + 1, self._from_slot)
            self._match[promise.src] = promise.commit
        self._rewound_seq = {peer: -1 for peer in self.members}
        self._last_ack = {peer: self.now for peer in self.others}
        self._acked_seq = {peer: 0 for peer in self.members}
        self._snapshot_sent = {}
        self._reads = []
        self._queue.extend(self._unforwarded)
        self._unforwarded = []
        for request in [*(r for _, r in self._unasked_reads), *self._asked_reads]:
            self._add_read(request, None)
        self._unasked_reads, self._asked_reads = [], {}
        self._propose_queued()
        self._heartbeat_due = True

    # ============================================================== phase 2

    def _propose_queued(self) -> None:
        config = self.config
        window = config.window if config.combine is None else config.combine_after
        while self._queue and self._next_slot - 1 - self.commit < window:
            self._proposed[self._next_slot] = self._next_value()
            self._next_slot += 1
            self._appends_due = True

    def _next_value(self) -> bytes:
        """The next slot's value: the first queued, with those behind it
        that fit when values combine."""
        value = self._queue.popleft()[1]
        combine, limit = self.config.combine, self.config.combine_bytes
        if combine is None or not self._queue:
            return value
        values, size = [value], len(value)
        while self._queue and size + len(self._queue[0][1]) <= limit:
            values.append(self._queue.popleft()[1])
            size += len(values[-1])
        return combine(values)

    def _value(self, slot: int) -> bytes:
        value = self._proposed.get(slot)
        return value if value is not None else self.accepted[slot][1]

    def _send_appends(self, peer: int, heartbeat: bool = False) -> None:
        """Send the peer what it lacks, a run of slots per message; an empty
        Accept when it lacks nothing and a heartbeat is due."""
        start = self._next[peer]
        if start < self.log_start:
            if peer not in self._snapshot_sent:
                self._snapshot_sent[peer] = self.now
                self._out.snapshots.append(peer)
            if heartbeat:  # keep the follower's leader alive meanwhile
                self._send(
                    Accept(self.id, peer, self.ballot, self.log_start, (), self.commit, self._seq)
                )
            return
        for _ in range(MAX_MESSAGES_PER_SEND):
            end = min(self._next_slot - 1, start + self.config.max_batch - 1)
            values = tuple(self._value(slot) for slot in range(start, end + 1))
            if not values and not heartbeat:
                return
            self._send(Accept(self.id, peer, self.ballot, start, values, self.commit, self._seq))
            self._sent_through = max(self._sent_through, end)
            self._next[peer] = start = end + 1
            if start >= self._next_slot:
                return
            heartbeat = False

    def _on_accept(self, msg: Accept) -> None:
        if not self._admit(msg):
            return
        if msg.src != self.id:
            if self.role is not Role.FOLLOWER:
                self._step_down()
            self.leader = msg.src
            self.leader_alive = True
            self._heard = self.now
            self.deadline = self.now + self._election_timeout()
        for offset, value in enumerate(msg.values):
            slot = msg.start + offset
            if slot >= self.log_start:
                self.accepted[slot] = (msg.ballot, value)
                self._out.entries.append(Entry(slot, msg.ballot, value))
        match = self._match_in(msg.ballot)
        self._learn(min(msg.commit, match))
        self._send(Accepted(self.id, msg.src, msg.ballot, msg.start, match, msg.seq))

    def _match_in(self, ballot: Ballot) -> int:
        """The highest slot up to which everything is known chosen or
        accepted in `ballot` here."""
        cached_ballot, cached = self._match_cache
        match = max(self.commit, cached if cached_ballot == ballot else 0)
        while (entry := self.accepted.get(match + 1)) is not None and entry[0] == ballot:
            match += 1
        self._match_cache = (ballot, match)
        return match

    def _learn(self, commit: int) -> None:
        if commit <= self.commit:
            return
        self.commit = commit
        for slot in range(max(self.delivered, self.log_start - 1) + 1, commit + 1):
            self._out.chosen.append((slot, self._value(slot)))
        self.delivered = commit

    def _on_accepted(self, msg: Accepted) -> None:
        if self.role is not Role.LEADER or msg.ballot != self.ballot:
            return
        peer = msg.src
        self._last_ack[peer] = self.now
        self._acked_seq[peer] = max(self._acked_seq[peer], msg.seq)
        self._match[peer] = max(self._match[peer], msg.match)
        if msg.match >= self.log_start - 1:
            self._snapshot_sent.pop(peer, None)
        if msg.match < msg.start - 1 and msg.seq > self._rewound_seq[peer]:
            # A gap: something we sent was lost. Resend from the gap, once per
            # round of replies.
            self._next[peer] = msg.match + 1
            self._rewound_seq[peer] = self._seq
            self._appends_due = True
        elif self._next[peer] <= msg.match:
            self._next[peer] = msg.match + 1
        if self._next[peer] < self._next_slot:
            self._appends_due = True
        self._advance_commit()
        self._confirm_reads()

    def _advance_commit(self) -> None:
        matches = sorted(self._match.values(), reverse=True)
        commit = min(matches[self.quorum - 1], self._next_slot - 1)
        if commit <= self.commit:
            return
        self._learn(commit)
        self._commit_due = True
        for slot in [s for s in self._proposed if s <= commit]:
            if self.accepted.get(slot, (ZERO,))[0] == self.ballot:
                del self._proposed[slot]
        self._propose_queued()

    def _on_reject(self, msg: Reject) -> None:
        self._note_round(msg.promised.round)
        if self.role in (Role.PREPARING, Role.LEADER) and msg.ballot == self.ballot:
            self._step_down()

    def _on_forward(self, msg: Forward) -> None:
        for value in msg.values:
            self.propose(value)

    # ================================================================ reads

    def _add_read(self, request: int, origin: int | None) -> None:
        index = max(self.commit, self._barrier)
        self._reads.append(_PendingRead(request, origin, index, self._seq + 1))
        self._heartbeat_due = True
        self._confirm_reads()

    def _confirm_reads(self) -> None:
        """A read index holds once a quorum acknowledged a heartbeat round
        sent after the read arrived: we were still the leader then."""
        if not self._reads:
            return
        self._acked_seq[self.id] = self._seq
        acked = sorted(self._acked_seq.values(), reverse=True)[self.quorum - 1]
        waiting = []
        for read in self._reads:
            if read.seq <= acked:
                self._answer_read(read, read.index)
            else:
                waiting.append(read)
        self._reads = waiting

    def _answer_read(self, read: _PendingRead, index: int) -> None:
        if read.origin is None:
            self._out.reads.append((read.request, index))
        else:
            self._send(ReadIndexReply(self.id, read.origin, read.request, index))

    def _on_read_index(self, msg: ReadIndex) -> None:
        if self.role is Role.LEADER:
            self._add_read(msg.request, msg.src)
        else:
            self._send(ReadIndexReply(self.id, msg.src, msg.request, 0))

    def _on_read_index_reply(self, msg: ReadIndexReply) -> None:
        if self._asked_reads.pop(msg.request, None) is None:
            return  # answered already, or given up on
        if msg.index:
            self._out.reads.append((msg.request, msg.index))
        else:  # it no longer leads: ask the next leader
            self._unasked_reads.append((self.now, msg.request))

    # =============================================================== helpers

    def _send(self, msg: Message) -> None:
        self._out.messages.append(msg)


_HANDLERS = {
    Probe: Node._on_probe,
    ProbeReply: Node._on_probe_reply,
    Prepare: Node._on_prepare,
    Promise: Node._on_promise,
    Accept: Node._on_accept,
    Accepted: Node._on_accepted,
    Reject: Node._on_reject,
    Forward: Node._on_forward,
    ReadIndex: Node._on_read_index,
    ReadIndexReply: Node._on_read_index_reply,
}
