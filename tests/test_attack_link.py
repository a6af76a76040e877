"""Attacks on the replication links' door (coord/peers/door.py), through
real processes: the raw TCP port where members' Paxos messages come in.

Whoever reaches that port gets nothing heard before a LinkHello proves a
member of this cluster, as a Peer call must: no proof, an unproven member
id, a wrong secret, a signature made for another member, another method
or another time, or one replayed, is answered with the reason and the
connection closed. What is not a frame of ours (an HTTP/2 preface, a
length over the limit, bytes that do not decode) and silence are closed
without an answer. A proven member still may not speak in another's name.
After each, the tree is unchanged, as its digest (taken with the secret)
shows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from coord.peers.frames import LENGTH, MAX_FRAME_BYTES
from coord.rpc.peer_auth import MEMBER, load_secret, sign
from coord.wire import peer_pb2
from tests.rawlink import HELLO_PATH, RawLink, link_port
from tests.servers import Cluster
from tests.test_attack_peer import FAR_SLOT, WRONG_SECRET, digest, seeded


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("links")
    cluster = Cluster.create(root, 3)
    try:
        cluster.start()
        cluster.leader()
        seeded(list(cluster.members.values()))
        yield cluster
    finally:
        cluster.stop()


def secret(cluster: Cluster) -> bytes:
    return load_secret(cluster.members[1].secret_file)


def roles(cluster: Cluster) -> tuple[int, int, int]:
    leader = cluster.leader()
    first, second = (m for m in cluster.members if m != leader)
    return leader, first, second


def port_of(cluster: Cluster, target: int) -> int:
    proof = sign(secret(cluster), HELLO_PATH, 1 if target != 1 else 2, target)
    return link_port(cluster.members[target], proof)


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
    leader, first, second = roles(cluster)
    target = cluster.members[second]
    before = digest(target)
    with RawLink(port_of(cluster, second)) as link:
        welcome = link.hello(PROOFS[proof](secret(cluster), first, second))
        assert welcome.refused, proof
        link.send(hostile_frame(first, second))  # heard by nobody
        assert link.closed()
    assert digest(target) == before
    assert cluster.leader() == leader


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
    leader, first, second = roles(cluster)
    target = cluster.members[second]
    before = digest(target)
    with RawLink(port_of(cluster, second)) as link:
        link.send_bytes(NOT_FRAMES[sent])
        if sent == "cut-short":
            link.sock.shutdown(1)  # then nothing more: the frame never completes
        assert link.closed()
    # The same after a proven hello: a member's garbage ends its own link.
    with RawLink(port_of(cluster, second)) as link:
        assert link.hello(sign(secret(cluster), HELLO_PATH, first, second)).refused == ""
        link.send_bytes(NOT_FRAMES[sent])
        if sent == "cut-short":
            link.sock.shutdown(1)
        assert link.closed()
    assert digest(target) == before
    assert cluster.leader() == leader


def test_a_connection_that_proves_nothing_is_closed(cluster):
    _, _, second = roles(cluster)
    with RawLink(port_of(cluster, second)) as link:
        assert link.closed(timeout=60)  # the door's hello timeout is 5 s


def test_a_member_cannot_speak_for_another_on_a_link(cluster):
    leader, first, second = roles(cluster)
    target = cluster.members[second]
    before = digest(target)
    for forged in (peer_pb2.PeerFrame(src=leader), hostile_frame(leader, second)):
        with RawLink(port_of(cluster, second)) as link:
            assert link.hello(sign(secret(cluster), HELLO_PATH, first, second)).refused == ""
            link.send(forged)
            assert link.closed()
    assert digest(target) == before
    assert cluster.leader() == leader
    # The control: in its own name, the member is heard and the link stays.
    with RawLink(port_of(cluster, second)) as link:
        assert link.hello(sign(secret(cluster), HELLO_PATH, first, second)).refused == ""
        link.send(peer_pb2.PeerFrame(src=first))
        assert digest(target) == before
        assert not link.closed(timeout=0.5)
