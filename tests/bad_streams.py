"""Session streams for bad input (test_bad_input_fuzz.py): the strategies
that draw a stream's first frame, its requests and how it ends, and
`run_stream`, which plays one and checks every answer.
"""

from __future__ import annotations

import grpc
from hypothesis import strategies as st

from coord_api.wire import client_pb2 as pb
from tests.bad_requests import (
    ENUMS,
    INT32,
    INT64,
    RANDOM_PATHS,
    failing_creates,
    failing_deletes,
    failing_multis,
    failing_sets,
    parses,
    reads,
    weighted,
)
from tests.badinput import (
    CLOSE,
    ERROR_NAMES,
    PING,
    Answer,
    Coord,
    check_refused_or_served,
    connect,
    describe,
    kind_of,
)


def stream_requests():
    writes = st.one_of(
        failing_creates(unary=False).map(lambda m: ("create", m)),
        failing_sets(unary=False).map(lambda m: ("set_data", m)),
        failing_deletes(unary=False).map(lambda m: ("delete", m)),
        failing_multis(unary=False).map(lambda m: ("multi", m)),
    )
    others = st.one_of(
        reads(unary=False).map(lambda t: (t[1], t[2])),
        st.builds(pb.AddWatchRequest, path=RANDOM_PATHS, mode=ENUMS).map(
            lambda m: ("add_watch", m)
        ),
        st.builds(pb.RemoveWatchRequest, path=RANDOM_PATHS, kind=ENUMS).map(
            lambda m: ("remove_watch", m)
        ),
        st.builds(pb.CheckRequest, path=RANDOM_PATHS, version=INT32).map(lambda m: ("check", m)),
        st.just((None, None)),
    )
    return st.tuples(INT64, st.one_of(writes, others)).map(
        lambda t: ("request", t[0], t[1][0], t[1][1])
    )


STREAM_MESSAGES = st.one_of(stream_requests(), st.just(("ping", 0, None, None)))
FIRST_FRAMES = weighted(
    # a good connect, sometimes with requests in the same frame
    (
        4,
        st.tuples(
            st.just("connect"),
            st.builds(pb.Connect, timeout_ms=st.integers(0, 100_000), last_zxid=st.integers(-9, 1)),
            st.lists(STREAM_MESSAGES, max_size=3),
        ),
    ),
    # connects that must be refused with a session_error
    (
        1,
        st.tuples(
            st.just("bad-connect"),
            st.one_of(
                st.builds(
                    pb.Connect,
                    session_id=INT64.filter(bool),
                    password=st.binary(max_size=20),
                    timeout_ms=INT32,
                ),
                st.builds(pb.Connect, timeout_ms=st.integers(-(2**31), -1)),
            ),
            st.just([]),
        ),
    ),
    # a first frame that is no connect
    (1, st.tuples(st.just("not-connect"), st.none(), st.lists(STREAM_MESSAGES, max_size=3))),
    # bytes that are no frame at all
    (
        1,
        st.tuples(
            st.just("garbage"),
            st.one_of(
                st.binary(max_size=32).map(lambda b: b + b"\x0a\x7f"),
                st.binary(max_size=32).map(lambda b: b + b"\xff\xff\xff"),
            ).filter(lambda raw: not parses(pb.ClientFrame, raw)),
            st.just([]),
        ),
    ),
)
STREAM_ACTIONS = st.tuples(
    FIRST_FRAMES,
    st.lists(st.lists(STREAM_MESSAGES, min_size=1, max_size=4), max_size=3),
    st.sampled_from(["close", "half-close", "second-connect", "empty-message"]),
).map(lambda t: ("stream", *t))


def to_message(item) -> pb.ClientMessage:
    what, xid, kind, message = item
    if what == "ping":
        return PING
    req = pb.Request(xid=xid)
    if kind is not None:
        getattr(req, kind).CopyFrom(message)
    return pb.ClientMessage(request=req)


def check_response(message, item, label: str) -> None:
    _, xid, kind, _ = item
    assert kind_of(message) == "response", f"{label}: expected a response, got {message}"
    response = message.response
    assert response.xid == xid, f"{label}: answer out of order: {describe(message)}"
    result = response.WhichOneof("result")
    if result == "error":
        name = pb.ErrorCode.Name(response.error.code)
        assert name in ERROR_NAMES, f"{label}: error without a reason: {describe(message)}"
        return
    assert kind is not None, f"{label}: a request with no op succeeded: {describe(message)}"
    assert result == kind, f"{label}: {kind} answered with {result}"
    if kind == "multi":
        results = [r.WhichOneof("result") for r in response.multi.results]
        assert results and set(results) == {"error"}, f"{label}: multi not refused: {message}"
    else:
        assert kind not in ("create", "set_data", "delete"), f"{label}: write succeeded: {message}"


