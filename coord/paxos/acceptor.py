"""What every member does for whoever leads: promise, accept, learn.

The acceptor refuses any ballot below its promise; what it promises and
accepts is persisted (through ``Ready``) before its reply leaves. The
learner marks a slot chosen only if it accepted the slot in the ballot
that chose it: a value it holds from an older ballot may have been
replaced, and the leader's gap detection resends it. Below what the
member applied durably, or installed from a snapshot, the log is dropped.

Where two votes are a quorum (two or three members), a follower need not
wait for the leader's commit point: the leader's acceptor tells every
follower what it accepted, each follower tells itself (the message leaves
only once the record is on disk, as every reply), and two durable votes
in one ballot choose the slot. Larger clusters learn from the commit
point alone.
"""

from __future__ import annotations

from coord.paxos.ballot import Ballot
from coord.paxos.elections import Role
from coord.paxos.messages import Accept, Accepted, Entry, Prepare, Promise, Reject


class Acceptor:
    """Node's acceptor and learner; ``Node`` holds the state."""

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
        if msg.values and self.quorum == 2:
            learners = self.others if msg.src == self.id else (self.id,)
            for learner in learners:
                self._send(Accepted(self.id, learner, msg.ballot, msg.start, match, msg.seq))

    def _on_vote(self, msg: Accepted) -> None:
        """A follower's learner: an acceptor's durable vote (the leader's,
        or our own). Distinct acceptors that accepted through a slot in one
        ballot, as many as a quorum, chose it; in that ballot one value only
        was proposed for the slot, and our own vote says we hold it."""
        self._votes[msg.src] = (msg.ballot, msg.match)
        own = self._votes.get(self.id)
        if own is None or own[0] != msg.ballot:
            return
        matches = sorted(
            (match for ballot, match in self._votes.values() if ballot == msg.ballot),
            reverse=True,
        )
        if len(matches) >= self.quorum:
            self._learn(min(own[1], matches[self.quorum - 1]))

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

    def _drop_through(self, slot: int) -> None:
        for s in [s for s in self.accepted if s <= slot]:
            del self.accepted[s]
        for s in [s for s in self._proposed if s <= slot]:
            del self._proposed[s]
        self.log_start = slot + 1
        self._out.truncate = slot
