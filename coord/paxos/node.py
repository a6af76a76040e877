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
  Where two votes are a quorum, a follower learns sooner from the votes
  themselves: the leader's acceptor sends its Accepted to every follower.
- The leader counts its own vote only after its own acceptor has persisted
  the slot: it sends itself the same Accept as everyone else.
"""

from __future__ import annotations

import random
from collections import deque

from coord.paxos.acceptor import Acceptor
from coord.paxos.ballot import ZERO, Ballot, quorum
from coord.paxos.config import Config
from coord.paxos.elections import Elections, Role
from coord.paxos.messages import (
    Accept,
    Accepted,
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
from coord.paxos.proposer import Proposer
from coord.paxos.reads import PendingRead, Reads
from coord.paxos.ready import Ready


class Node(Elections, Acceptor, Proposer, Reads):
    """One member. Its parts' rules are in elections.py, acceptor.py,
    proposer.py and reads.py; this class holds the state they share (one
    object, so a role change needs no hand-over), the inputs and ``ready``."""

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
        self._votes: dict[int, tuple[Ballot, int]] = {}  # acceptor -> its last durable vote
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
        self._reads: list[PendingRead] = []
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
                self._send(ReadIndex(self.id, self.leader, request, self.promised))
                self._asked_reads[request] = (asked_at, self.leader, self.now)
            self._unasked_reads = []
        out, self._out = self._out, Ready()
        return out

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
