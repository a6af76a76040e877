"""Read indexes: the commit point a linearizable read may be served at.

A leader confirms a read index once a quorum vouched for its ballot after
the read arrived, so no newer leader can have chosen anything the index
misses (a newer leader needs promises from a quorum, one of which comes
after that member's vouch). The leader vouches for itself while it leads;
a follower vouches with an Accepted to a heartbeat sent after the read
arrived, and the follower that asks vouches with its question, when the
promise it carries is the leader's ballot: on three members the leader
answers that follower at once, one round trip in all. A follower asks its
leader and asks the next one if its leader steps down.
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
    seq: int  # the heartbeat round whose Accepteds vouch for it
    voucher: int | None = None  # the follower whose question vouched for it


class Reads:
    """Node's read indexes; ``Node`` holds the state."""

    def _add_read(self, request: int, origin: int | None, voucher: int | None = None) -> None:
        # Every slot sent out may be chosen already, unknown to us: where two
        # votes are a quorum a follower learns from our vote and its own
        # (acceptor.py) and may have applied it before its vote reaches us.
        index = max(self.commit, self._sent_through)
        read = PendingRead(request, origin, index, self._seq + 1, voucher)
        if self._confirmed(read):
            self._answer_read(read, index)
        else:
            self._reads.append(read)
            self._heartbeat_due = True

    def _confirmed(self, read: PendingRead) -> bool:
        """Whether a quorum vouched for our ballot since `read` arrived: we
        (we lead now), its voucher, and those that acknowledged a heartbeat
        round sent after it."""
        acked = self._acked_seq
        vouched = sum(1 for p in self.others if p == read.voucher or acked[p] >= read.seq)
        return 1 + vouched >= self.quorum

    def _confirm_reads(self) -> None:
        if not self._reads:
            return
        waiting = []
        for read in self._reads:
            if self._confirmed(read):
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
            voucher = msg.src if msg.ballot == self.ballot else None
            self._add_read(msg.request, msg.src, voucher)
        else:
            self._send(ReadIndexReply(self.id, msg.src, msg.request, 0))

    def _on_read_index_reply(self, msg: ReadIndexReply) -> None:
        if not msg.index:
            # It no longer leads: the read is asked again of the next leader
            # we follow, or after a silence (tick). Asked again at once, of a
            # leader we still believe in, it would come back at once, and so
            # on at the network's speed.
            return
        if self._asked_reads.pop(msg.request, None) is not None:  # else answered already
            self._out.reads.append((msg.request, msg.index))
