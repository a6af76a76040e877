"""Attacks on what members serve each other and admins (every method of every
service but the client API, found in protos/), through real processes.

Anyone who reached a member's port used to own the cluster: a plain client
called Peer.InstallSnapshot and replaced the whole tree. Now each method,
called on a 3-member cluster and on a single member with no credentials, an
unproven member id, a wrong secret, a signature made for another member,
another method or another time, is refused (UNAUTHENTICATED or
PERMISSION_DENIED, with a reason) and the tree is unchanged, as its digest
(taken with the secret) shows. A member that holds the secret still may not
speak in another member's name, and only the leader may send a snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest

from coord.acl import digest_id
from coord.rpc.callers import AUTH_METADATA
from coord.rpc.member_trust import ADMIN, PEER
from coord.rpc.peer_auth import MEMBER, load_secret, sign
from coord.wire import admin_pb2, peer_pb2
from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from tests.member_methods import Method, call, member_methods
from tests.servers import Cluster, ServerProcess

REFUSED = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
WRONG_SECRET = b"not-the-cluster-secret-0123456789"
FAR_SLOT = 1 << 40  # past anything applied: a snapshot there would be installed
SUPER = ("--superuser-digest", digest_id("admin:root-pw"))
AS_SUPER = ((AUTH_METADATA, "digest admin:root-pw"),)


def hostile_request(method: Method, target: int, claimed: int) -> bytes:
    """The most harmful request we know for the method (a new one gets an
    empty request): a snapshot that empties the tree, a ballot that would
    depose every leader, faults that cut every link."""
    if method.path == PEER + "InstallSnapshot":
        chunk = peer_pb2.SnapshotChunk(src=claimed, slot=FAR_SLOT, zxid=FAR_SLOT, last=True)
        return chunk.SerializeToString()
    if method.path == ADMIN + "SetFaults":
        links = [admin_pb2.LinkFault(peer=p, blocked=True) for p in (1, 2, 3)]
        return admin_pb2.Faults(links=links, clock_offset_s=3600).SerializeToString()
    if method.path == ADMIN + "Trace":
        return admin_pb2.TraceRequest(action=admin_pb2.TraceRequest.START).SerializeToString()
    return b""


Credentials = Callable[[str, int, int, bytes], tuple]  # (path, target, claimed, secret)

CREDENTIALS: dict[str, Credentials] = {
    "none": lambda path, target, claimed, secret: (),
    "not-the-super-user": lambda path, target, claimed, secret: (
        (AUTH_METADATA, "digest admin:wrong-pw"),
    ),
    "unproven-member-id": lambda path, target, claimed, secret: ((MEMBER, str(claimed)),),
    "wrong-secret": lambda path, target, claimed, secret: sign(WRONG_SECRET, path, claimed, target),
    "signed-for-another-member": lambda path, target, claimed, secret: sign(
        secret, path, claimed, target + 1
    ),
    "signed-for-another-method": lambda path, target, claimed, secret: sign(
        secret, path + "Not", claimed, target
    ),
    "signed-an-hour-ago": lambda path, target, claimed, secret: sign(
        secret, path, claimed, target, now=time.time() - 3600
    ),
}


def digest(member: ServerProcess) -> tuple[int, str]:
    answer = member.admin("StateDigest", admin_pb2.DigestRequest())
    return answer.zxid, answer.sha256


def seeded(members: list[ServerProcess]) -> None:
    """A node to lose, and every member caught up with it."""
    stub = client_pb2_grpc.CoordStub(grpc.insecure_channel(members[0].address))
    stub.Create(pb.CreateRequest(path="/seed", data=b"mine"), timeout=30)
    for member in members:
        stub = client_pb2_grpc.CoordStub(grpc.insecure_channel(member.address))
        stub.Sync(pb.SyncRequest(path="/"), timeout=30)


@contextmanager
def seeded_cluster(root: Path, *flags: str) -> Iterator[Cluster]:
    """Three members with a cluster secret, a leader and a node to lose."""
    cluster = Cluster.create(root, 3, *flags)
    try:
        cluster.start()
        cluster.leader()
        seeded(list(cluster.members.values()))
        yield cluster
    finally:
        cluster.stop()


def assert_refused_and_unchanged(
    member: ServerProcess, method: Method, request: bytes, metadata: tuple
) -> tuple[grpc.StatusCode, str]:
    before = digest(member)
    with grpc.insecure_channel(member.peer_address) as channel:
        code, details = call(channel, method, request, metadata)
    assert code in REFUSED, f"{method.path} on member {member.member_id}: {code} {details}"
    assert details.startswith(("AUTH_FAILED: ", "NO_AUTH: ")), details
    assert digest(member) == before
    stub = client_pb2_grpc.CoordStub(grpc.insecure_channel(member.address))
    assert stub.GetData(pb.GetDataRequest(path="/seed"), timeout=10).data == b"mine"
    return code, details


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    """Three members with a cluster secret and a super user (and fault
    injection on, so that an admin call let through would do harm)."""
    root = tmp_path_factory.mktemp("attacked")
    with seeded_cluster(root, "--enable-fault-injection", *SUPER) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Iterator[ServerProcess]:
    """One member with a secret and a super user, alone."""
    root = tmp_path_factory.mktemp("single")
    member = ServerProcess(data_dir=root / "data", extra_args=["--enable-fault-injection", *SUPER])
    try:
        member.start()
        seeded([member])
        yield member
    finally:
        member.stop()


METHODS = {m.path: m for m in member_methods()}


@pytest.mark.parametrize("credentials", CREDENTIALS, ids=CREDENTIALS)
@pytest.mark.parametrize("path", METHODS, ids=METHODS)
def test_every_member_method_refuses_an_outsider(cluster, path, credentials):
    method = METHODS[path]
    secret = load_secret(cluster.members[1].secret_file)
    for target, member in cluster.members.items():
        claimed = cluster.leader() if cluster.leader() != target else target % 3 + 1
        request = hostile_request(method, target, claimed)
        metadata = CREDENTIALS[credentials](path, target, claimed, secret)
        assert_refused_and_unchanged(member, method, request, metadata)


@pytest.mark.parametrize("credentials", CREDENTIALS, ids=CREDENTIALS)
@pytest.mark.parametrize("path", METHODS, ids=METHODS)
def test_a_single_member_refuses_an_outsider(single, path, credentials):
    method = METHODS[path]
    secret = load_secret(single.secret_file)
    metadata = CREDENTIALS[credentials](path, 1, 1, secret)
    assert_refused_and_unchanged(single, method, hostile_request(method, 1, 1), metadata)


@pytest.mark.parametrize("path", [p for p in METHODS if p.startswith(PEER)])
def test_a_single_member_serves_no_peer_call_even_with_the_secret(single, path):
    method = METHODS[path]
    metadata = sign(load_secret(single.secret_file), path, 1, 1)
    code, details = assert_refused_and_unchanged(
        single, method, hostile_request(method, 1, 1), metadata
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "single member" in details


def test_the_secret_opens_admin_on_a_single_member(single):
    """The control for the refusals above: the same calls with the secret work."""
    assert digest(single)[1]
    single.admin("SetFaults", admin_pb2.Faults())


def test_a_plain_client_cannot_replace_the_tree_by_install_snapshot(cluster):
    """The historical attack: InstallSnapshot on a member's client port, in
    the leader's name, with an empty state far ahead of the log."""
    leader = cluster.leader()
    chunk = peer_pb2.SnapshotChunk(src=leader, slot=FAR_SLOT, zxid=FAR_SLOT, last=True)
    for member in cluster.members.values():
        assert member.peer_address == member.address  # no peer port: the client port
        code, details = assert_refused_and_unchanged(
            member, METHODS[PEER + "InstallSnapshot"], chunk.SerializeToString(), ()
        )
        assert code == grpc.StatusCode.UNAUTHENTICATED


