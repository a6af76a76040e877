"""Bad input: every RPC validates every field, refuses with a clear error and
changes nothing (the issue's "Bad input" requirement; SPEC §4, §5).

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

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from coord_client.wire import client_pb2 as pb
from coord_client.wire import client_pb2_grpc
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
    "OPERATION_TIMEOUT": grpc.StatusCode.DEADLINE_EXCEEDED,
    "UNIMPLEMENTED": grpc.StatusCode.UNIMPLEMENTED,
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
    """SPEC §4 and coord_client/paths.py's rules, written out independently."""
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


@pytest.fixture(scope="module")
def coord(tmp_path_factory) -> Iterator[Coord]:
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


def test_fixture_tree(coord):
    tree = dump(coord.stub)
    assert {path: data for path, (data, _) in tree.items()} == {"/": b""} | TREE
    assert {path: stat[5] for path, (_, stat) in tree.items()} == VERSIONS
    assert tree["/svc/eph"][1][8] == coord.session.session_id


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
    Case("create-2MiB", "Create",
         lambda s: pb.CreateRequest(path="/app/big", data=HUGE), "DATA_TOO_LARGE"),
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
             op(set_data=pb.SetDataRequest(path="/empty", data=HUGE)),
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
        pb.Request(create=pb.CreateRequest(path="/b", data=HUGE, ephemeral=True)),
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
    same machine-readable reason as every unary refusal (SPEC §5)."""
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


# ------------------------------------------------------- (c) hypothesis

PLAIN_NAMES = st.text("abcdefgxyz0123456789-_", min_size=1, max_size=6)
BAD_CHARS = st.one_of(
    st.integers(0, 0x1F),
    st.integers(0x7F, 0x9F),
    st.integers(0xE000, 0xF8FF),
    st.sampled_from([0xFFF0, 0xFFFF]),
).map(chr)
VALID_PATHS = st.one_of(
    st.sampled_from(EXISTING),
    st.lists(PLAIN_NAMES, min_size=1, max_size=4).map(lambda names: "/" + "/".join(names)),
    st.tuples(st.sampled_from([*TREE]), PLAIN_NAMES).map(lambda t: f"{t[0]}/{t[1]}"),
)
RESERVED_PATHS = st.one_of(
    st.just("/coord"),
    st.lists(PLAIN_NAMES, min_size=1, max_size=3).map(lambda n: "/coord/" + "/".join(n)),
)


@st.composite
def invalid_paths(draw) -> str:
    path = draw(VALID_PATHS)
    how = draw(st.sampled_from(["empty", "relative", "trailing", "double", "dot", "char", "any"]))
    if how == "empty":
        path = ""
    elif how == "relative":
        path = path.lstrip("/") or draw(PLAIN_NAMES)
    elif how == "trailing":
        path = path + "/" * draw(st.integers(1, 2))
    elif how in ("double", "dot"):
        segments = path.split("/")
        at = draw(st.integers(1, len(segments)))
        extra = "" if how == "double" else draw(st.sampled_from([".", ".."]))
        path = "/".join([*segments[:at], extra, *segments[at:]])
    elif how == "char":
        at = draw(st.integers(0, len(path)))
        path = path[:at] + draw(BAD_CHARS) + path[at:]
    else:
        path = draw(st.text(max_size=12).filter(lambda p: not path_ok(p)))
    assert not path_ok(path), path
    return path


INVALID_PATHS = invalid_paths()


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, each drawn `weight` times as often as weight 1."""
    indices = [index for index, (weight, _) in enumerate(choices) for _ in range(weight)]
    return st.sampled_from(indices).flatmap(lambda index: choices[index][1])


def parses(message_type, raw: bytes) -> bool:
    try:
        message_type.FromString(raw)
    except Exception:
        return False
    return True


