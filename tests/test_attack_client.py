"""Attacks through the client door: every method of the client API, found in
the compiled protos, and every request kind of the session stream, sent by a
caller with no credentials at a subtree only its owner may touch.

Each one that names the subtree is refused (NO_AUTH: gRPC PERMISSION_DENIED
on a unary call, the error in the response on the stream, the refused op in
a transaction's results), and the subtree is unchanged, as its owner sees it
(data, every Stat field, ACLs, quota, children). The few methods that name
no node are listed as harmless with the reason; a new method is in neither
list until someone decides, so the test fails the day it is added.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from coord.acl import digest_id
from coord.rpc.callers import AUTH_METADATA
from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from tests.rawsession import RawSession
from tests.servers import ServerProcess

OWNER = (AUTH_METADATA, "digest bob:bob-pw")
BOB_ONLY = [pb.ACL(perms=pb.ALL, id=pb.Id(scheme="digest", id=digest_id("bob:bob-pw")))]
SECRET, CHILD = "/secret", "/secret/child"

# Unary requests that name the protected subtree, each of which must be refused.
HOSTILE_UNARY = {
    "Create": pb.CreateRequest(path="/secret/planted", data=b"x"),
    "Delete": pb.DeleteRequest(path=CHILD),
    "SetData": pb.SetDataRequest(path=SECRET, data=b"defaced"),
    "GetData": pb.GetDataRequest(path=SECRET),
    "Exists": pb.ExistsRequest(path=SECRET),
    "GetChildren": pb.GetChildrenRequest(path=SECRET),
    "GetACL": pb.GetAclRequest(path=SECRET),
    "SetACL": pb.SetAclRequest(
        path=SECRET, acl=[pb.ACL(perms=pb.ALL, id=pb.Id(scheme="world", id="anyone"))]
    ),
    "SetQuota": pb.SetQuotaRequest(path=SECRET, count=1_000_000),
    "GetQuota": pb.GetQuotaRequest(path=SECRET),
    "DeleteQuota": pb.DeleteQuotaRequest(path=SECRET),
    "Watch": pb.AddWatchRequest(path=SECRET, mode=pb.PERSISTENT_RECURSIVE),
}
# A transaction is an answer even when an op is refused: its results say which.
HOSTILE_MULTI = pb.MultiRequest(
    ops=[
        pb.Op(check=pb.CheckRequest(path=SECRET, version=0)),
        pb.Op(set_data=pb.SetDataRequest(path=SECRET, data=b"defaced")),
    ]
)
# Methods that name no node, and why they may be answered to anyone.
HARMLESS = {
    "Session": "the stream itself; its requests are attacked below",
    "OpenSession": "opens a session of the caller's own, as ZooKeeper does for anyone",
    "CloseSession": "needs the session's password",
    "KeepAlive": "needs the session's password",
    "Sync": "reveals only the member's position in the log",
    "Status": "member roles and positions, as ZooKeeper's four-letter words",
    "SessionPort": "where the same sessions come in without gRPC; attacked below (framed=True)",
}
# The same on the session stream, one request kind at a time.
HOSTILE_STREAM = {
    "create": pb.CreateRequest(path="/secret/planted"),
    "delete": pb.DeleteRequest(path=CHILD),
    "set_data": pb.SetDataRequest(path=SECRET, data=b"defaced"),
    "get_data": pb.GetDataRequest(path=SECRET, watch=True),
    "exists": pb.ExistsRequest(path=SECRET, watch=True),
    "get_children": pb.GetChildrenRequest(path=SECRET, watch=True),
    "check": pb.CheckRequest(path=SECRET, version=0),
    "add_watch": pb.AddWatchRequest(path=SECRET, mode=pb.PERSISTENT_RECURSIVE),
    "get_acl": pb.GetAclRequest(path=SECRET),
    "set_acl": HOSTILE_UNARY["SetACL"],
    "set_quota": HOSTILE_UNARY["SetQuota"],
    "get_quota": HOSTILE_UNARY["GetQuota"],
    "delete_quota": HOSTILE_UNARY["DeleteQuota"],
}
HARMLESS_STREAM = {
    "sync": "names no data",
    "remove_watch": "removes only the caller's own watches",
    "auth": "adds ids to the caller's own session (attacked in test_acl_server.py)",
    "multi": "attacked below: its results carry the refusal",
}


def methods() -> list[str]:
    return [m.name for m in pb.DESCRIPTOR.services_by_name["Coord"].methods]


def request_kinds() -> list[str]:
    return [f.name for f in pb.Request.DESCRIPTOR.oneofs_by_name["op"].fields]


@pytest.fixture(scope="module")
def member(tmp_path_factory) -> Iterator[ServerProcess]:
    """One member holding bob's subtree: /secret (with a quota) and its child."""
    server = ServerProcess(data_dir=tmp_path_factory.mktemp("attacked") / "data").start()
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = client_pb2_grpc.CoordStub(channel)
            for path in (SECRET, CHILD):
                request = pb.CreateRequest(path=path, data=b"bob's", acl=BOB_ONLY)
                stub.Create(request, metadata=(OWNER,), timeout=10)
            stub.SetQuota(pb.SetQuotaRequest(path=SECRET, count=10), metadata=(OWNER,), timeout=10)
        yield server
    finally:
        server.stop()