def as_member(cluster: Cluster, path: str, claimed: int, target: int) -> tuple:
    """What a member holding the secret signs: a malicious member, here."""
    return sign(load_secret(cluster.members[1].secret_file), path, claimed, target)


def followers(cluster: Cluster) -> tuple[int, int, int]:
    leader = cluster.leader()
    first, second = (m for m in cluster.members if m != leader)
    return leader, first, second


def test_a_member_cannot_send_a_snapshot_in_another_name(cluster):
    leader, first, second = followers(cluster)
    target = cluster.members[second]
    # The leader itself, sending a snapshot in a follower's name:
    snapshot = METHODS[PEER + "InstallSnapshot"]
    chunk = peer_pb2.SnapshotChunk(src=first, slot=FAR_SLOT, last=True)
    metadata = as_member(cluster, snapshot.path, leader, second)
    code, details = assert_refused_and_unchanged(
        target, snapshot, chunk.SerializeToString(), metadata
    )
    assert "in another's name" in details


def test_only_the_leader_may_send_a_snapshot(cluster):
    leader, first, second = followers(cluster)
    snapshot = METHODS[PEER + "InstallSnapshot"]
    target = cluster.members[second]
    chunk = peer_pb2.SnapshotChunk(src=first, slot=FAR_SLOT, zxid=FAR_SLOT, last=True)
    metadata = as_member(cluster, snapshot.path, first, second)
    code, details = assert_refused_and_unchanged(
        target, snapshot, chunk.SerializeToString(), metadata
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "not the leader" in details
    # The control: the leader's snapshot is taken (this one is behind the
    # follower's state, so it is taken and not installed).
    stale = peer_pb2.SnapshotChunk(src=leader, slot=0, last=True)
    with grpc.insecure_channel(target.address) as channel:
        stub = channel.stream_unary(
            snapshot.path,
            request_serializer=peer_pb2.SnapshotChunk.SerializeToString,
            response_deserializer=peer_pb2.SnapshotAck.FromString,
        )
        metadata = as_member(cluster, snapshot.path, leader, second)
        assert stub(iter([stale]), metadata=metadata, timeout=10).installed is False


def test_a_signature_is_good_once(cluster):
    member = cluster.members[1]
    metadata = member.admin_metadata("StateDigest")
    with grpc.insecure_channel(member.address) as channel:
        method = METHODS[ADMIN + "StateDigest"]
        assert call(channel, method, b"", metadata)[0] == grpc.StatusCode.OK
        code, details = call(channel, method, b"", metadata)
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert "replayed" in details


def test_status_asks_every_member_through_its_peer_door(cluster):
    """coordctl status's fan-out: members ask each other with their own
    credentials, and every member answers for itself."""
    cluster.wait_until(
        lambda: (
            {(s.id, s.role != "unreachable") for s in cluster.status(2)}
            == {(1, True), (2, True), (3, True)}
        )
    )


@pytest.mark.parametrize("path", METHODS)
def test_the_super_user_may_use_admin_and_is_no_member(cluster, path):
    """--superuser-digest's credential opens Admin (as ZooKeeper's super
    user's opens everything), but no Peer call: it is not a member."""
    method = METHODS[path]
    for member in cluster.members.values():
        if path.startswith(ADMIN):
            with grpc.insecure_channel(member.address) as channel:
                assert call(channel, method, b"", AS_SUPER)[0] == grpc.StatusCode.OK
        else:
            request = hostile_request(method, member.member_id, cluster.leader())
            assert_refused_and_unchanged(member, method, request, AS_SUPER)


def test_a_single_member_without_a_secret_opens_admin_to_the_super_user_only(tmp_path):
    member = ServerProcess(data_dir=tmp_path / "data", extra_args=list(SUPER), with_secret=False)
    try:
        member.start()
        digest = METHODS[ADMIN + "StateDigest"]
        with grpc.insecure_channel(member.address) as channel:
            assert call(channel, digest, b"", AS_SUPER)[0] == grpc.StatusCode.OK
            code, details = call(channel, digest, b"", sign(WRONG_SECRET, digest.path, 1, 1))
            assert code == grpc.StatusCode.UNAUTHENTICATED
            assert "no peer credentials" in details
    finally:
        member.stop()
