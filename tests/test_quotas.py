"""Hard quotas through real coord-server processes: the threaded and asyncio
SDKs, raw gRPC (unary and the session stream), coordctl, a restart and a
snapshot to a member far behind."""

from __future__ import annotations

import grpc
import pytest

from coord_api.wire import client_pb2 as pb
from coord_client.aio import Client as AioClient
from coord_client.exceptions import (
    BadArgumentsError,
    NoAuthError,
    NoNodeError,
    QuotaExceededError,
    RolledBackError,
)
from coord_client.quota import QuotaInfo
from coord_client.security import make_digest_acl
from tests.rawsession import RawSession
from tests.test_acl_server import stub_for, unary_refusal
from tests.test_aio_client import run
from tests.test_coordctl import as_json, fails, ok

BOB = ("digest", "bob:pw")


def test_the_threaded_client_sets_reads_enforces_and_removes(connect) -> None:
    zk = connect()
    zk.create("/q", b"1234")
    assert zk.set_quota("/q", count=3) == QuotaInfo("/q", 3, None, 1, 4)
    zk.create("/q/a", b"5")
    assert zk.set_quota("/q", bytes=6) == QuotaInfo("/q", 3, 6, 2, 5)
    with pytest.raises(QuotaExceededError, match="quota of /q exceeded"):
        zk.set("/q/a", b"567")
    zk.create("/q/b")
    with pytest.raises(QuotaExceededError):
        zk.create("/q/c")
    with pytest.raises(QuotaExceededError):
        zk.create("/q/b/c/d", makepath=True)
    tx = zk.transaction()
    tx.delete("/q/b")
    tx.create("/q/c", b"x")
    tx.create("/q/d")
    results = tx.commit()
    assert [type(r) for r in results] == [RolledBackError, RolledBackError, QuotaExceededError]
    assert zk.get_quota("/q") == QuotaInfo("/q", 3, 6, 3, 5)
    assert zk.get_children("/q") == ["a", "b"]  # the refusals changed nothing
    assert zk.get("/coord/quota/q/coord_limits")[0] == b"count=3,bytes=6"
    assert zk.delete_quota("/q") is True
    zk.create("/q/c")
    with pytest.raises(NoNodeError, match="no quota on /q"):
        zk.get_quota("/q")


def test_the_threaded_clients_refusals(connect) -> None:
    bob, anyone = connect(auth_data=[BOB]), connect()
    bob.create("/b", acl=[make_digest_acl("bob", "pw", all=True)])
    with pytest.raises(NoAuthError):
        anyone.set_quota("/b", count=5)
    bob.set_quota("/b", count=5)
    with pytest.raises(NoAuthError):
        anyone.get_quota("/b")  # READ on the node
    assert bob.get_quota("/b").count == 5
    with pytest.raises(NoAuthError):
        anyone.delete_quota("/b")
    bob.create("/b/c")
    with pytest.raises(BadArgumentsError, match="quotas do not nest: /b has one"):
        bob.set_quota("/b/c", count=1)
    with pytest.raises(BadArgumentsError, match="no quota on /"):
        anyone.set_quota("/", count=5)
    with pytest.raises(ValueError, match="a count or a bytes limit"):
        anyone.set_quota("/b")
    with pytest.raises(ValueError):
        anyone.set_quota("/b", count=0)
    with pytest.raises(TypeError):
        anyone.set_quota("/b", bytes="10")


def test_the_asyncio_client(server) -> None:
    async def body() -> None:
        async with AioClient(server.address) as zk:
            await zk.create("/q")
            assert await zk.set_quota("/q", count=2, bytes=3) == QuotaInfo("/q", 2, 3, 1, 0)
            with pytest.raises(QuotaExceededError):
                await zk.create("/q/a", b"four")
            await zk.create("/q/a", b"abc")
            with pytest.raises(QuotaExceededError):
                await zk.create("/q/b")
            assert await zk.get_quota("/q") == QuotaInfo("/q", 2, 3, 2, 3)
            assert await zk.delete_quota("/q") is True
            await zk.create("/q/b")

    run(body)