def owners_view(address: str) -> list:
    """Everything about the subtree its owner can see."""
    with grpc.insecure_channel(address) as channel:
        stub = client_pb2_grpc.CoordStub(channel)
        view = [stub.GetQuota(pb.GetQuotaRequest(path=SECRET), metadata=(OWNER,), timeout=10)]
        for path in (SECRET, CHILD):
            view.append(stub.GetData(pb.GetDataRequest(path=path), metadata=(OWNER,), timeout=10))
            view.append(stub.GetACL(pb.GetAclRequest(path=path), metadata=(OWNER,), timeout=10))
            children = stub.GetChildren(pb.GetChildrenRequest(path=path), metadata=(OWNER,))
            view.append(children)
    for answer in view:
        answer.ClearField("zxid")  # the member's position moves with every refused write
    return view


def test_every_client_method_is_attacked_or_harmless():
    unsorted = set(methods()) - set(HOSTILE_UNARY) - {"Multi"} - set(HARMLESS)
    assert not unsorted, f"decide how an attacker may use {sorted(unsorted)}"
    unsorted = set(request_kinds()) - set(HOSTILE_STREAM) - set(HARMLESS_STREAM)
    assert not unsorted, f"decide how an attacker may use {sorted(unsorted)} on the stream"


@pytest.mark.parametrize("name", HOSTILE_UNARY)
def test_a_unary_call_without_credentials_is_refused(member, name):
    before = owners_view(member.address)
    with grpc.insecure_channel(member.address) as channel:
        call = getattr(client_pb2_grpc.CoordStub(channel), name)
        with pytest.raises(grpc.RpcError) as refused:
            answer = call(HOSTILE_UNARY[name], timeout=10)
            if name == "Watch":
                next(answer)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED, refused.value
    assert refused.value.details().startswith("NO_AUTH: "), refused.value.details()
    assert owners_view(member.address) == before


def test_a_transaction_without_credentials_fails_at_the_refused_op(member):
    before = owners_view(member.address)
    with grpc.insecure_channel(member.address) as channel:
        answer = client_pb2_grpc.CoordStub(channel).Multi(HOSTILE_MULTI, timeout=10)
    codes = [result.error.code for result in answer.results]
    assert codes == [pb.NO_AUTH, pb.RUNTIME_INCONSISTENCY]
    assert owners_view(member.address) == before


@pytest.mark.parametrize("framed", [False, True], ids=["stream", "session port"])
@pytest.mark.parametrize("kind", HOSTILE_STREAM)
def test_a_stream_request_without_credentials_is_refused(member, kind, framed):
    before = owners_view(member.address)
    session = RawSession(member.address, framed=framed)
    try:
        response = session.call(1, **{kind: HOSTILE_STREAM[kind]})
        assert response.WhichOneof("result") == "error", response
        assert response.error.code == pb.NO_AUTH, response
        assert owners_view(member.address) == before
        # The owner changes the subtree: no watch the refused request tried
        # to set may tell the intruder.
        with grpc.insecure_channel(member.address) as channel:
            stub = client_pb2_grpc.CoordStub(channel)
            stub.SetData(pb.SetDataRequest(path=SECRET, data=b"bob's"), metadata=(OWNER,))
            stub.SetData(pb.SetDataRequest(path=CHILD, data=b"bob's"), metadata=(OWNER,))
        assert session.call(2, sync=pb.SyncRequest(path="/")).WhichOneof("result") == "sync"
        assert session.events == []
    finally:
        session.drop()


@pytest.mark.parametrize("framed", [False, True], ids=["stream", "session port"])
def test_a_stream_transaction_without_credentials_fails_at_the_refused_op(member, framed):
    before = owners_view(member.address)
    session = RawSession(member.address, framed=framed)
    try:
        response = session.call(1, multi=HOSTILE_MULTI)
    finally:
        session.drop()
    codes = [result.error.code for result in response.multi.results]
    assert codes == [pb.NO_AUTH, pb.RUNTIME_INCONSISTENCY]
    assert owners_view(member.address) == before