RANDOM_PATHS = weighted(
    (5, VALID_PATHS), (2, INVALID_PATHS), (1, RESERVED_PATHS), (1, st.text(max_size=16))
)
SMALL_DATA = st.binary(max_size=64)
BIG_DATA = st.one_of(
    st.binary(min_size=LIMIT + 1, max_size=LIMIT + 64),
    # huge: past the 1 MiB default limit too (a few sizes: cheap to send and to shrink)
    st.sampled_from([LIMIT + 1, 64 << 10, (1 << 20) + 1, 3 << 20]).map(lambda n: b"\xab" * n),
)
DATA = st.one_of(SMALL_DATA, st.binary(min_size=LIMIT - 8, max_size=LIMIT), BIG_DATA)
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
VERSIONS_ANY = st.one_of(st.none(), st.sampled_from([-1, 0, 1, 2, 3]), INT32)
# Never -1 nor a version any node has: such a version cannot match.
IMPOSSIBLE_VERSIONS = INT32.filter(lambda v: v != -1 and v not in VERSIONS.values())
STALE_VERSIONS = st.integers(-(2**31), -2)  # no node ever has these
ENUMS = st.one_of(st.integers(-2, 6), INT32)
BAD_SESSIONS = st.builds(
    pb.SessionRef,
    session_id=INT64.filter(bool),
    password=st.binary(max_size=20),
)
SESSIONS = weighted((3, st.just(pb.SessionRef())), (1, BAD_SESSIONS))


def with_version(message, version: int | None):
    if version is not None:
        message.version = version
    return message


# Requests that must be refused: a base that would mostly succeed on its own
# (or, now and then, random fields), spoiled by one poison that alone is
# reason enough to refuse it. A benign base gives each poison its own test.
NEW_PATHS = st.tuples(
    st.sampled_from(["/", "/app", "/app/config", "/app/config/leaf", "/svc", "/empty"]),
    PLAIN_NAMES,  # no name here is taken: their letters are not in these names
).map(lambda t: ("" if t[0] == "/" else t[0]) + "/" + t[1])
LEAVES = ["/app/config/leaf", "/app/\u00fcn\u00ef \u65e5\u672c", "/svc/eph", "/empty"]


def benign(draw) -> bool:
    return draw(st.integers(0, 3)) > 0


@st.composite
def failing_creates(draw, unary: bool) -> pb.CreateRequest:
    if benign(draw):
        message = pb.CreateRequest(
            path=draw(NEW_PATHS),
            data=draw(SMALL_DATA),
            ephemeral=not unary and draw(st.booleans()),  # the stream has a session
            sequential=draw(st.booleans()),
            make_parents=draw(st.booleans()),
        )
    else:
        message = pb.CreateRequest(
            path=draw(RANDOM_PATHS),
            data=draw(DATA),
            ephemeral=draw(st.booleans()),
            sequential=draw(st.booleans()),
            make_parents=draw(st.booleans()),
            session=draw(SESSIONS),  # on the stream the session field is ignored
        )
    poisons = ["path", "reserved", "root", "big", "missing", "exists", "ephemeral-parent"]
    poison = draw(st.sampled_from(poisons + (["no-session", "bad-session"] if unary else [])))
    if poison == "path":
        message.path = draw(INVALID_PATHS)
    elif poison == "reserved":
        message.path = draw(RESERVED_PATHS)
    elif poison == "root":
        message.path = "/"
    elif poison == "big":
        message.data = draw(BIG_DATA)
    elif poison == "missing":
        message.path = "/missing-" + "/".join(draw(st.lists(PLAIN_NAMES, min_size=2, max_size=3)))
        message.make_parents = False
    elif poison == "exists":
        message.path = draw(st.sampled_from(EXISTING))
        message.sequential = False
    elif poison == "ephemeral-parent":
        message.path = "/svc/eph/" + "/".join(draw(st.lists(PLAIN_NAMES, min_size=1, max_size=3)))
    elif poison == "no-session":
        message.ephemeral = True
        message.ClearField("session")
    else:
        message.session.CopyFrom(draw(BAD_SESSIONS))
    return message


