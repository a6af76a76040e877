"""Bad input: every RPC validates every field, refuses with a clear error and
changes nothing (the path rules: coord_api/paths.py; the refusal on the wire:
coord/rpc/guard.py).

Everything goes through the raw gRPC API (generated messages sent as bytes),
not the SDK. A refusal must be a gRPC status whose trailing metadata carries
the ErrorCode name as ``coord-error`` (and whose details start with it), or,
on the Session stream, a ``Response.error`` / ``session_error``; never a bare
UNKNOWN or INTERNAL. After every refused request the tree, dumped by walking
GetData/GetChildren from /, must be exactly what it was.

This module is the tests' shared part: one server per test module with a
small tree (one node with version 2, an ephemeral owned by a long-lived
session; the `coord` fixture of conftest.py), the raw gRPC transport, the
tree dump, the requests several files send, and the expectations. The
tests: test_bad_input_unary.py, test_bad_input_paths.py,
test_bad_input_stream.py, test_bad_input_garbage.py, and the Hypothesis
search test_bad_input_fuzz.py.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc

from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from tests.servers import ServerProcess

LIMIT = 1024  # --max-data-bytes of the module's server
SESSION_TIMEOUT_MS = 600_000  # the fixture's session outlives the module
RPC_TIMEOUT = 10.0
WAIT = 5.0  # for something that should happen at once
SERVICE = "/coord.v1.Coord/"

# The wire contract of service.py: the gRPC status each reason travels with.
STATUS_FOR = {
    "NO_NODE": grpc.StatusCode.NOT_FOUND,
    "NODE_EXISTS": grpc.StatusCode.ALREADY_EXISTS,
    "BAD_VERSION": grpc.StatusCode.FAILED_PRECONDITION,
    "NOT_EMPTY": grpc.StatusCode.FAILED_PRECONDITION,
    "NO_CHILDREN_FOR_EPHEMERALS": grpc.StatusCode.FAILED_PRECONDITION,
    "BAD_ARGUMENTS": grpc.StatusCode.INVALID_ARGUMENT,
    "DATA_TOO_LARGE": grpc.StatusCode.INVALID_ARGUMENT,
    "SESSION_EXPIRED": grpc.StatusCode.UNAUTHENTICATED,
    "NOT_READY": grpc.StatusCode.UNAVAILABLE,
    "CONNECTION_LOSS": grpc.StatusCode.UNAVAILABLE,
    "NOT_READ_ONLY": grpc.StatusCode.UNAVAILABLE,
    "OPERATION_TIMEOUT": grpc.StatusCode.DEADLINE_EXCEEDED,
    "UNIMPLEMENTED": grpc.StatusCode.UNIMPLEMENTED,
    "QUOTA_EXCEEDED": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "LIMIT_EXCEEDED": grpc.StatusCode.RESOURCE_EXHAUSTED,
}
ERROR_NAMES = frozenset(pb.ErrorCode.keys()) - {"OK"}

# Unary methods: request and response types.
UNARY = {
    "OpenSession": (pb.OpenSessionRequest, pb.OpenSessionResponse),
    "CloseSession": (pb.SessionRef, pb.CloseSessionResponse),
    "KeepAlive": (pb.SessionRef, pb.KeepAliveResponse),
    "Create": (pb.CreateRequest, pb.CreateResponse),
    "Delete": (pb.DeleteRequest, pb.DeleteResponse),
    "SetData": (pb.SetDataRequest, pb.SetDataResponse),
    "GetData": (pb.GetDataRequest, pb.GetDataResponse),
    "Exists": (pb.ExistsRequest, pb.ExistsResponse),
    "GetChildren": (pb.GetChildrenRequest, pb.GetChildrenResponse),
    "Multi": (pb.MultiRequest, pb.MultiResponse),
    "Sync": (pb.SyncRequest, pb.SyncResponse),
    "Status": (pb.StatusRequest, pb.StatusResponse),
}
WRITE_METHODS = frozenset({"Create", "Delete", "SetData", "Multi"})

# The module's tree: path -> data. /app ends at version 2; /svc/eph is an
# ephemeral of the fixture's session.
TREE = {
    "/app": b"app-2",
    "/app/config": b'{"k": 1}',
    "/app/config/leaf": b"",
    "/app/\u00fcn\u00ef \u65e5\u672c": b"unicode name",
    "/svc": b"\x00\x01\xfe\xff",
    "/svc/eph": b"ephemeral",
    "/empty": b"",
}
EXISTING = ["/", *TREE]
VERSIONS = {path: 0 for path in EXISTING} | {"/app": 2}
WITH_CHILDREN = ["/", "/app", "/app/config", "/svc"]


# ------------------------------------------------------------ path rules


def path_ok(path: str) -> bool:
    """coord_api/paths.py's rules (README, "Semantics"), written out independently."""
    if not path.startswith("/"):
        return False
    if path == "/":
        return True
    if path.endswith("/"):
        return False
    if any(segment in ("", ".", "..") for segment in path[1:].split("/")):
        return False
    return not any(bad_char(ch) for ch in path)


