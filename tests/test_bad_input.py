"""Bad input: every RPC validates every field, refuses with a clear error and
changes nothing (the path rules: coord_api/paths.py; the refusal on the wire:
coord/rpc/guard.py).

Everything here goes through the raw gRPC API (generated messages sent as
bytes), not the SDK. A refusal must be a gRPC status whose trailing metadata
carries the ErrorCode name as ``coord-error`` (and whose details start with
it), or, on the Session stream, a ``Response.error`` / ``session_error``;
never a bare UNKNOWN or INTERNAL. After every refused request the tree, dumped
by walking GetData/GetChildren from /, must be exactly what it was.

One server serves the whole module: a small tree (one node with version 2,
an ephemeral owned by a long-lived session) built once by the fixture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest

from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from tests.badinput import (
    CLOSE,
    LIMIT,
    PING,
    RPC_TIMEOUT,
    SERVICE,
    TREE,
    UNARY,
    VERSIONS,
    WAIT,
    Answer,
    Coord,
    assert_unchanged,
    check,
    check_error,
    connect,
    describe,
    dump,
    kind_of,
    path_ok,
    reason_of,
    request,
    serve_tree,
)


@pytest.fixture(scope="module")
def coord(tmp_path_factory) -> Iterator[Coord]:
    yield from serve_tree(tmp_path_factory)


def test_fixture_tree(coord):
    tree = dump(coord.stub)
    assert {path: data for path, (data, _) in tree.items()} == {"/": b""} | TREE
    assert {path: stat[5] for path, (_, stat) in tree.items()} == VERSIONS
    assert tree["/svc/eph"][1][8] == coord.session.session_id


# ------------------------------------------------------ (a) unary cases


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    build: Callable[[pb.SessionRef], object]  # the fixture's session -> request
    expect: str | list[str]  # the reason, or a Multi's per-op reasons


def op(**kind) -> pb.Op:
    return pb.Op(**kind)


def create_op(path: str, **fields) -> pb.Op:
    return pb.Op(create=pb.CreateRequest(path=path, **fields))


BIG = b"x" * (LIMIT + 1)
HUGE = b"y" * ((2 << 20) + 1)  # over the 1 MiB default too
UNKNOWN_SESSION = pb.SessionRef(session_id=0x7EADBEEF, password=b"\x00" * 16)


def wrong_password(session: pb.SessionRef) -> pb.SessionRef:
    return pb.SessionRef(session_id=session.session_id, password=b"wrong password!!")


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


BAD_PATHS = {
    "empty": "",
    "relative": "app",
    "relative-nested": "app/config",
    "trailing-slash": "/app/",
    "trailing-slash-missing": "/nope/",
    "double-slash": "//",
    "leading-double-slash": "//app",
    "empty-segment": "/app//config",
    "dot": "/app/./config",
    "dot-last": "/app/.",
    "dotdot": "/app/../svc",
    "dotdot-root": "/..",
    "nul": "/app\x00",
    "nul-middle": "/a\x00b",
    "ctrl-01-in-parent": "/a\x01/b",
    "tab": "/a\tb",
    "newline": "/app\n",
    "unit-separator": "/a\x1f",
    "del": "/\x7f",
    "c1-nel": "/a\x85",
    "c1-9f": "/a\x9fb",
    "private-use-e000": "/a\ue000",
    "private-use-f8ff": "/\uf8ff",
    "fff0": "/a\ufff0",
    "ffff": "/a\uffff",
    "coord-trailing-slash": "/coord/",
}


def bad_path_requests(path: str, session: pb.SessionRef) -> list[tuple[str, object, object]]:
    """Every request that carries `path`, and what each must answer."""
    bad = "BAD_ARGUMENTS"
    two = ["ROLLED_BACK", bad]
    good = create_op("/app/ok")
    return [
        ("Create", pb.CreateRequest(path=path, data=b"d"), bad),
        ("Create", pb.CreateRequest(path=path, sequential=True, make_parents=True), bad),
        ("Create", pb.CreateRequest(path=path, ephemeral=True, session=session), bad),
        ("Delete", pb.DeleteRequest(path=path), bad),
        ("Delete", pb.DeleteRequest(path=path, recursive=True, version=-1), bad),
        ("SetData", pb.SetDataRequest(path=path, data=b"d"), bad),
        ("GetData", pb.GetDataRequest(path=path), bad),
        ("Exists", pb.ExistsRequest(path=path), bad),
        ("GetChildren", pb.GetChildrenRequest(path=path, session=session), bad),
        ("Sync", pb.SyncRequest(path=path), bad),
        ("Watch", pb.AddWatchRequest(path=path), bad),
        ("Watch", pb.AddWatchRequest(path=path, mode=pb.PERSISTENT_RECURSIVE), bad),
        ("Multi", pb.MultiRequest(ops=[good, create_op(path)]), two),
        ("Multi", pb.MultiRequest(ops=[good, op(delete=pb.DeleteRequest(path=path))]), two),
        ("Multi", pb.MultiRequest(ops=[good, op(set_data=pb.SetDataRequest(path=path))]), two),
        ("Multi", pb.MultiRequest(ops=[good, op(check=pb.CheckRequest(path=path))]), two),
    ]


@pytest.mark.parametrize("path", BAD_PATHS.values(), ids=BAD_PATHS.keys())
def test_malformed_path_refused_everywhere(coord, path):
    assert not path_ok(path)
    before = dump(coord.stub)
    wrong = []
    for method, message, expect in bad_path_requests(path, coord.session):
        try:
            check(coord.send(method, message), expect)
        except AssertionError as err:
            wrong.append(f"{method}({describe(message)}): {err}")
    assert not wrong, "\n".join(wrong)
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


# ----------------------------------------------------------- (b) stream


def error_name(response: pb.Response) -> str:
    if response.WhichOneof("result") != "error":
        return "ok:" + str(response.WhichOneof("result"))
    return pb.ErrorCode.Name(response.error.code)


STREAM_CASES = {
    "no-op": (pb.Request(), "BAD_ARGUMENTS"),
    "create-bad-path": (pb.Request(create=pb.CreateRequest(path="/app/")), "BAD_ARGUMENTS"),
    "create-control-char": (pb.Request(create=pb.CreateRequest(path="/a\x07")), "BAD_ARGUMENTS"),
    "create-big": (pb.Request(create=pb.CreateRequest(path="/b", data=BIG)), "DATA_TOO_LARGE"),
    "create-big-ephemeral": (
        pb.Request(create=pb.CreateRequest(path="/b", data=BIG, ephemeral=True)),
        "DATA_TOO_LARGE",
    ),
    "create-under-coord": (pb.Request(create=pb.CreateRequest(path="/coord/x")), "BAD_ARGUMENTS"),
    "create-existing": (pb.Request(create=pb.CreateRequest(path="/app")), "NODE_EXISTS"),
    "create-under-ephemeral": (
        pb.Request(create=pb.CreateRequest(path="/svc/eph/x", ephemeral=True)),
        "NO_CHILDREN_FOR_EPHEMERALS",
    ),
    "set-bad-version": (
        pb.Request(set_data=pb.SetDataRequest(path="/app", version=7)),
        "BAD_VERSION",
    ),
    "set-big": (pb.Request(set_data=pb.SetDataRequest(path="/app", data=BIG)), "DATA_TOO_LARGE"),
    "set-coord": (pb.Request(set_data=pb.SetDataRequest(path="/coord")), "BAD_ARGUMENTS"),
    "delete-root": (pb.Request(delete=pb.DeleteRequest(path="/", recursive=True)), "BAD_ARGUMENTS"),
    "delete-not-empty": (pb.Request(delete=pb.DeleteRequest(path="/app")), "NOT_EMPTY"),
    "delete-missing": (pb.Request(delete=pb.DeleteRequest(path="/nope")), "NO_NODE"),
    "check-bad-version": (pb.Request(check=pb.CheckRequest(path="/app", version=0)), "BAD_VERSION"),
    "check-bad-path": (pb.Request(check=pb.CheckRequest(path="app")), "BAD_ARGUMENTS"),
    "get-data-empty-path": (pb.Request(get_data=pb.GetDataRequest(path="")), "BAD_ARGUMENTS"),
    "get-data-missing": (pb.Request(get_data=pb.GetDataRequest(path="/nope")), "NO_NODE"),
    "exists-nul": (
        pb.Request(exists=pb.ExistsRequest(path="/a\x00", watch=True)),
        "BAD_ARGUMENTS",
    ),
    "get-children-relative": (
        pb.Request(get_children=pb.GetChildrenRequest(path="app", watch=True)),
        "BAD_ARGUMENTS",
    ),
    "sync-double-slash": (pb.Request(sync=pb.SyncRequest(path="//")), "BAD_ARGUMENTS"),
    "add-watch-mode-5": (
        pb.Request(add_watch=pb.AddWatchRequest(path="/app", mode=5)),
        "BAD_ARGUMENTS",
    ),
    "add-watch-bad-path": (
        pb.Request(add_watch=pb.AddWatchRequest(path="/app/..")),
        "BAD_ARGUMENTS",
    ),
    "remove-watch-kind-9": (
        pb.Request(remove_watch=pb.RemoveWatchRequest(path="/app", kind=9)),
        "BAD_ARGUMENTS",
    ),
    "remove-watch-bad-path": (
        pb.Request(remove_watch=pb.RemoveWatchRequest(path="/a/")),
        "BAD_ARGUMENTS",
    ),
    "multi-empty-op": (
        pb.Request(multi=pb.MultiRequest(ops=[create_op("/app/ok"), pb.Op()])),
        ["ROLLED_BACK", "BAD_ARGUMENTS"],
    ),
}


@pytest.mark.parametrize("case", STREAM_CASES.values(), ids=STREAM_CASES.keys())
def test_stream_request_refusal(coord, case):
    """A refused request gets a Response.error (same xid) and the stream goes on."""
    message, expect = case
    before = dump(coord.stub)
    with coord.session_stream() as stream:
        sent = pb.Request()
        sent.CopyFrom(message)
        sent.xid = 41
        stream.send(pb.ClientMessage(request=sent), PING)
        got = [stream.recv(), stream.recv()]  # a pong need not wait for the response
        assert sorted(kind_of(m) for m in got) == ["pong", "response"], got
        answer = next(m for m in got if kind_of(m) == "response")
        assert answer.response.xid == 41
        if isinstance(expect, list):
            assert answer.response.WhichOneof("result") == "multi", describe(answer)
            got = [pb.ErrorCode.Name(r.error.code) for r in answer.response.multi.results]
            assert got == expect
        else:
            assert error_name(answer.response) == expect, describe(answer)
        stream.send(CLOSE)
        messages, end = stream.until_end()
        assert [kind_of(m) for m in messages] == ["closed"]
        assert end.code == grpc.StatusCode.OK
    assert_unchanged(coord, before)


NOT_CONNECT_FIRST = {
    "ping": [PING],
    "request": [request(1, get_data=pb.GetDataRequest(path="/"))],
    "write-request": [request(1, create=pb.CreateRequest(path="/first"))],
    "close": [CLOSE],
    "empty-message": [pb.ClientMessage()],
    "no-messages": [],
    "ping-then-connect": [PING, connect()],
}


@pytest.mark.parametrize("messages", NOT_CONNECT_FIRST.values(), ids=NOT_CONNECT_FIRST.keys())
def test_stream_first_message_must_be_connect(coord, messages):
    before = dump(coord.stub)
    with coord.stream() as stream:
        stream.send(*messages)
        received, end = stream.until_end()
    assert received == []
    assert end.code == grpc.StatusCode.INVALID_ARGUMENT, end
    assert end.details.startswith("BAD_ARGUMENTS"), end
    coord.serves()
    assert_unchanged(coord, before)


def test_stream_first_message_refusal_carries_reason(coord):
    """The refusal of a stream that does not start with connect carries the
    same machine-readable reason as every unary refusal (coord/rpc/guard.py)."""
    with coord.stream() as stream:
        stream.send(PING)
        _, end = stream.until_end()
    assert end.code == grpc.StatusCode.INVALID_ARGUMENT
    assert end.reason == "BAD_ARGUMENTS", f"no coord-error trailing metadata: {end}"


def test_stream_reconnect_with_unknown_session_is_expired(coord):
    with coord.stream() as stream:
        stream.send(connect(session_id=0x7EADBEEF, password=b"\x00" * 16))
        messages, end = stream.until_end()
    assert [kind_of(m) for m in messages] == ["session_error"]
    assert pb.ErrorCode.Name(messages[0].session_error.code) == "SESSION_EXPIRED"
    coord.serves()


def test_stream_reconnect_with_wrong_password_is_expired(coord):
    with coord.stream() as stream:
        stream.send(connect(session_id=coord.session.session_id, password=b"not the password"))
        messages, _ = stream.until_end()
    assert [kind_of(m) for m in messages] == ["session_error"]
    assert pb.ErrorCode.Name(messages[0].session_error.code) == "SESSION_EXPIRED"
    # the real session is untouched: its ephemeral is still there
    assert dump(coord.stub)["/svc/eph"][1][8] == coord.session.session_id


def test_stream_reconnect_to_closed_session_is_expired(coord):
    opened = coord.stub.OpenSession(pb.OpenSessionRequest(timeout_ms=10_000), timeout=10)
    ref = pb.SessionRef(session_id=opened.session_id, password=opened.password)
    with coord.stream() as stream:  # a control: the live session can be resumed
        stream.send(connect(session_id=ref.session_id, password=ref.password))
        resumed = stream.recv()
        assert kind_of(resumed) == "connected"
        assert resumed.connected.session_id == ref.session_id
    coord.stub.CloseSession(ref, timeout=RPC_TIMEOUT)
    with coord.stream() as stream:
        stream.send(connect(session_id=ref.session_id, password=ref.password))
        messages, _ = stream.until_end()
    assert [kind_of(m) for m in messages] == ["session_error"]
    assert pb.ErrorCode.Name(messages[0].session_error.code) == "SESSION_EXPIRED"


def test_stream_connect_with_negative_timeout(coord):
    with coord.stream() as stream:
        stream.send(connect(timeout_ms=-5))
        messages, _ = stream.until_end()
    assert [kind_of(m) for m in messages] == ["session_error"]
    assert pb.ErrorCode.Name(messages[0].session_error.code) == "BAD_ARGUMENTS"


@pytest.mark.parametrize(
    "message", [connect(), pb.ClientMessage()], ids=["second-connect", "empty-message"]
)
def test_stream_unexpected_message_ends_session_stream(coord, message):
    before = dump(coord.stub)
    with coord.session_stream() as stream:
        stream.send(message)
        messages, end = stream.until_end()
    assert [kind_of(m) for m in messages] == ["session_error"]
    assert pb.ErrorCode.Name(messages[0].session_error.code) == "BAD_ARGUMENTS"
    assert end.code == grpc.StatusCode.OK
    coord.serves()
    assert_unchanged(coord, before)


def test_stream_half_close_still_answers_every_request(coord):
    """A client that sends its requests and then half-closes still gets an
    answer to each of them before the call ends."""
    missing = []
    for attempt in range(5):
        with coord.stream() as stream:
            requests = [
                request(xid, create=pb.CreateRequest(path="/coord/x")) for xid in range(1, 6)
            ] + [request(xid, get_data=pb.GetDataRequest(path="/app")) for xid in (6, 7)]
            stream.send(connect(), *requests)
            stream.half_close()
            messages, end = stream.until_end()
        xids = [m.response.xid for m in messages if kind_of(m) == "response"]
        if xids != list(range(1, 8)):
            missing.append(f"attempt {attempt}: answered {xids}, call ended {end.code.name}")
    assert not missing, "requests lost at half-close: " + "; ".join(missing)


GARBAGE = {
    "corrupt-varint": b"\xff\xff\xff",
    "truncated-field": b"\x0a\x09",
    "bad-utf8-string": b"\x0a\x02\xff\xfe",
    "bad-wire-type": b"\x0f",
}


@pytest.mark.parametrize("data", GARBAGE.values(), ids=GARBAGE.keys())
def test_stream_garbage_first_frame(coord, data):
    """Bytes that are no ClientFrame: an error status, and the server serves."""
    before = dump(coord.stub)
    with coord.stream() as stream:
        stream.send_raw(data)
        received, end = stream.until_end()
    assert received == []
    assert end.code != grpc.StatusCode.OK
    coord.serves()
    assert_unchanged(coord, before)


def test_stream_garbage_after_connect_ends_the_call(coord):
    """Bytes that are no ClientFrame, after a good connect: the call ends at
    once with an error (status or session_error), not when the session times
    out; and the server serves on."""
    before = dump(coord.stub)
    with coord.session_stream() as stream:
        stream.send_raw(GARBAGE["corrupt-varint"])
        try:
            messages, end = stream.until_end(timeout=WAIT)
        except AssertionError:
            pytest.fail(f"the call hangs after a garbage frame (nothing for {WAIT} s)")
    refused = end.code != grpc.StatusCode.OK or [
        pb.ErrorCode.Name(m.session_error.code) for m in messages if kind_of(m) == "session_error"
    ] == ["BAD_ARGUMENTS"]
    assert refused, f"garbage frame: got {messages} then {end}"
    coord.serves()
    assert_unchanged(coord, before)


UNARY_GARBAGE = [
    (method, name, data)
    for method in [*UNARY, "Watch"]
    for name, data in GARBAGE.items()
    if not (method in ("OpenSession", "Status") and name == "bad-utf8-string")  # no strings
]


@pytest.mark.parametrize(
    ("method", "data"),
    [(m, d) for m, _, d in UNARY_GARBAGE],
    ids=[f"{m}-{n}" for m, n, _ in UNARY_GARBAGE],
)
def test_unary_garbage_is_refused(coord, method, data):
    """Bytes that are no request: an error status, and the server serves."""
    before = dump(coord.stub)
    answer = coord.call(method, data)
    assert answer.code != grpc.StatusCode.OK, answer
    coord.serves()
    assert_unchanged(coord, before)


@pytest.mark.parametrize("method", [*UNARY, "Watch", "Session"])
def test_undecodable_message_gets_a_reason(coord, method):
    """A malformed message gets a clear error with a machine-readable reason
    (INVALID_ARGUMENT, coord-error BAD_ARGUMENTS), never a bare UNKNOWN."""
    if method == "Session":
        with coord.stream() as stream:
            stream.send_raw(GARBAGE["corrupt-varint"])
            _, end = stream.until_end()
        answer = Answer(end.code, end.details, end.reason)
    else:
        answer = coord.call(method, GARBAGE["corrupt-varint"])
    check_error(answer, "BAD_ARGUMENTS")
