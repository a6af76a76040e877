"""Faults injected inside the peer transport and the clock (Admin.SetFaults):
a partitioned leader is replaced, the healed cluster converges to one
state, and a member started without the flag refuses fault injection."""

from __future__ import annotations

import grpc
import pytest

from coord.wire import admin_pb2
from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from tests.rawsession import RawSession


def isolate(cluster, victim: int) -> None:
    """Block every link to and from `victim`, both ways."""
    for member_id, member in cluster.members.items():
        peers = [p for p in cluster.members if p != member_id]
        blocked = peers if member_id == victim else [victim]
        faults = admin_pb2.Faults(
            links=[admin_pb2.LinkFault(peer=p, blocked=True) for p in blocked]
        )
        member.admin("SetFaults", faults, timeout=5)


def heal(cluster) -> None:
    for member in cluster.members.values():
        member.admin("SetFaults", admin_pb2.Faults(), timeout=5)


def digests(cluster) -> set[tuple[int, str]]:
    """Every member's (zxid, state hash), each after a sync."""
    seen = set()
    for member in cluster.members.values():
        stub = client_pb2_grpc.CoordStub(grpc.insecure_channel(member.address))
        stub.Sync(pb.SyncRequest(path="/"), timeout=30)
        digest = member.admin("StateDigest", admin_pb2.DigestRequest(), timeout=10)
        seen.add((digest.zxid, digest.sha256))
    return seen


def test_partitioned_leader_is_replaced_and_the_healed_cluster_agrees(cluster_factory):
    cluster = cluster_factory(3, "--enable-fault-injection")
    old = cluster.leader()
    isolate(cluster, old)
    survivor = next(i for i in cluster.members if i != old)
    cluster.wait_until(lambda: cluster.own_status(survivor).leader not in (0, old))
    stub = client_pb2_grpc.CoordStub(grpc.insecure_channel(cluster.members[survivor].address))
    for i in range(20):
        stub.Create(pb.CreateRequest(path=f"/during-{i}"), timeout=10)
    heal(cluster)
    cluster.wait_until(lambda: len(digests(cluster)) == 1)


def create_surely(stub, path: str, tries: int = 10) -> None:
    """Create `path`, retrying an unknown outcome (a skewed clock may cost a
    leader change); NodeExists on a retry means an earlier try applied."""
    for attempt in range(tries):
        try:
            stub.Create(pb.CreateRequest(path=path), timeout=30)
            return
        except grpc.RpcError as err:
            if attempt and err.code() == grpc.StatusCode.ALREADY_EXISTS:
                return
            if err.code() != grpc.StatusCode.UNAVAILABLE:
                raise
    raise AssertionError(f"{path} was never created in {tries} tries")


def test_skewed_and_drifting_clocks_keep_writes_going(cluster_factory):
    cluster = cluster_factory(3, "--enable-fault-injection")
    leader = cluster.leader()
    for member_id, member in cluster.members.items():
        skew = admin_pb2.Faults(clock_offset_s=3.0 * member_id, clock_rate=1.0 + 0.2 * member_id)
        member.admin("SetFaults", skew, timeout=5)
    stub = client_pb2_grpc.CoordStub(grpc.insecure_channel(cluster.members[leader].address))
    for i in range(20):
        create_surely(stub, f"/skewed-{i}")
    heal(cluster)
    cluster.wait_until(lambda: len(digests(cluster)) == 1)


def test_fault_injection_is_off_unless_asked_for(server):
    with pytest.raises(grpc.RpcError) as refusal:
        server.admin("SetFaults", admin_pb2.Faults(), timeout=5)
    assert refusal.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_a_write_lost_to_a_partition_ends_the_stream_and_is_retried_once(cluster_factory):
    """Found by scripts/nemesis (seed 6): a write that timed out on a cut-off
    member used to poison every later write of its stream. Now the stream
    ends with connection loss; the client resends on a new one and each
    write applies once, in order."""
    cluster = cluster_factory(3, "--enable-fault-injection", "--request-timeout-ms", "1500")
    leader = cluster.leader()
    follower = next(i for i in cluster.members if i != leader)
    session = RawSession(cluster.members[follower].address)
    assert session.call(1, create=pb.CreateRequest(path="/a")).HasField("create")
    isolate(cluster, follower)
    session.send(pb.ClientMessage(request=pb.Request(xid=2, create=pb.CreateRequest(path="/b"))))
    with pytest.raises(grpc.RpcError) as ended:
        session.next_message()
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
    assert ("coord-error", "CONNECTION_LOSS") in ended.value.trailing_metadata()
    heal(cluster)
    again = RawSession(cluster.members[follower].address, session.session_id, session.password)
    assert again.call(2, create=pb.CreateRequest(path="/b")).create.path == "/b"
    assert again.call(3, create=pb.CreateRequest(path="/c")).create.path == "/c"
