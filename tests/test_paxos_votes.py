"""Where two votes are a quorum (two or three members), a follower learns a
slot chosen from the leader's vote and its own durable one, not from the
commit point, and the leader sends no commit point alone. The core's rules,
one at a time, on Nodes joined by a lossless in-memory network whose
records are durable at once (the driver's half, that a vote to oneself
waits for its record, is in tests/test_driver.py; the simulator checks
the rules under faults, tests/test_paxos_sim.py)."""

from __future__ import annotations

import random

from coord.paxos import Ballot, Config, Message, Node, Role
from coord.paxos.messages import Accept, Accepted

B = Ballot(1, 1)


def follower(members: int = 3) -> Node:
    return Node(2, list(range(1, members + 1)), Config(), random.Random(2))


def accept(*values: bytes, ballot: Ballot = B, start: int = 1, commit: int = 0) -> Accept:
    return Accept(1, 2, ballot, start, values, commit, seq=1)


def vote(src: int, match: int, ballot: Ballot = B) -> Accepted:
    return Accepted(src, 2, ballot, 1, match, seq=1)


def chosen(node: Node, *messages: Message) -> list[int]:
    for message in messages:
        node.receive(message)
    return [slot for slot, _ in node.ready().chosen]


def test_a_follower_votes_to_the_leader_and_to_itself() -> None:
    node = follower()
    node.receive(accept(b"a", b"b"))
    ready = node.ready()
    assert [(m.dst, m.match) for m in ready.messages if isinstance(m, Accepted)] == [
        (1, 2),
        (2, 2),
    ]
    assert ready.chosen == []


def test_the_leaders_vote_and_its_own_choose_in_either_order() -> None:
    first = follower()
    chosen(first, accept(b"a", b"b"))
    assert chosen(first, vote(1, 2)) == []
    assert chosen(first, vote(2, 2)) == [1, 2]
    second = follower()
    chosen(second, accept(b"a", b"b"))
    assert chosen(second, vote(2, 2)) == []
    assert chosen(second, vote(1, 1)) == [1]


def test_votes_in_different_ballots_choose_nothing() -> None:
    node = follower()
    chosen(node, accept(b"a"))
    assert chosen(node, vote(2, 1), vote(1, 1, Ballot(0, 3))) == []


def test_votes_beyond_our_own_choose_only_what_we_hold() -> None:
    node = follower()
    chosen(node, accept(b"a"))
    assert chosen(node, vote(2, 1), vote(1, 5), vote(3, 5)) == [1]


def test_others_votes_choose_nothing_without_our_own_in_their_ballot() -> None:
    """We may hold another ballot's value for the slot: the leader's gap
    detection, not the votes, brings us the chosen one."""
    node = follower()
    chosen(node, accept(b"a", ballot=Ballot(0, 3)))
    assert chosen(node, vote(2, 1, Ballot(0, 3)), vote(1, 1), vote(3, 1)) == []


def test_on_five_members_a_follower_votes_to_the_leader_only() -> None:
    node = follower(members=5)
    node.receive(accept(b"a"))
    assert [m.dst for m in node.ready().messages] == [1]
    assert chosen(node, vote(2, 1), vote(1, 1)) == []


class Network:
    """Nodes that hear each other at once; every message is kept."""

    def __init__(self, members: int) -> None:
        ids = list(range(1, members + 1))
        self.nodes = {i: Node(i, ids, Config(), random.Random(i)) for i in ids}
        self.sent: list[Message] = []

    def settle(self) -> None:
        while True:
            messages = [m for node in self.nodes.values() for m in node.ready().messages]
            if not messages:
                return
            self.sent.extend(messages)
            for message in messages:
                self.nodes[message.dst].receive(message)

    def elect(self) -> Node:
        node = self.nodes[1]
        node.tick(node.deadline)
        self.settle()
        assert node.role is Role.LEADER
        return node

    def write(self, leader: Node, value: bytes) -> list[Message]:
        """What was sent while the leader's proposal of `value` went round."""
        self.sent = []
        leader.propose(value)
        self.settle()
        return self.sent


def test_the_leader_sends_its_vote_to_every_follower_and_no_commit_point_alone() -> None:
    network = Network(3)
    leader = network.elect()
    sent = network.write(leader, b"v")
    slot = leader.commit
    assert sorted(m.dst for m in sent if isinstance(m, Accepted) and m.src == 1) == [1, 2, 3]
    assert not [m for m in sent if isinstance(m, Accept) and not m.values]
    for node in network.nodes.values():
        assert node.commit == slot


def test_on_five_members_the_commit_point_goes_out_alone() -> None:
    network = Network(5)
    leader = network.elect()
    sent = network.write(leader, b"v")
    assert [m.dst for m in sent if isinstance(m, Accepted) and m.src == 1] == [1]
    notices = [m for m in sent if isinstance(m, Accept) and not m.values]
    assert sorted(m.dst for m in notices) == [2, 3, 4, 5]
    assert all(node.commit == leader.commit for node in network.nodes.values())
