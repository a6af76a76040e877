"""Three real members on loopback: crashes, restarts and the loss of the
leader, seen through the raw gRPC API."""

from __future__ import annotations

import asyncio
import signal
import threading

import grpc
import pytest

from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from coord_client import Client


def stub_for(address: str) -> client_pb2_grpc.CoordStub:
    return client_pb2_grpc.CoordStub(grpc.insecure_channel(address))


def synced_children(address: str, path: str) -> set[str]:
    stub = stub_for(address)
    stub.Sync(pb.SyncRequest(path="/"), timeout=30)
    return set(stub.GetChildren(pb.GetChildrenRequest(path=path), timeout=30).children)


def test_writes_resume_after_the_leader_is_killed(cluster_factory):
    cluster = cluster_factory(3)
    leader = cluster.leader()
    follower = next(i for i in cluster.members if i != leader)
    stub = stub_for(cluster.members[follower].address)
    stub.Create(pb.CreateRequest(path="/k", data=b"0"), timeout=10)
    acked_after_kill = threading.Event()
    killed = threading.Event()
    stop = threading.Event()

    def write_loop() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                stub.SetData(pb.SetDataRequest(path="/k", data=str(n).encode()), timeout=5)
            except grpc.RpcError:
                continue
            if killed.is_set():
                acked_after_kill.set()

    writer = threading.Thread(target=write_loop)
    writer.start()
    try:
        cluster.members[leader].kill()
        killed.set()
        assert acked_after_kill.wait(30), "no write was acknowledged after the leader died"
    finally:
        stop.set()
        writer.join()
    assert cluster.leader() != leader


async def _create_until_killed(cluster, acked: list[str]) -> None:
    """Creates spread over all members; SIGKILL every member mid-load."""
    killed = asyncio.Event()

    async def writer(address: str, n: int) -> None:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = client_pb2_grpc.CoordStub(channel)
            for i in range(10_000):
                try:
                    await stub.Create(pb.CreateRequest(path=f"/load/m{n}-{i}"), timeout=10)
                except grpc.aio.AioRpcError:
                    if killed.is_set():
                        return
                    continue
                acked.append(f"m{n}-{i}")
                if len(acked) >= 300 and not killed.is_set():
                    killed.set()
                    for member in cluster.members.values():
                        member.signal(signal.SIGKILL)

    addresses = [m.address for m in cluster.members.values()]
    await asyncio.gather(*(writer(addresses[n % 3], n) for n in range(12)))


def test_full_restart_keeps_every_acknowledged_write(cluster_factory):
    cluster = cluster_factory(3)
    stub_for(cluster.members[1].address).Create(pb.CreateRequest(path="/load"), timeout=10)
    acked: list[str] = []
    asyncio.run(_create_until_killed(cluster, acked))
    for member in cluster.members.values():
        member.kill()
    cluster.start()
    for member in cluster.members.values():
        present = synced_children(member.address, "/load")
        missing = [name for name in acked if name not in present]
        assert not missing, f"member lost {len(missing)} acknowledged creates: {missing[:3]}"


def test_one_member_of_three_commits_nothing(cluster_factory):
    cluster = cluster_factory(3, "--request-timeout-ms", "1500")
    cluster.leader()
    survivor = cluster.members[1]
    for member_id in (2, 3):
        cluster.members[member_id].stop()
    cluster.wait_until(lambda: cluster.own_status(1).role != "leader")
    stub = stub_for(survivor.address)
    with pytest.raises(grpc.RpcError) as failure:
        stub.Create(pb.CreateRequest(path="/lonely"), timeout=30)
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    for member_id in (2, 3):
        cluster.members[member_id].start()
    cluster.leader()
    for member in cluster.members.values():
        assert "lonely" not in synced_children(member.address, "/")


def test_a_member_far_behind_catches_up_from_a_snapshot(far_behind):
    cluster, laggard = far_behind, far_behind.members[3]
    stub = stub_for(cluster.members[1].address)
    stub.Create(pb.CreateRequest(path="/many"), timeout=10)
    for i in range(150):
        stub.Create(pb.CreateRequest(path=f"/many/n{i}", data=b"x" * 50), timeout=10)
    laggard.start()
    expected = {f"n{i}" for i in range(150)}
    assert synced_children(laggard.address, "/many") == expected
    assert any("installed a snapshot" in line for line in laggard.output)


def _counters(address: str) -> pb.MemberStatus:
    return stub_for(address).Status(pb.StatusRequest(local_only=True), timeout=10).members[0]


def test_status_counts_requests_frames_slots_and_syncs(cluster_factory):
    """The counters the bench divides by a run's requests: what the session's
    member took in and sent out, and what every member applied and synced."""
    cluster = cluster_factory(3)
    leader = cluster.leader()
    follower = next(i for i in cluster.members if i != leader)
    address = {i: m.address for i, m in cluster.members.items()}
    before = {i: _counters(a) for i, a in address.items()}
    client = Client(hosts=address[follower], randomize_hosts=False)
    client.start()
    try:
        for result in [client.create_async(f"/c{i}", b"x") for i in range(20)]:
            result.get(timeout=30)
        for result in [client.get_async(f"/c{i}") for i in range(20)]:
            result.get(timeout=30)
    finally:
        client.stop()
        client.close()
    after = {i: _counters(a) for i, a in address.items()}

    def grew(member: int, field: str) -> int:
        return getattr(after[member], field) - getattr(before[member], field)

    assert grew(follower, "requests") == 40
    assert 2 <= grew(follower, "client_frames_in") <= 42  # the connect, the requests, the close
    assert 1 <= grew(follower, "client_frames_out") <= 42
    for member in address:
        # The creates, the session's opening and closing: every member applies each.
        assert grew(member, "commands_applied") >= 22
        assert 1 <= grew(member, "slots_applied") <= grew(member, "commands_applied") + 1
        assert grew(member, "disk_syncs") >= 1
        assert grew(member, "peer_frames_in") >= 1 and grew(member, "peer_frames_out") >= 1
    assert grew(leader, "requests") == 0
