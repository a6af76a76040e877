"""A write retried with the same (session, xid) is applied once and answered
with its first reply: after a lost connection, on another member too."""

from __future__ import annotations

import grpc

from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from tests.rawsession import RawSession


def children(address: str, path: str) -> list[str]:
    """The children as of a sync (retried: a leader change may refuse one)."""
    with grpc.insecure_channel(address) as channel:
        stub = client_pb2_grpc.CoordStub(channel)
        for _ in range(5):
            try:
                stub.Sync(pb.SyncRequest(path="/"), timeout=30)
                break
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
        return list(stub.GetChildren(pb.GetChildrenRequest(path=path), timeout=10).children)


def test_retried_sequential_create_applies_once_on_another_member(cluster_factory):
    cluster = cluster_factory(3)
    first, second = cluster.members[1].address, cluster.members[2].address
    session = RawSession(first)
    session.call(1, create=pb.CreateRequest(path="/jobs"))
    original = session.call(2, create=pb.CreateRequest(path="/jobs/job-", sequential=True))
    session.drop()
    again = RawSession(second, session.session_id, session.password)
    retried = again.call(2, create=pb.CreateRequest(path="/jobs/job-", sequential=True))
    assert retried.create.path == original.create.path == "/jobs/job-0000000000"
    assert children(second, "/jobs") == ["job-0000000000"]
    fresh = again.call(3, create=pb.CreateRequest(path="/jobs/job-", sequential=True))
    assert fresh.create.path == "/jobs/job-0000000001"


def test_retried_failed_write_gets_its_first_error(server):
    session = RawSession(server.address)
    first = session.call(5, set_data=pb.SetDataRequest(path="/missing", data=b"x"))
    session.call(6, create=pb.CreateRequest(path="/missing"))
    session.drop()
    again = RawSession(server.address, session.session_id, session.password)
    retried = again.call(5, set_data=pb.SetDataRequest(path="/missing", data=b"x"))
    assert first.error.code == retried.error.code == pb.NO_NODE
    stat = again.call(7, exists=pb.ExistsRequest(path="/missing")).exists.stat
    assert stat.version == 0