def bad_char(ch: str) -> bool:
    code = ord(ch)
    return (
        code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xF8FF or code in (0xFFF0, 0xFFFF)
    )


def reserved(path: str) -> bool:
    return path == "/coord" or path.startswith("/coord/")


# --------------------------------------------------------- raw transport


@dataclass
class Answer:
    """What the server said to one unary call."""

    code: grpc.StatusCode
    details: str = ""
    reason: str | None = None
    response: object = None

    def __str__(self) -> str:
        if self.code == grpc.StatusCode.OK:
            return f"OK {type(self.response).__name__}({self.response})"
        return f"{self.code.name} reason={self.reason!r} details={self.details!r}"


def reason_of(err: grpc.RpcError) -> str | None:
    for key, value in err.trailing_metadata() or ():
        if key == "coord-error":
            return value
    return None


def describe(message) -> str:
    text = str(message).replace("\n", " ")
    return text if len(text) < 300 else text[:300] + "..."


@dataclass
class Ended:
    """The end of a Session call."""

    code: grpc.StatusCode
    details: str
    reason: str | None


class RawStream:
    """One Session call carrying raw bytes: frames out through a queue,
    server messages in through a reader thread."""

    _DONE = object()

    def __init__(self, channel: grpc.Channel) -> None:
        self._out: queue.Queue = queue.Queue()
        self._in: queue.Queue = queue.Queue()
        session = channel.stream_stream(SERVICE + "Session")
        self.call = session(self._frames(), timeout=60)
        threading.Thread(target=self._read, daemon=True).start()

    def _frames(self) -> Iterator[bytes]:
        while True:
            item = self._out.get()
            if item is self._DONE:
                return
            yield item

    def _read(self) -> None:
        try:
            for raw in self.call:
                for message in pb.ServerFrame.FromString(raw).messages:
                    self._in.put(message)
            self._in.put(Ended(self.call.code(), self.call.details() or "", None))
        except grpc.RpcError as err:
            self._in.put(Ended(err.code(), err.details() or "", reason_of(err)))

    def send(self, *messages: pb.ClientMessage) -> None:
        self._out.put(pb.ClientFrame(messages=messages).SerializeToString())

    def send_raw(self, data: bytes) -> None:
        self._out.put(data)

    def half_close(self) -> None:
        self._out.put(self._DONE)

    def recv(self, timeout: float = WAIT) -> pb.ServerMessage | Ended:
        try:
            return self._in.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the server said nothing for {timeout} s") from None

    def until_end(self, timeout: float = WAIT) -> tuple[list[pb.ServerMessage], Ended]:
        messages = []
        while True:
            item = self.recv(timeout)
            if isinstance(item, Ended):
                return messages, item
            messages.append(item)

    def close(self) -> None:
        self.call.cancel()
        self._out.put(self._DONE)


def kind_of(message) -> str:
    return "end" if isinstance(message, Ended) else message.WhichOneof("kind")


def connect(**fields) -> pb.ClientMessage:
    fields.setdefault("timeout_ms", 30_000)
    return pb.ClientMessage(connect=pb.Connect(**fields))


def request(xid: int, **op) -> pb.ClientMessage:
    return pb.ClientMessage(request=pb.Request(xid=xid, **op))


PING = pb.ClientMessage(ping=pb.Ping())
CLOSE = pb.ClientMessage(close=pb.Close())


def op(**kind) -> pb.Op:
    return pb.Op(**kind)


def create_op(path: str, **fields) -> pb.Op:
    return pb.Op(create=pb.CreateRequest(path=path, **fields))


BIG = b"x" * (LIMIT + 1)


def wrong_password(session: pb.SessionRef) -> pb.SessionRef:
    return pb.SessionRef(session_id=session.session_id, password=b"wrong password!!")


@dataclass
class Coord:
    server: ServerProcess
    channel: grpc.Channel
    stub: client_pb2_grpc.CoordStub
    session: pb.SessionRef  # owns /svc/eph

    def call(self, method: str, payload: bytes) -> Answer:
        """Send raw bytes to a unary method (or Watch: its first answer)."""
        if method == "Watch":
            return self._watch(payload)
        rpc = self.channel.unary_unary(SERVICE + method)
        try:
            raw = rpc(payload, timeout=RPC_TIMEOUT)
        except grpc.RpcError as err:
            return Answer(err.code(), err.details() or "", reason_of(err))
        return Answer(grpc.StatusCode.OK, response=UNARY[method][1].FromString(raw))

    def _watch(self, payload: bytes) -> Answer:
        events = self.channel.unary_stream(SERVICE + "Watch")(payload, timeout=WAIT)
        try:
            first = next(events)
        except StopIteration:
            return Answer(grpc.StatusCode.OK)
        except grpc.RpcError as err:
            return Answer(err.code(), err.details() or "", reason_of(err))
        events.cancel()
        return Answer(grpc.StatusCode.OK, response=pb.WatchEvent.FromString(first))

    def send(self, method: str, message) -> Answer:
        return self.call(method, message.SerializeToString())

    @contextmanager
    def stream(self) -> Iterator[RawStream]:
        stream = RawStream(self.channel)
        try:
            yield stream
        finally:
            stream.close()

    @contextmanager
    def session_stream(self) -> Iterator[RawStream]:
        """A stream with a fresh session, closed cleanly at the end."""
        with self.stream() as stream:
            stream.send(connect())
            first = stream.recv()
            assert kind_of(first) == "connected", f"connect answered with {first}"
            yield stream

    def serves(self) -> None:
        status = self.stub.Status(pb.StatusRequest(), timeout=RPC_TIMEOUT)
        assert status.members and status.members[0].role == "leader"