def test_the_wire_unary_and_on_the_stream(server) -> None:
    stub = stub_for(server.address)
    stub.Create(pb.CreateRequest(path="/q"), timeout=10)
    stub.SetQuota(pb.SetQuotaRequest(path="/q", count=1), timeout=10)
    refusal = unary_refusal(stub.Create, pb.CreateRequest(path="/q/a"))
    assert refusal == (grpc.StatusCode.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED")
    assert stub.GetQuota(pb.GetQuotaRequest(path="/q"), timeout=10).quota.used_count == 1
    session = RawSession(server.address)
    answer = session.call(1, create=pb.CreateRequest(path="/q/a"))
    assert answer.error.code == pb.QUOTA_EXCEEDED
    assert session.call(2, delete_quota=pb.DeleteQuotaRequest(path="/q")).HasField("delete_quota")
    assert session.call(3, create=pb.CreateRequest(path="/q/a")).HasField("create")
    answer = session.call(4, set_quota=pb.SetQuotaRequest(path="/q", bytes=0))
    assert (answer.set_quota.quota.used_count, answer.set_quota.quota.bytes) == (2, 0)
    got = session.call(5, get_quota=pb.GetQuotaRequest(path="/q"))
    assert got.get_quota.quota == answer.set_quota.quota
    session.drop()
    refusal = unary_refusal(stub.DeleteQuota, pb.DeleteQuotaRequest(path="/none"))
    assert refusal == (grpc.StatusCode.NOT_FOUND, "NO_NODE")


def test_coordctl_quota(server) -> None:
    ok(server, "create", "/q", "12")
    assert ok(server, "quota", "set", "/q", "--count", "2") == "count=1/2\nbytes=2/none\n"
    ok(server, "create", "/q/a")
    assert fails(server, "create", "/q/b") == (
        "coordctl: quota of /q exceeded: 3 znodes over its limit of 2"
    )
    assert ok(server, "quota", "set", "/q", "--bytes", "10") == "count=2/2\nbytes=2/10\n"
    assert as_json(server, "quota", "get", "/q") == {
        "path": "/q",
        "count": 2,
        "bytes": 10,
        "used_count": 2,
        "used_bytes": 2,
    }
    assert fails(server, "quota", "set", "/q") == "coordctl: a quota needs a count or a bytes limit"
    assert fails(server, "quota", "set", "/q/a", "--count", "5") == (
        "coordctl: quotas do not nest: /q has one"
    )
    assert fails(server, "quota", "set", "/none", "--count", "5") == "coordctl: no node /none"
    assert ok(server, "quota", "rm", "/q") == ""
    assert fails(server, "quota", "get", "/q") == "coordctl: no quota on /q"
    assert fails(server, "quota", "rm", "/q") == "coordctl: no quota on /q"
    ok(server, "create", "/q/b")


def test_quotas_survive_a_restart(server_factory) -> None:
    member = server_factory()
    stub = stub_for(member.address)
    stub.Create(pb.CreateRequest(path="/q", data=b"abc"), timeout=10)
    stub.Create(pb.CreateRequest(path="/q/a"), timeout=10)
    stub.SetQuota(pb.SetQuotaRequest(path="/q", count=3, bytes=5), timeout=10)
    member.stop()
    member.start()
    stub = stub_for(member.address)
    quota = stub.GetQuota(pb.GetQuotaRequest(path="/q"), timeout=10).quota
    assert (quota.count, quota.bytes, quota.used_count, quota.used_bytes) == (3, 5, 2, 3)
    stub.Create(pb.CreateRequest(path="/q/b", data=b"de"), timeout=10)
    refusal = unary_refusal(stub.Create, pb.CreateRequest(path="/q/c"))
    assert refusal == (grpc.StatusCode.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED")


def test_a_snapshot_carries_quotas_to_a_member_far_behind(far_behind) -> None:
    cluster, laggard = far_behind, far_behind.members[3]
    stub = stub_for(cluster.members[1].address)
    stub.Create(pb.CreateRequest(path="/q"), timeout=10)
    stub.SetQuota(pb.SetQuotaRequest(path="/q", count=100), timeout=10)
    for i in range(99):
        stub.Create(pb.CreateRequest(path=f"/q/n{i}", data=b"x"), timeout=10)
    for i in range(50):
        stub.Create(pb.CreateRequest(path=f"/n{i}"), timeout=10)
    laggard.start()
    laggard_stub = stub_for(laggard.address)
    laggard_stub.Sync(pb.SyncRequest(path="/"), timeout=30)
    assert any("installed a snapshot" in line for line in laggard.output)
    quota = laggard_stub.GetQuota(pb.GetQuotaRequest(path="/q"), timeout=10).quota
    assert (quota.count, quota.used_count, quota.used_bytes) == (100, 100, 99)
    # The member that caught up refuses what the others refuse.
    refusal = unary_refusal(laggard_stub.Create, pb.CreateRequest(path="/q/more"))
    assert refusal == (grpc.StatusCode.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED")
    assert len(cluster.digests()) == 1  # the limits znodes are in it
