"""Attacks on the replication links' door (coord/peers/door.py), through
real processes: the raw TCP port where members' Paxos messages come in.

Whoever reaches that port gets nothing heard before a LinkHello proves a
member of this cluster, as a Peer call must: no proof, an unproven member
id, a wrong secret, a signature made for another member, another method
or another time, or one replayed, is answered with the reason and the
connection closed. What is not a frame of ours (an HTTP/2 preface, a
length over the limit, bytes that do not decode) and silence are closed
without an answer, and connections proving nothing are bounded. A proven
member still may not speak in another's name, and has one link at a time.
After each, the tree is unchanged, as its digest (taken with the secret)
shows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from coord.frames import LENGTH
from coord.peers.door import MAX_UNPROVEN
from coord.peers.link import MAX_FRAME_BYTES
from coord.rpc.peer_auth import MEMBER, load_secret, sign
from coord.wire import peer_pb2
from tests.rawlink import HELLO_PATH, RawLink, link_port
from tests.servers import Cluster
from tests.test_attack_peer import FAR_SLOT, WRONG_SECRET, digest, seeded_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    with seeded_cluster(tmp_path_factory.mktemp("links")) as cluster:
        yield cluster


def secret(cluster: Cluster) -> bytes:
    return load_secret(cluster.members[1].secret_file)


def roles(cluster: Cluster) -> tuple[int, int, int]:
    leader = cluster.leader()
    first, second = (m for m in cluster.members if m != leader)
    return leader, first, second


def port_of(cluster: Cluster, target: int) -> int:
    proof = sign(secret(cluster), HELLO_PATH, 1 if target != 1 else 2, target)
    return link_port(cluster.members[target], proof)


@contextmanager
def unchanged(cluster: Cluster, member_id: int) -> Iterator[None]:
    """What runs inside leaves the member's tree and the leader as they were."""
    leader = cluster.leader()
    before = digest(cluster.members[member_id])
    yield
    assert digest(cluster.members[member_id]) == before
    assert cluster.leader() == leader


def hostile_frame(claimed: int, target: int) -> peer_pb2.PeerFrame:
    """A ballot that would depose every leader, in `claimed`'s name."""
    message = peer_pb2.PeerMessage(src=claimed, dst=target)
    message.prepare.ballot.round = FAR_SLOT
    message.prepare.ballot.member = claimed
    return peer_pb2.PeerFrame(src=claimed, messages=[message])


PROOFS = {
    "none": lambda key, claimed, target: (),
    "unproven-member-id": lambda key, claimed, target: ((MEMBER, str(claimed)),),
    "wrong-secret": lambda key, claimed, target: sign(WRONG_SECRET, HELLO_PATH, claimed, target),
    "signed-for-another-member": lambda key, claimed, target: sign(
        key, HELLO_PATH, claimed, target % 3 + 1
    ),
    "signed-for-another-method": lambda key, claimed, target: sign(
        key, "/coord.v1.Peer/InstallSnapshot", claimed, target
    ),
    "signed-an-hour-ago": lambda key, claimed, target: sign(
        key, HELLO_PATH, claimed, target, now=time.time() - 3600
    ),
    "signed-as-itself": lambda key, claimed, target: sign(key, HELLO_PATH, target, target),
}


@pytest.mark.parametrize("proof", PROOFS)
def test_a_hello_that_proves_no_member_is_refused(cluster, proof):
    _, first, second = roles(cluster)
    with unchanged(cluster, second), RawLink(port_of(cluster, second)) as link:
        welcome = link.hello(PROOFS[proof](secret(cluster), first, second))
        assert welcome.refused, proof
        link.send(hostile_frame(first, second))  # heard by nobody
        assert link.closed()


def test_a_hello_is_good_once(cluster):
    _, first, second = roles(cluster)
    proof = sign(secret(cluster), HELLO_PATH, first, second)
    port = port_of(cluster, second)
    with RawLink(port) as link:
        assert link.hello(proof).refused == ""
    with RawLink(port) as link:
        assert "replayed" in link.hello(proof).refused
        assert link.closed()


NOT_FRAMES = {
    "http2-preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "over-the-limit": LENGTH.pack(MAX_FRAME_BYTES + 1),
    "largest-length": b"\xff\xff\xff\xff",
    "not-a-hello": LENGTH.pack(5) + b"\xff\xff\xff\xff\xff",
    "cut-short": LENGTH.pack(100) + b"\x0a",
}


@pytest.mark.parametrize("sent", NOT_FRAMES)
def test_what_is_not_a_frame_of_ours_closes_the_link(cluster, sent):
    _, first, second = roles(cluster)
    with unchanged(cluster, second):
        for proven in (False, True):  # after a hello, a member's garbage ends its own link
            with RawLink(port_of(cluster, second)) as link:
                if proven:
                    proof = sign(secret(cluster), HELLO_PATH, first, second)
                    assert link.hello(proof).refused == ""
                link.send_bytes(NOT_FRAMES[sent])
                if sent == "cut-short":
                    link.sock.shutdown(1)  # then nothing more: the frame never completes
                assert link.closed()


def test_a_connection_that_proves_nothing_is_closed(cluster):
    _, _, second = roles(cluster)
    with RawLink(port_of(cluster, second)) as link:
        assert link.closed(timeout=60)  # the door's hello timeout is 5 s


def test_a_member_cannot_speak_for_another_on_a_link(cluster):
    leader, first, second = roles(cluster)
    with unchanged(cluster, second):
        for forged in (peer_pb2.PeerFrame(src=leader), hostile_frame(leader, second)):
            with RawLink(port_of(cluster, second)) as link:
                assert link.hello(sign(secret(cluster), HELLO_PATH, first, second)).refused == ""
                link.send(forged)
                assert link.closed()
        # The control: a frame in its own name is heard, and the door reads
        # on to the next (sent with the hello, before the real member can
        # open a link of its own to replace this one).
        said = f"member {first} sent a message in the name of {leader}: link closed"
        with RawLink(port_of(cluster, second)) as link:
            own, forged = peer_pb2.PeerFrame(src=first), peer_pb2.PeerFrame(src=leader)
            proof = sign(secret(cluster), HELLO_PATH, first, second)
            assert link.hello(proof, own, forged).refused == ""
            assert link.closed()
        cluster.wait_until(lambda: said in "\n".join(cluster.members[second].output))


def test_a_member_has_one_link_at_a_time(cluster):
    _, first, second = roles(cluster)
    with unchanged(cluster, second), RawLink(port_of(cluster, second)) as older:
        assert older.hello(sign(secret(cluster), HELLO_PATH, first, second)).refused == ""
        with RawLink(port_of(cluster, second)) as newer:
            assert newer.hello(sign(secret(cluster), HELLO_PATH, first, second)).refused == ""
            assert older.closed()


def test_connections_that_prove_nothing_are_bounded(cluster):
    _, _, second = roles(cluster)
    port = port_of(cluster, second)
    silent = [RawLink(port) for _ in range(MAX_UNPROVEN)]
    try:
        with RawLink(port) as one_more:
            assert one_more.closed()  # at once, not after the hello timeout
        assert not silent[-1].closed(timeout=0.01)  # those are still waited for
    finally:
        for link in silent:
            link.sock.close()
