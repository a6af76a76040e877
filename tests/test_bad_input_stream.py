"""Bad input on the Session stream: refused requests answered in order with
their reasons, a first message that is no good connect, reconnects to
sessions that are not there, half-close; the tree unchanged
(tests/badinput.py).
"""

from __future__ import annotations

import grpc
import pytest

from coord_api.wire import client_pb2 as pb
from tests.bad_streams import run_stream, to_message, unread
from tests.badinput import (
    BIG,
    CLOSE,
    PING,
    RPC_TIMEOUT,
    assert_unchanged,
    connect,
    create_op,
    describe,
    dump,
    kind_of,
    request,
)


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


@pytest.mark.parametrize("where", ["opening", "later"])
def test_stream_frame_too_large_to_read_ends_the_call_unread(coord, where):
    """A frame over four times --max-request-bytes is not read at all: gRPC
    ends the call (RESOURCE_EXHAUSTED, no reason of ours) and nothing changes.
    The fuzz's own checker (tests/bad_streams.py) must say so too."""
    before = dump(coord.stub)
    huge = ("request", 1, "create", pb.CreateRequest(path="/coord/h", data=b"h" * (5 << 20)))
    assert unread(to_message(huge))
    if where == "opening":
        run_stream(coord, ("connect", connect().connect, [huge]), [], "close")
    else:
        run_stream(coord, ("connect", connect().connect, []), [[huge]], "close")
    coord.serves()
    assert_unchanged(coord, before)
