"""The leader's side: finish phase 1 by adopting what a quorum's promises
report (no-ops for the holes), then propose (phase 2) and count a quorum's
acceptances into the commit point.

Phase 2 is pipelined (up to ``window`` unchosen slots), batched (a run of
slots per Accept) and, with ``combine``, values queued behind a busy leader
share a slot. A follower that fell below the log's start is offered a
snapshot instead.
"""

from __future__ import annotations

from coord.paxos.ballot import ZERO, Ballot
from coord.paxos.elections import Role
from coord.paxos.messages import Accept, Accepted, Forward, Promise, Reject

NOOP = b""
MAX_MESSAGES_PER_SEND = 8  # per peer per ready(); replies pull the rest


class Proposer:
    """Node's proposer; ``Node`` holds the state."""

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

    def _on_accepted(self, msg: Accepted) -> None:
        if self.role is not Role.LEADER:
            self._on_vote(msg)
            return
        if msg.ballot != self.ballot:
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
        # Where two votes are a quorum, followers learn from the leader's vote
        # (acceptor.py), so the new commit point need not go out alone; the
        # next Accept or heartbeat carries it to those that could not.
        self._commit_due = self.quorum != 2
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