MAX_REQUEST_BYTES = (1 << 20) + 1024  # the server's default --max-request-bytes


# A port of clients only reads no message over four times that: gRPC refuses
# it unread, RESOURCE_EXHAUSTED without our reason (coord/cli.py, README "Limits").
UNREAD_BYTES = 4 * MAX_REQUEST_BYTES


def frame_bytes(*messages: pb.ClientMessage) -> int:
    return pb.ClientFrame(messages=messages).ByteSize()


def oversized(*messages: pb.ClientMessage) -> bool:
    """Whether a frame of `messages` is over the server's --max-request-bytes."""
    return frame_bytes(*messages) > MAX_REQUEST_BYTES


def unread(*messages: pb.ClientMessage) -> bool:
    """Whether a frame of `messages` is too large for gRPC to read at all."""
    return frame_bytes(*messages) > UNREAD_BYTES


def check_refused_unread(said: list, end, label: str) -> None:
    """gRPC refused the frame: the member said nothing of it, and the call
    ended with no reason of ours."""
    assert said == [], f"{label}: {said}"
    assert (end.code, end.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, None), f"{label}: {end}"


def run_stream(coord: Coord, first, frames, terminal: str) -> None:
    how, payload, extra = first
    label = f"stream({how})"
    opening = []
    if how in ("connect", "bad-connect"):
        opening = [pb.ClientMessage(connect=payload), *[to_message(item) for item in extra]]
    if opening and oversized(*opening):
        with coord.stream() as stream:
            stream.send(*opening)
            received, end = stream.until_end()
        if unread(*opening):
            check_refused_unread(received, end, label)
        else:
            assert (received, end.reason) == ([], "LIMIT_EXCEEDED"), f"{label}: {received}, {end}"
        return
    with coord.stream() as stream:
        if how == "garbage":
            stream.send_raw(payload)
            received, end = stream.until_end()
            assert received == [], f"{label}: {received}"
            check_refused_or_served(Answer(end.code, end.details, end.reason), True, label)
            return
        if how == "not-connect":
            stream.send(*[to_message(item) for item in extra])
            received, end = stream.until_end()
            assert received == [], f"{label}: {received}"
            check_refused_or_served(Answer(end.code, end.details, end.reason), True, label)
            return
        stream.send(pb.ClientMessage(connect=payload), *[to_message(item) for item in extra])
        if how == "bad-connect":
            received, end = stream.until_end()
            assert [kind_of(m) for m in received] == ["session_error"], f"{label}: {received}"
            return
        connected = stream.recv()
        assert kind_of(connected) == "connected", f"{label}: {connected}"
        sent = list(extra)
        for frame in frames:
            messages = [to_message(item) for item in frame]
            if oversized(*messages):  # refused unread: the stream ends
                stream.send(*messages)
                terminal = "unread" if unread(*messages) else "oversized"
                break
            stream.send(*messages)
            sent.extend(frame)
        if terminal in ("oversized", "unread"):
            pass
        elif terminal == "close":
            stream.send(CLOSE)
        elif terminal == "half-close":
            stream.half_close()
        else:
            stream.send(connect() if terminal == "second-connect" else pb.ClientMessage())
        received, end = stream.until_end()
    # Responses come in request order; a pong may overtake them.
    answers = [m for m in received if kind_of(m) == "response"]
    pongs = [m for m in received if kind_of(m) == "pong"]
    rest = [kind_of(m) for m in received if kind_of(m) not in ("response", "pong")]
    requests = [item for item in sent if item[0] == "request"]
    pings = len(sent) - len(requests)
    if terminal in ("second-connect", "empty-message", "oversized", "unread"):
        # A protocol error ends the call: answers still on their way may be lost.
        requests = requests[: len(answers)]
        pings = min(pings, len(pongs))
    assert (len(answers), len(pongs)) == (len(requests), pings), (
        f"{label}: {len(requests)} requests and {pings} pings sent, {len(answers)} responses"
        f" and {len(pongs)} pongs received; then {rest}, {end}"
    )
    for message, item in zip(answers, requests, strict=True):
        check_response(message, item, label)
    if terminal == "unread":  # gRPC ended the call: no word of ours
        check_refused_unread(rest, end, label)
        return
    expected_tail = {
        "close": ["closed"],
        "half-close": [],
        "second-connect": ["session_error"],
        "empty-message": ["session_error"],
        "oversized": ["session_error"],
    }[terminal]
    assert rest == expected_tail, f"{label}: ended with {rest} after {terminal}"
    assert end.code == grpc.StatusCode.OK, f"{label}: {end}"