@st.composite
def failing_sets(draw, unary: bool) -> pb.SetDataRequest:
    if benign(draw):
        path = draw(st.sampled_from(EXISTING))
        version = draw(st.sampled_from([None, -1, VERSIONS[path]]))
        message = with_version(pb.SetDataRequest(path=path, data=draw(SMALL_DATA)), version)
    else:
        message = with_version(
            pb.SetDataRequest(path=draw(RANDOM_PATHS), data=draw(DATA), session=draw(SESSIONS)),
            draw(VERSIONS_ANY),
        )
    poisons = ["path", "reserved", "missing", "version", "big"] + (["bad-session"] * unary)
    poison = draw(st.sampled_from(poisons))
    if poison == "path":
        message.path = draw(INVALID_PATHS)
    elif poison == "reserved":
        message.path = draw(RESERVED_PATHS)
    elif poison == "missing":
        message.path = draw(NEW_PATHS)
    elif poison == "version":
        message.version = draw(IMPOSSIBLE_VERSIONS)
    elif poison == "big":
        message.data = draw(BIG_DATA)
    else:
        message.session.CopyFrom(draw(BAD_SESSIONS))
    return message


@st.composite
def failing_deletes(draw, unary: bool) -> pb.DeleteRequest:
    if benign(draw):
        path = draw(st.sampled_from(LEAVES + WITH_CHILDREN[1:]))
        version = draw(st.sampled_from([None, -1, VERSIONS[path]]))
        message = with_version(pb.DeleteRequest(path=path, recursive=True), version)
    else:
        message = with_version(
            pb.DeleteRequest(
                path=draw(RANDOM_PATHS), recursive=draw(st.booleans()), session=draw(SESSIONS)
            ),
            draw(VERSIONS_ANY),
        )
    poisons = ["path", "reserved", "root", "missing", "version", "children"]
    poison = draw(st.sampled_from(poisons + (["bad-session"] if unary else [])))
    if poison == "path":
        message.path = draw(INVALID_PATHS)
    elif poison == "reserved":
        message.path = draw(RESERVED_PATHS)
    elif poison == "root":
        message.path = "/"
    elif poison == "missing":
        message.path = draw(NEW_PATHS)
    elif poison == "version":
        message.version = draw(IMPOSSIBLE_VERSIONS)
    elif poison == "children":
        message.path = draw(st.sampled_from(WITH_CHILDREN))
        message.recursive = False
    else:
        message.session.CopyFrom(draw(BAD_SESSIONS))
    return message


@st.composite
def any_ops(draw) -> pb.Op:
    """An op that may well succeed on its own: a failing multi rolls it back."""
    kind = draw(st.sampled_from(["create", "delete", "set_data", "check"]))
    path = draw(st.one_of(st.sampled_from(EXISTING), VALID_PATHS, RANDOM_PATHS))
    if kind == "create":
        return pb.Op(
            create=pb.CreateRequest(
                path=path,
                data=draw(SMALL_DATA),
                ephemeral=draw(st.booleans()),
                sequential=draw(st.booleans()),
                make_parents=draw(st.booleans()),
            )
        )
    if kind == "delete":
        message = pb.DeleteRequest(path=path, recursive=draw(st.booleans()))
        return pb.Op(delete=with_version(message, draw(st.sampled_from([None, -1, 0]))))
    if kind == "set_data":
        message = pb.SetDataRequest(path=path, data=draw(SMALL_DATA))
        return pb.Op(set_data=with_version(message, draw(st.sampled_from([None, -1, 0]))))
    return pb.Op(check=pb.CheckRequest(path=path, version=draw(st.sampled_from([-1, 0, 2]))))


@st.composite
def poison_ops(draw) -> pb.Op:
    """An op refused whatever the ops before it did."""
    how = draw(st.sampled_from(["empty", "path", "reserved", "root", "big", "stale", "root-new"]))
    if how == "empty":
        return pb.Op()
    if how in ("path", "reserved"):
        path = draw(INVALID_PATHS if how == "path" else RESERVED_PATHS)
        kind = draw(st.sampled_from(["create", "delete", "set_data", "check"]))
        message = {
            "create": pb.CreateRequest,
            "delete": pb.DeleteRequest,
            "set_data": pb.SetDataRequest,
            "check": pb.CheckRequest,
        }[kind](path=path)
        if kind == "check" and how == "reserved":  # checking /coord is no write
            message.version = draw(STALE_VERSIONS)
        return pb.Op(**{kind: message})
    if how == "root":
        return pb.Op(delete=pb.DeleteRequest(path="/", recursive=draw(st.booleans())))
    if how == "root-new":
        return pb.Op(create=pb.CreateRequest(path="/", sequential=False))
    if how == "big":
        path = draw(st.one_of(st.sampled_from(EXISTING), VALID_PATHS))
        if draw(st.booleans()):
            return pb.Op(set_data=pb.SetDataRequest(path=path, data=draw(BIG_DATA)))
        return pb.Op(create=pb.CreateRequest(path=path, data=draw(BIG_DATA)))
    path = draw(st.one_of(st.sampled_from(EXISTING), VALID_PATHS))
    version = draw(STALE_VERSIONS)
    kind = draw(st.sampled_from(["delete", "set_data", "check"]))
    if kind == "delete":
        return pb.Op(delete=pb.DeleteRequest(path=path, version=version))
    if kind == "set_data":
        return pb.Op(set_data=pb.SetDataRequest(path=path, version=version))
    return pb.Op(check=pb.CheckRequest(path=path, version=version))


