"""Who leads: a follower that lost its leader probes, prepares, and (in
proposer.py) leads; a leader that lost its quorum steps down.

The pre-vote (Probe) keeps a member cut off from the others from raising
the round and unseating a leader that still has a quorum: only members that
have lost the leader too grant it. Ballots only rise, and a member's own
promise is persisted before any Prepare leaves.
"""

from __future__ import annotations

from enum import Enum

from coord.paxos.ballot import Ballot
from coord.paxos.messages import Prepare, Probe, ProbeReply


class Role(Enum):
    FOLLOWER = "follower"
    CANDIDATE = "candidate"  # probing (pre-vote)
    PREPARING = "preparing"  # phase 1
    LEADER = "leader"


class Elections:
    """Node's elections; ``Node`` holds the state."""

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
