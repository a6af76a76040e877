"""Read indexes: the commit point a linearizable read may be served at.

A leader confirms a read index once a quorum acknowledged a heartbeat sent
after the read arrived, so no newer leader can have chosen anything the
index misses. A follower asks its leader and asks the next one if its
leader steps down.
"""

from __future__ import annotations

from dataclasses import dataclass

from coord.paxos.elections import Role
from coord.paxos.messages import ReadIndex, ReadIndexReply


@dataclass
class PendingRead:
    request: int
    origin: int | None  # the follower that asked, or None for our own
    index: int
    seq: int


class Reads:
    """Node's read indexes; ``Node`` holds the state."""

    def _add_read(self, request: int, origin: int | None) -> None:
        index = max(self.commit, self._barrier)
        self._reads.append(PendingRead(request, origin, index, self._seq + 1))
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

    def _answer_read(self, read: PendingRead, index: int) -> None:
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
