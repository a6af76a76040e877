"""Bad input on the unary RPCs: each malformed or failing request is refused
with its reason and changes nothing (the rules: tests/badinput.py); the limit
on data is inclusive; a Multi racing its session's close is never a false
success.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import grpc
import pytest

from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from tests.badinput import (
    BIG,
    LIMIT,
    RPC_TIMEOUT,
    SERVICE,
    TREE,
    VERSIONS,
    Answer,
    assert_unchanged,
    check,
    create_op,
    dump,
    op,
    reason_of,
    wrong_password,
)


def test_fixture_tree(coord):
    tree = dump(coord.stub)
    assert {path: data for path, (data, _) in tree.items()} == {"/": b""} | TREE
    assert {path: stat[5] for path, (_, stat) in tree.items()} == VERSIONS
    assert tree["/svc/eph"][1][8] == coord.session.session_id


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    build: Callable[[pb.SessionRef], object]  # the fixture's session -> request
    expect: str | list[str]  # the reason, or a Multi's per-op reasons


HUGE = b"y" * ((2 << 20) + 1)  # over the 1 MiB default too
UNKNOWN_SESSION = pb.SessionRef(session_id=0x7EADBEEF, password=b"\x00" * 16)


UNARY_CASES = [
    # oversized data (the module's server has --max-data-bytes 1024)
    Case("create-1025-bytes", "Create",
         lambda s: pb.CreateRequest(path="/app/big", data=BIG), "DATA_TOO_LARGE"),
    Case("create-2MiB", "Create",  # over --max-request-bytes: refused undecoded
         lambda s: pb.CreateRequest(path="/app/big", data=HUGE), "LIMIT_EXCEEDED"),
    Case("create-big-sequential-parents", "Create",
         lambda s: pb.CreateRequest(path="/new/big-", data=BIG, sequential=True,
                                    make_parents=True), "DATA_TOO_LARGE"),
    Case("set-1025-bytes", "SetData",
         lambda s: pb.SetDataRequest(path="/app", data=BIG), "DATA_TOO_LARGE"),
    Case("set-big-matching-version", "SetData",
         lambda s: pb.SetDataRequest(path="/app", data=BIG, version=2), "DATA_TOO_LARGE"),
    Case("multi-create-big", "Multi",
         lambda s: pb.MultiRequest(ops=[create_op("/app/big", data=BIG)]), ["DATA_TOO_LARGE"]),
    Case("multi-set-then-set-big", "Multi",
         lambda s: pb.MultiRequest(ops=[
             op(set_data=pb.SetDataRequest(path="/app", data=b"ok")),
             op(set_data=pb.SetDataRequest(path="/empty", data=BIG)),
         ]), ["ROLLED_BACK", "DATA_TOO_LARGE"]),
    # versions that cannot match (/app is at 2, the rest at 0)
    Case("set-version-0-of-2", "SetData",
         lambda s: pb.SetDataRequest(path="/app", data=b"v", version=0), "BAD_VERSION"),
    Case("set-version-3-of-2", "SetData",
         lambda s: pb.SetDataRequest(path="/app", data=b"v", version=3), "BAD_VERSION"),
    Case("set-version-minus-2", "SetData",
         lambda s: pb.SetDataRequest(path="/app", data=b"v", version=-2), "BAD_VERSION"),
    Case("set-version-int32-max", "SetData",
         lambda s: pb.SetDataRequest(path="/empty", version=2**31 - 1), "BAD_VERSION"),
    Case("set-version-int32-min", "SetData",
         lambda s: pb.SetDataRequest(path="/empty", version=-(2**31)), "BAD_VERSION"),
    Case("delete-version-1-of-0", "Delete",
         lambda s: pb.DeleteRequest(path="/app/config/leaf", version=1), "BAD_VERSION"),
    Case("delete-version-minus-2", "Delete",
         lambda s: pb.DeleteRequest(path="/empty", version=-2), "BAD_VERSION"),
    Case("delete-recursive-bad-version", "Delete",
         lambda s: pb.DeleteRequest(path="/app", version=0, recursive=True), "BAD_VERSION"),
    Case("multi-check-bad-version", "Multi",
         lambda s: pb.MultiRequest(ops=[op(check=pb.CheckRequest(path="/app", version=1))]),
         ["BAD_VERSION"]),
    Case("multi-set-then-stale-check", "Multi",
         lambda s: pb.MultiRequest(ops=[
             op(set_data=pb.SetDataRequest(path="/app", data=b"v3")),
             op(check=pb.CheckRequest(path="/app", version=2)),
         ]), ["ROLLED_BACK", "BAD_VERSION"]),
    # unknown or wrong sessions
    Case("create-unknown-session", "Create",
         lambda s: pb.CreateRequest(path="/app/x", session=UNKNOWN_SESSION), "SESSION_EXPIRED"),
    Case("create-negative-session-id", "Create",
         lambda s: pb.CreateRequest(path="/app/x", session=pb.SessionRef(session_id=-1)),
         "SESSION_EXPIRED"),
    Case("create-wrong-password", "Create",
         lambda s: pb.CreateRequest(path="/app/x", session=wrong_password(s)),
         "SESSION_EXPIRED"),
    Case("create-ephemeral-wrong-password", "Create",
         lambda s: pb.CreateRequest(path="/app/x", ephemeral=True, session=wrong_password(s)),
         "SESSION_EXPIRED"),
    Case("create-ephemeral-no-password", "Create",
         lambda s: pb.CreateRequest(path="/app/x", ephemeral=True,
                                    session=pb.SessionRef(session_id=s.session_id)),
         "SESSION_EXPIRED"),
    Case("set-unknown-session", "SetData",
         lambda s: pb.SetDataRequest(path="/app", session=UNKNOWN_SESSION), "SESSION_EXPIRED"),
    Case("delete-unknown-session", "Delete",
         lambda s: pb.DeleteRequest(path="/empty", session=UNKNOWN_SESSION), "SESSION_EXPIRED"),
    Case("multi-unknown-session", "Multi",
         lambda s: pb.MultiRequest(ops=[create_op("/app/x")], session=UNKNOWN_SESSION),
         "SESSION_EXPIRED"),
    Case("multi-wrong-password", "Multi",
         lambda s: pb.MultiRequest(ops=[create_op("/app/x", ephemeral=True)],
                                   session=wrong_password(s)), "SESSION_EXPIRED"),
    Case("get-data-unknown-session", "GetData",
         lambda s: pb.GetDataRequest(path="/app", session=UNKNOWN_SESSION), "SESSION_EXPIRED"),
    Case("exists-unknown-session", "Exists",
         lambda s: pb.ExistsRequest(path="/app", session=UNKNOWN_SESSION), "SESSION_EXPIRED"),
    Case("get-children-wrong-password", "GetChildren",
         lambda s: pb.GetChildrenRequest(path="/app", session=wrong_password(s)),
         "SESSION_EXPIRED"),
    Case("watch-unknown-session", "Watch",
         lambda s: pb.AddWatchRequest(path="/app", session=UNKNOWN_SESSION), "SESSION_EXPIRED"),
    Case("keepalive-unknown-session", "KeepAlive", lambda s: UNKNOWN_SESSION, "SESSION_EXPIRED"),
    Case("keepalive-wrong-password", "KeepAlive", wrong_password, "SESSION_EXPIRED"),
    Case("keepalive-no-session", "KeepAlive", lambda s: pb.SessionRef(), "BAD_ARGUMENTS"),
    Case("close-unknown-session", "CloseSession", lambda s: UNKNOWN_SESSION, "SESSION_EXPIRED"),
    Case("close-wrong-password", "CloseSession", wrong_password, "SESSION_EXPIRED"),
    Case("close-no-session", "CloseSession", lambda s: pb.SessionRef(), "BAD_ARGUMENTS"),
    Case("open-session-negative-timeout", "OpenSession",
         lambda s: pb.OpenSessionRequest(timeout_ms=-1), "BAD_ARGUMENTS"),
    # an ephemeral needs a session
    Case("create-ephemeral-without-session", "Create",
         lambda s: pb.CreateRequest(path="/app/e", ephemeral=True), "BAD_ARGUMENTS"),
    Case("create-ephemeral-sequential-without-session", "Create",
         lambda s: pb.CreateRequest(path="/app/e-", ephemeral=True, sequential=True),
         "BAD_ARGUMENTS"),
    Case("multi-ephemeral-without-session", "Multi",
         lambda s: pb.MultiRequest(ops=[create_op("/app/ok"), create_op("/app/e", ephemeral=True)]),
         ["ROLLED_BACK", "BAD_ARGUMENTS"]),
    # the root
    Case("delete-root", "Delete", lambda s: pb.DeleteRequest(path="/"), "BAD_ARGUMENTS"),
    Case("delete-root-recursive", "Delete",
         lambda s: pb.DeleteRequest(path="/", recursive=True), "BAD_ARGUMENTS"),
    Case("delete-root-version-0", "Delete",
         lambda s: pb.DeleteRequest(path="/", version=0, recursive=True), "BAD_ARGUMENTS"),
    Case("multi-delete-root", "Multi",
         lambda s: pb.MultiRequest(ops=[op(delete=pb.DeleteRequest(path="/", recursive=True))]),
         ["BAD_ARGUMENTS"]),
    Case("create-root", "Create", lambda s: pb.CreateRequest(path="/"), "NODE_EXISTS"),
    # /coord is the service's own
    Case("create-coord", "Create", lambda s: pb.CreateRequest(path="/coord"), "BAD_ARGUMENTS"),
    Case("create-under-coord", "Create",
         lambda s: pb.CreateRequest(path="/coord/x"), "BAD_ARGUMENTS"),
    Case("create-under-coord-parents", "Create",
         lambda s: pb.CreateRequest(path="/coord/x/y", make_parents=True), "BAD_ARGUMENTS"),
    Case("create-coord-sequential", "Create",
         lambda s: pb.CreateRequest(path="/coord", sequential=True), "BAD_ARGUMENTS"),
    Case("create-under-coord-ephemeral", "Create",
         lambda s: pb.CreateRequest(path="/coord/e", ephemeral=True, session=s), "BAD_ARGUMENTS"),
    Case("set-coord", "SetData", lambda s: pb.SetDataRequest(path="/coord"), "BAD_ARGUMENTS"),
    Case("delete-coord", "Delete",
         lambda s: pb.DeleteRequest(path="/coord", recursive=True), "BAD_ARGUMENTS"),
    Case("delete-under-coord", "Delete",
         lambda s: pb.DeleteRequest(path="/coord/x"), "BAD_ARGUMENTS"),
    Case("multi-create-under-coord", "Multi",
         lambda s: pb.MultiRequest(ops=[create_op("/app/ok"), create_op("/coord/x")]),
         ["ROLLED_BACK", "BAD_ARGUMENTS"]),
    # one-shot watches need the stream
    Case("get-data-watch", "GetData",
         lambda s: pb.GetDataRequest(path="/app", watch=True), "BAD_ARGUMENTS"),
    Case("get-data-watch-with-session", "GetData",
         lambda s: pb.GetDataRequest(path="/app", watch=True, session=s), "BAD_ARGUMENTS"),
    Case("exists-watch", "Exists",
         lambda s: pb.ExistsRequest(path="/nope", watch=True), "BAD_ARGUMENTS"),
    Case("get-children-watch", "GetChildren",
         lambda s: pb.GetChildrenRequest(path="/app", watch=True), "BAD_ARGUMENTS"),
    # unknown AddWatch modes
    Case("watch-mode-2", "Watch", lambda s: pb.AddWatchRequest(path="/app", mode=2),
         "BAD_ARGUMENTS"),
    Case("watch-mode-minus-1", "Watch", lambda s: pb.AddWatchRequest(path="/app", mode=-1),
         "BAD_ARGUMENTS"),
    Case("watch-mode-int32-max", "Watch",
         lambda s: pb.AddWatchRequest(path="/", mode=2**31 - 1, session=s), "BAD_ARGUMENTS"),
    # a multi op with nothing in it
    Case("multi-empty-op", "Multi", lambda s: pb.MultiRequest(ops=[pb.Op()]), ["BAD_ARGUMENTS"]),
    Case("multi-create-then-empty-op", "Multi",
         lambda s: pb.MultiRequest(ops=[create_op("/app/ok"), pb.Op()]),
         ["ROLLED_BACK", "BAD_ARGUMENTS"]),
    Case("multi-empty-op-first", "Multi",
         lambda s: pb.MultiRequest(ops=[pb.Op(), create_op("/app/ok")]),
         ["BAD_ARGUMENTS", "RUNTIME_INCONSISTENCY"]),
    Case("multi-big-rollback", "Multi",
         lambda s: pb.MultiRequest(ops=[
             op(delete=pb.DeleteRequest(path="/app", recursive=True)),
             op(delete=pb.DeleteRequest(path="/svc/eph")),
             op(set_data=pb.SetDataRequest(path="/svc", data=b"changed")),
             create_op("/fresh/a/b", make_parents=True, sequential=True),
             create_op("/svc/e", ephemeral=True),
             pb.Op(),
         ], session=s), ["ROLLED_BACK"] * 5 + ["BAD_ARGUMENTS"]),
    # refusals that depend on the tree
    Case("create-existing", "Create", lambda s: pb.CreateRequest(path="/app"), "NODE_EXISTS"),
    Case("create-existing-ephemeral-parents", "Create",
         lambda s: pb.CreateRequest(path="/svc/eph", make_parents=True), "NODE_EXISTS"),
    Case("create-missing-parent", "Create",
         lambda s: pb.CreateRequest(path="/nope/x"), "NO_NODE"),
    Case("create-under-ephemeral", "Create",
         lambda s: pb.CreateRequest(path="/svc/eph/c"), "NO_CHILDREN_FOR_EPHEMERALS"),
    Case("create-under-ephemeral-sequential", "Create",
         lambda s: pb.CreateRequest(path="/svc/eph/c", sequential=True, ephemeral=True,
                                    session=s), "NO_CHILDREN_FOR_EPHEMERALS"),
    Case("create-under-ephemeral-parents", "Create",
         lambda s: pb.CreateRequest(path="/svc/eph/a/b", make_parents=True),
         "NO_CHILDREN_FOR_EPHEMERALS"),
    Case("set-missing", "SetData", lambda s: pb.SetDataRequest(path="/nope"), "NO_NODE"),
    Case("delete-missing", "Delete", lambda s: pb.DeleteRequest(path="/nope"), "NO_NODE"),
    Case("delete-not-empty", "Delete", lambda s: pb.DeleteRequest(path="/app"), "NOT_EMPTY"),
    Case("get-data-missing", "GetData", lambda s: pb.GetDataRequest(path="/nope"), "NO_NODE"),
    Case("get-data-coord", "GetData", lambda s: pb.GetDataRequest(path="/coord"), "NO_NODE"),
    Case("get-children-missing", "GetChildren",
         lambda s: pb.GetChildrenRequest(path="/nope"), "NO_NODE"),
    Case("multi-create-then-delete-not-empty", "Multi",
         lambda s: pb.MultiRequest(ops=[
             create_op("/app/new"), op(delete=pb.DeleteRequest(path="/app")),
         ]), ["ROLLED_BACK", "NOT_EMPTY"]),
]  # fmt: skip


@pytest.mark.parametrize("case", UNARY_CASES, ids=[c.id for c in UNARY_CASES])
def test_unary_refusal(coord, case):
    before = dump(coord.stub)
    check(coord.send(case.method, case.build(coord.session)), case.expect)
    assert_unchanged(coord, before)


def test_data_limit_is_inclusive(server_factory):
    """The limit itself is accepted; one byte more is refused (own server:
    this one changes its tree)."""
    srv = server_factory("--max-data-bytes", str(LIMIT))
    with grpc.insecure_channel(srv.address) as channel:
        stub = client_pb2_grpc.CoordStub(channel)
        stub.Create(pb.CreateRequest(path="/n", data=b"a" * LIMIT), timeout=RPC_TIMEOUT)
        stub.SetData(pb.SetDataRequest(path="/n", data=b"b" * LIMIT), timeout=RPC_TIMEOUT)
        with pytest.raises(grpc.RpcError) as refused:
            stub.SetData(pb.SetDataRequest(path="/n", data=b"c" * (LIMIT + 1)), timeout=10)
        assert reason_of(refused.value) == "DATA_TOO_LARGE"
        got = stub.GetData(pb.GetDataRequest(path="/n"), timeout=RPC_TIMEOUT)
        assert (got.data, got.stat.version) == (b"b" * LIMIT, 1)


def test_unary_multi_racing_session_close_never_reports_false_success(coord):
    """A Multi naming a session that closes while the Multi is on its way is
    refused with SESSION_EXPIRED, never answered OK with no results."""
    before = dump(coord.stub)
    wrong = []
    for _ in range(5):
        opened = coord.stub.OpenSession(pb.OpenSessionRequest(timeout_ms=10_000), timeout=10)
        ref = pb.SessionRef(session_id=opened.session_id, password=opened.password)
        multi = pb.MultiRequest(ops=[create_op("/app/config/leaf")], session=ref)
        closing = coord.stub.CloseSession.future(ref, timeout=RPC_TIMEOUT)
        rpc = coord.channel.unary_unary(SERVICE + "Multi")
        racers = [rpc.future(multi.SerializeToString(), timeout=RPC_TIMEOUT) for _ in range(10)]
        closing.result()
        for future in racers:
            try:
                answer = Answer(grpc.StatusCode.OK, response=pb.MultiResponse.FromString(
                    future.result()))  # fmt: skip
            except grpc.RpcError as err:
                answer = Answer(err.code(), err.details() or "", reason_of(err))
            if answer.code == grpc.StatusCode.OK:
                if [r.WhichOneof("result") for r in answer.response.results] != ["error"]:
                    wrong.append(str(answer))
            elif answer.reason != "SESSION_EXPIRED":
                wrong.append(str(answer))
    assert not wrong, f"{len(wrong)} of 50 racing Multis answered wrongly, e.g. {wrong[0]}"
    assert_unchanged(coord, before)