@st.composite
def failing_multis(draw, unary: bool) -> pb.MultiRequest:
    ops = draw(st.lists(any_ops(), max_size=4))
    ops.insert(draw(st.integers(0, len(ops))), draw(poison_ops()))
    session = draw(SESSIONS) if unary else draw(st.one_of(st.none(), BAD_SESSIONS))
    return pb.MultiRequest(ops=ops, session=session)


def reads(unary: bool):
    """Reads with random fields: they may succeed; they change nothing."""
    min_zxid = st.integers(-(2**63), 1)  # never ahead of the member: no 5 s wait
    sessions = SESSIONS if unary else st.one_of(st.none(), BAD_SESSIONS)
    common = {
        "path": RANDOM_PATHS,
        "watch": st.booleans(),
        "session": sessions,
        "min_zxid": min_zxid,
    }
    return st.one_of(
        st.builds(pb.GetDataRequest, **common).map(lambda m: ("GetData", "get_data", m)),
        st.builds(pb.ExistsRequest, **common).map(lambda m: ("Exists", "exists", m)),
        st.builds(pb.GetChildrenRequest, **common).map(
            lambda m: ("GetChildren", "get_children", m)
        ),
        st.builds(pb.SyncRequest, path=RANDOM_PATHS).map(lambda m: ("Sync", "sync", m)),
    )


def unary_writes():
    return st.one_of(
        failing_creates(unary=True).map(lambda m: ("Create", m)),
        failing_sets(unary=True).map(lambda m: ("SetData", m)),
        failing_deletes(unary=True).map(lambda m: ("Delete", m)),
        failing_multis(unary=True).map(lambda m: ("Multi", m)),
    )


@st.composite
def failing_watches(draw) -> pb.AddWatchRequest:
    message = pb.AddWatchRequest(
        path=draw(VALID_PATHS), mode=draw(st.sampled_from([0, 1])), session=pb.SessionRef()
    )
    if not benign(draw):
        message = pb.AddWatchRequest(
            path=draw(RANDOM_PATHS), mode=draw(ENUMS), session=draw(SESSIONS)
        )
    poison = draw(st.sampled_from(["path", "mode", "bad-session"]))
    if poison == "path":
        message.path = draw(INVALID_PATHS)
    elif poison == "mode":
        message.mode = draw(st.one_of(st.integers(2, 2**31 - 1), st.integers(-(2**31), -1)))
    else:
        message.session.CopyFrom(draw(BAD_SESSIONS))
    return message


def unary_others():
    return st.one_of(
        st.builds(pb.OpenSessionRequest, timeout_ms=INT32).map(lambda m: ("OpenSession", m)),
        SESSIONS.map(lambda m: ("KeepAlive", m)),
        SESSIONS.map(lambda m: ("CloseSession", m)),
        st.just(("Status", pb.StatusRequest())),
        failing_watches().map(lambda m: ("Watch", m)),
    )


def may_change_tree(method: str, raw: bytes) -> bool:
    """Could these bytes, parsed as `method`'s request, change the tree?
    Conservative: True unless the request is surely refused."""
    if method not in WRITE_METHODS:
        return False
    if not parses(UNARY[method][0], raw):
        return False  # undecodable: refused
    message = UNARY[method][0].FromString(raw)
    if message.session.session_id:
        return False  # no random session is live
    if method == "Multi":
        first = message.ops[0] if message.ops else None
        kind = first.WhichOneof("op") if first is not None else "none"
        return kind != "none" and (kind is not None and path_ok(getattr(first, kind).path))
    return path_ok(message.path) and not reserved(message.path)


