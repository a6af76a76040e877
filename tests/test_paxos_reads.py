"""Read indexes (sync, and the reads that wait for one), the core's rules
one at a time on Nodes joined by the lossless network of
tests/test_paxos_votes.py: who vouches for the leader's ballot, when the
index is answered, and what it covers. The simulator checks them under
faults, pauses among them (tests/test_paxos_sim.py)."""

from __future__ import annotations

from coord.paxos import ZERO, Message, Node
from coord.paxos.messages import Accept, Accepted, ReadIndex, ReadIndexReply
from tests.test_paxos_votes import Network


def ask(network: Network, follower: int, request: int) -> ReadIndex:
    """`follower` asks its leader for a read index; its question, not yet sent."""
    node = network.nodes[follower]
    node.read_index(request)
    (question,) = node.ready().messages
    assert isinstance(question, ReadIndex)
    return question


def hand(node: Node, message: Message) -> list[Message]:
    """What `node` sends once it has `message`."""
    node.receive(message)
    return node.ready().messages


def replies(messages: list[Message]) -> list[ReadIndexReply]:
    return [m for m in messages if isinstance(m, ReadIndexReply)]


def heartbeats(messages: list[Message]) -> list[Accept]:
    return [m for m in messages if isinstance(m, Accept) and not m.values]


def test_on_three_members_the_askers_question_and_the_leader_confirm_at_once() -> None:
    """The follower's promise is the leader's ballot as it asks, so it and
    the leader are a quorum: the answer needs no heartbeat round, and the
    follower is served one round trip after it asked."""
    network = Network(3)
    leader = network.elect()
    network.write(leader, b"v")
    question = ask(network, 2, request=7)
    assert question.ballot == leader.ballot
    sent = hand(leader, question)
    assert replies(sent) == [ReadIndexReply(1, 2, 7, leader.commit)]
    assert not heartbeats(sent)
    follower = network.nodes[2]
    follower.receive(replies(sent)[0])
    assert follower.ready().reads == [(7, leader.commit)]


def test_a_question_in_another_ballot_does_not_vouch() -> None:
    """A question whose promise is not the leader's ballot (an older
    member's, which carries none) waits for a heartbeat round like the
    leader's own reads."""
    network = Network(3)
    leader = network.elect()
    sent = hand(leader, ReadIndex(2, 1, 9, ZERO))
    assert not replies(sent)
    (to_3,) = [m for m in heartbeats(sent) if m.dst == 3]
    (ack,) = hand(network.nodes[3], to_3)
    assert isinstance(ack, Accepted)
    assert replies(hand(leader, ack)) == [ReadIndexReply(1, 2, 9, leader.commit)]


def test_on_five_members_the_asker_and_one_acknowledgment_confirm() -> None:
    """Three of five: the leader, the asker, and the first follower to
    acknowledge the heartbeat round sent after the question."""
    network = Network(5)
    leader = network.elect()
    sent = hand(leader, ask(network, 2, request=4))
    assert not replies(sent)
    (to_4,) = [m for m in heartbeats(sent) if m.dst == 4]
    (ack,) = hand(network.nodes[4], to_4)
    assert replies(hand(leader, ack)) == [ReadIndexReply(1, 2, 4, leader.commit)]


def test_the_leaders_own_read_needs_a_heartbeat_round() -> None:
    network = Network(3)
    leader = network.elect()
    leader.read_index(5)
    out = leader.ready()
    assert not out.reads
    (to_2,) = [m for m in heartbeats(out.messages) if m.dst == 2]
    (ack,) = hand(network.nodes[2], to_2)
    leader.receive(ack)
    assert leader.ready().reads == [(5, leader.commit)]


def test_a_single_member_answers_its_own_read_at_once() -> None:
    network = Network(1)
    leader = network.elect()
    leader.read_index(3)
    assert leader.ready().reads == [(3, leader.commit)]


def test_the_index_covers_what_was_sent_before_the_leader_knows_it_chosen() -> None:
    """On three members a follower learns a slot chosen from the leader's
    vote and its own, and may apply it before its vote reaches the leader:
    the index covers every slot sent out, not only the commit point."""
    network = Network(3)
    leader = network.elect()
    leader.propose(b"in flight")
    accepts = [m for m in leader.ready().messages if isinstance(m, Accept) and m.values]
    slot = accepts[0].start
    assert leader.commit < slot
    (reply,) = replies(hand(leader, ask(network, 3, request=8)))
    assert reply.index == slot


def test_a_refused_question_is_not_asked_again_at_once() -> None:
    """A member that no longer leads refuses; asked again at once of the
    same member, the question would come back at once, and so on at the
    network's speed: it waits for the next leader or a silence."""
    network = Network(3)
    network.elect()
    follower = network.nodes[2]
    question = ask(network, 2, request=6)
    follower.receive(ReadIndexReply(question.dst, 2, 6, 0))
    out = follower.ready()
    assert not [m for m in out.messages if isinstance(m, ReadIndex)]
    assert not out.reads