def dump(stub: client_pb2_grpc.CoordStub) -> dict[str, tuple[bytes, tuple]]:
    """The whole tree: every node's data and Stat."""
    tree: dict[str, tuple[bytes, tuple]] = {}
    todo = ["/"]
    while todo:
        path = todo.pop()
        got = stub.GetData(pb.GetDataRequest(path=path), timeout=RPC_TIMEOUT)
        children = stub.GetChildren(pb.GetChildrenRequest(path=path), timeout=RPC_TIMEOUT)
        stat = got.stat
        tree[path] = (
            got.data,
            (
                stat.czxid, stat.mzxid, stat.pzxid, stat.ctime, stat.mtime, stat.version,
                stat.cversion, stat.aversion, stat.ephemeral_owner, stat.data_length,
                stat.num_children,
            ),
        )  # fmt: skip
        prefix = "" if path == "/" else path
        todo.extend(f"{prefix}/{name}" for name in children.children)
    return tree


def tree_diff(before: dict, after: dict) -> str:
    lines = []
    for path in sorted(set(before) | set(after)):
        if before.get(path) != after.get(path):
            lines.append(f"{path}: {before.get(path)} -> {after.get(path)}")
    return "; ".join(lines)


def assert_unchanged(coord: Coord, before: dict) -> None:
    after = dump(coord.stub)
    assert after == before, "the tree changed: " + tree_diff(before, after)


def serve_tree(tmp_path_factory) -> Iterator[Coord]:
    """The body of each module's `coord` fixture: one member with the small
    tree, stopped by PID at the end of the module."""
    server = ServerProcess(
        data_dir=tmp_path_factory.mktemp("bad-input") / "data",
        extra_args=[
            "--max-data-bytes", str(LIMIT),
            "--max-session-timeout-ms", str(SESSION_TIMEOUT_MS),
        ],
    ).start()  # fmt: skip
    channel = grpc.insecure_channel(server.address)
    try:
        stub = client_pb2_grpc.CoordStub(channel)
        opened = stub.OpenSession(
            pb.OpenSessionRequest(timeout_ms=SESSION_TIMEOUT_MS), timeout=RPC_TIMEOUT
        )
        session = pb.SessionRef(session_id=opened.session_id, password=opened.password)
        for path, data in TREE.items():
            stub.Create(
                pb.CreateRequest(
                    path=path,
                    data=b"app" if path == "/app" else data,
                    ephemeral=path == "/svc/eph",
                    session=session if path == "/svc/eph" else None,
                ),
                timeout=RPC_TIMEOUT,
            )
        for data in (b"app-1", b"app-2"):
            stub.SetData(pb.SetDataRequest(path="/app", data=data), timeout=RPC_TIMEOUT)
        yield Coord(server, channel, stub, session)
    finally:
        channel.close()
        server.stop()


# ------------------------------------------------------- expectations


def check_error(answer: Answer, reason: str) -> None:
    """A refusal with `reason`, on the status that reason travels with."""
    assert answer.code == STATUS_FOR[reason], f"expected {reason}, got {answer}"
    assert answer.reason == reason, f"coord-error metadata: expected {reason}, got {answer}"
    assert answer.details.startswith(reason), f"details should start with {reason}: {answer}"


def check_multi(answer: Answer, reasons: list[str]) -> None:
    """A failed transaction is an answer: one error per op, in order."""
    assert answer.code == grpc.StatusCode.OK, f"expected per-op errors {reasons}, got {answer}"
    results = answer.response.results
    got = [
        pb.ErrorCode.Name(r.error.code) if r.WhichOneof("result") == "error" else "ok"
        for r in results
    ]
    assert got == reasons, f"per-op results: expected {reasons}, got {got} ({answer})"


def check(answer: Answer, expect: str | list[str]) -> None:
    if isinstance(expect, list):
        check_multi(answer, expect)
    else:
        check_error(answer, expect)


def check_refused_or_served(answer: Answer, must_fail: bool, label: str) -> None:
    """Success, or a status carrying a known coord-error reason."""
    if answer.code == grpc.StatusCode.OK:
        if isinstance(answer.response, pb.MultiResponse) and must_fail:
            results = [r.WhichOneof("result") for r in answer.response.results]
            assert results and set(results) == {"error"}, f"{label}: multi not refused: {answer}"
            return
        assert not must_fail, f"{label}: a request that must fail succeeded: {answer}"
        return
    assert answer.code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), (
        f"{label}: {answer}"
    )
    assert answer.reason in ERROR_NAMES, f"{label}: no coord-error reason: {answer}"
    assert answer.code == STATUS_FOR[answer.reason], f"{label}: status/reason mismatch: {answer}"