@st.composite
def raw_unary(draw) -> tuple[str, bytes]:
    """Random bytes as a whole request: noise, or a request spoiled."""
    method = draw(st.sampled_from(sorted(UNARY)))
    how = draw(st.sampled_from(["noise", "truncated", "bad-utf8", "bad-wire-type"]))
    if how == "noise":
        raw = draw(st.binary(max_size=48))
    else:
        base = draw(st.binary(max_size=24))
        raw = (
            base
            + {
                "truncated": b"\x0a\x7f" + draw(st.binary(max_size=8)),
                "bad-utf8": b"\x0a\x02\xc3\x28",
                "bad-wire-type": bytes(
                    [draw(st.integers(1, 15)) << 3 | draw(st.sampled_from([6, 7]))]
                ),
            }[how]
        )
    assume(not may_change_tree(method, raw))
    if parses(UNARY[method][0], raw):
        parsed = UNARY[method][0].FromString(raw)
        assume(getattr(parsed, "min_zxid", 0) <= 1)  # no 5 s NOT_READY wait
    return method, raw


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

ACTIONS = weighted(
    (3, unary_writes().map(lambda t: ("unary", *t))),
    (1, reads(unary=True).map(lambda t: ("unary", t[0], t[2]))),
    (1, unary_others().map(lambda t: ("unary", *t))),
    (1, raw_unary().map(lambda t: ("raw", *t))),
    (3, STREAM_ACTIONS),
)


def to_message(item) -> pb.ClientMessage:
    what, xid, kind, message = item
    if what == "ping":
        return PING
    req = pb.Request(xid=xid)
    if kind is not None:
        getattr(req, kind).CopyFrom(message)
    return pb.ClientMessage(request=req)


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


def run_stream(coord: Coord, first, frames, terminal: str) -> None:
    how, payload, extra = first
    label = f"stream({how})"
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
            stream.send(*[to_message(item) for item in frame])
            sent.extend(frame)
        if terminal == "close":
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
    if terminal in ("second-connect", "empty-message"):
        # A protocol error ends the call: answers still on their way may be lost.
        requests = requests[: len(answers)]
        pings = min(pings, len(pongs))
    assert (len(answers), len(pongs)) == (len(requests), pings), (
        f"{label}: {len(requests)} requests and {pings} pings sent, {len(answers)} responses"
        f" and {len(pongs)} pongs received; then {rest}, {end}"
    )
    for message, item in zip(answers, requests, strict=True):
        check_response(message, item, label)
    expected_tail = {
        "close": ["closed"],
        "half-close": [],
        "second-connect": ["session_error"],
        "empty-message": ["session_error"],
    }[terminal]
    assert rest == expected_tail, f"{label}: ended with {rest} after {terminal}"
    assert end.code == grpc.StatusCode.OK, f"{label}: {end}"


def perform(coord: Coord, action) -> None:
    if action[0] == "unary":
        _, method, message = action
        label = f"{method}({describe(message)})"
        must_fail = method in WRITE_METHODS or method == "Watch"
        check_refused_or_served(coord.send(method, message), must_fail, label)
    elif action[0] == "raw":
        _, method, raw = action
        check_refused_or_served(coord.call(method, raw), False, f"{method}(raw {raw!r})")
    else:
        run_stream(coord, *action[1:])


def test_random_bad_requests_change_nothing(coord):
    """Hypothesis: random and malformed requests, every one answered properly,
    the tree never changes, and the server serves throughout."""
    baseline = dump(coord.stub)

    # No explain phase (it re-runs failures under a tracer: minutes against a
    # real server) and one bug at a time: the tests above pin each one down.
    @settings(
        max_examples=150,
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        report_multiple_bugs=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )
    @given(st.lists(ACTIONS, min_size=1, max_size=4))
    def run(actions):
        before = dump(coord.stub)  # not the baseline: a failure names its own culprit
        for action in actions:
            perform(coord, action)
        assert_unchanged(coord, before)

    run()
    coord.serves()
    assert_unchanged(coord, baseline)
