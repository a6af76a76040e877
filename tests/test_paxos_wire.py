"""Every message of the core survives the peers' wire (coord/paxos/wire.py)
field for field, through bytes, as a member's link carries it; and a read
index question from a member that sends no ballot (one before session 13's
field) decodes with none, so it does not vouch (coord/paxos/reads.py)."""

from __future__ import annotations

import pytest

from coord.paxos import ZERO, Ballot
from coord.paxos import messages as core
from coord.paxos.wire import decode, encode
from coord.wire import peer_pb2

B = Ballot(7, 2)
MESSAGES = [
    core.Probe(1, 2, 5, 40),
    core.ProbeReply(2, 1, 5, True),
    core.Prepare(1, 3, B, 12),
    core.Promise(3, 1, B, (core.Entry(12, Ballot(6, 1), b"v"), core.Entry(13, B, b"")), 11, 4),
    core.Reject(2, 1, Ballot(6, 1), B),
    core.Accept(1, 2, B, 14, (b"a", b"b"), 13, 9),
    core.Accept(1, 2, B, 16, (), 15, 10),
    core.Accepted(2, 1, B, 14, 15, 9),
    core.Forward(3, 1, (b"x", b"y")),
    core.ReadIndex(2, 1, 88, B),
    core.ReadIndexReply(1, 2, 88, 15),
    core.ReadIndexReply(1, 2, 89, 0),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_a_message_survives_the_wire(message: core.Message) -> None:
    wire = peer_pb2.PeerMessage.FromString(encode(message).SerializeToString())
    assert decode(wire) == message


def test_a_question_without_a_ballot_carries_none() -> None:
    old = peer_pb2.PeerMessage(src=2, dst=1, read_index=peer_pb2.ReadIndex(request=5))
    assert decode(peer_pb2.PeerMessage.FromString(old.SerializeToString())) == core.ReadIndex(
        2, 1, 5, ZERO
    )
