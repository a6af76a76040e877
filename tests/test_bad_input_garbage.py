"""Bad input, bytes that are no message: on the stream and on every unary
method, an error status with a reason, nothing changed, and the server
serves on (tests/badinput.py).
"""

from __future__ import annotations

import grpc
import pytest

from coord_api.wire import client_pb2 as pb
from tests.badinput import (
    UNARY,
    WAIT,
    Answer,
    assert_unchanged,
    check_error,
    dump,
    kind_of,
)

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
