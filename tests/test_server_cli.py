"""coord-server as an operator runs it (README, "Operating a cluster"), through
real processes.

It logs one line when it is ready and stops cleanly on SIGINT/SIGTERM with
exit code 0. Bad flags, an unusable or foreign data dir, or a port in use
give a one-line error on stderr (``coord-server: ...``) and a non-zero exit,
never a traceback. Restarted on the same data dir it keeps what it had
acknowledged.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from kazoo.client import KazooClient

from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from tests.servers import READY_MARK, Cluster, free_port

SERVER = [sys.executable, "-m", "coord.cli"]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
RPC_TIMEOUT = 10.0


class Member:
    """One coord-server process with stdout and stderr kept apart."""

    def __init__(self, data_dir: Path, *extra: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.ready = threading.Event()
        self.proc = subprocess.Popen(
            [*SERVER, "--listen", self.address, "--data-dir", str(data_dir), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for pump in self._pumps:
            pump.start()

    def _pump(self, stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))
            if READY_MARK in line:
                self.ready.set()
        self.ready.set()  # the stream ended: the process is gone

    def wait_ready(self) -> Member:
        assert self.ready.wait(START_TIMEOUT), f"not ready in {START_TIMEOUT} s: {self.output()}"
        assert self.proc.poll() is None, f"coord-server exited: {self.output()}"
        return self

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send `signum`, wait for the exit and for all of its output."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signum)
        try:
            code = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"coord-server did not stop within {STOP_TIMEOUT} s of {signum!r}")
        for pump in self._pumps:
            pump.join(5)
        return code

    def output(self) -> str:
        return "stdout:\n" + "\n".join(self.stdout) + "\nstderr:\n" + "\n".join(self.stderr)


@pytest.fixture
def members() -> Iterator:
    """Start coord-server processes; any still running are killed afterwards."""
    started: list[Member] = []

    def start(data_dir: Path, *extra: str, port: int | None = None) -> Member:
        member = Member(data_dir, *extra, port=port)
        started.append(member)
        return member.wait_ready()

    yield start
    for member in started:
        if member.proc.poll() is None:
            member.proc.kill()
            member.proc.wait()


def run_server(*args: str) -> subprocess.CompletedProcess:
    """A coord-server that is expected to refuse to start."""
    try:
        return subprocess.run(
            [*SERVER, *args], capture_output=True, text=True, timeout=START_TIMEOUT
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"coord-server {args} did not exit: it should refuse to start ({err})")


def assert_one_line_error(result: subprocess.CompletedProcess, *mentions: str) -> str:
    both = result.stdout + result.stderr
    assert result.returncode != 0, f"exit code 0: {both}"
    assert "Traceback" not in both, both
    assert READY_MARK not in result.stdout, both
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {result.stderr!r}"
    assert lines[0].startswith("coord-server:"), lines[0]
    for mention in mentions:
        assert mention in lines[0], f"{mention!r} not named in {lines[0]!r}"
    return lines[0]


def stub_for(member: Member) -> tuple[grpc.Channel, client_pb2_grpc.CoordStub]:
    channel = grpc.insecure_channel(member.address)
    return channel, client_pb2_grpc.CoordStub(channel)


def port_is_free(port: int) -> bool:
    """Whether nothing listens on `port`: a restarted member could bind it.
    SO_REUSEADDR, as every server sets it: a connection the exit left in
    TIME_WAIT holds no port a server needs (without it the probe failed
    when the member happened to close a connection first)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def dump(stub: client_pb2_grpc.CoordStub) -> dict[str, tuple[bytes, pb.Stat]]:
    tree = {}
    todo = ["/"]
    while todo:
        path = todo.pop()
        got = stub.GetData(pb.GetDataRequest(path=path), timeout=RPC_TIMEOUT)
        children = stub.GetChildren(pb.GetChildrenRequest(path=path), timeout=RPC_TIMEOUT)
        tree[path] = (got.data, got.stat)
        prefix = "" if path == "/" else path
        todo.extend(f"{prefix}/{name}" for name in children.children)
    return tree


# ----------------------------------------------------------- running


def test_ready_line_then_serves(members, tmp_path):
    member = members(tmp_path / "data")
    assert len(member.stdout) == 1, f"one line when ready: {member.output()}"
    ready = member.stdout[0]
    assert READY_MARK in ready and member.address in ready, ready
    assert str(tmp_path / "data") in ready, ready
    channel, stub = stub_for(member)
    with channel:
        stub.Create(pb.CreateRequest(path="/first"), timeout=RPC_TIMEOUT)
        status = stub.Status(pb.StatusRequest(), timeout=RPC_TIMEOUT)
    assert [(m.id, m.role) for m in status.members] == [(1, "leader")]
    assert member.stop() == 0


def test_console_script_runs(tmp_path):
    """The installed `coord-server` entry point is the same program."""
    script = shutil.which("coord-server")
    if script is None:
        pytest.skip("the coord-server console script is not installed")
    result = subprocess.run(
        [script, "--id", "0"], capture_output=True, text=True, timeout=START_TIMEOUT
    )
    assert_one_line_error(result, "--id")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly(members, tmp_path, signum):
    member = members(tmp_path / "data")
    channel, stub = stub_for(member)
    with channel:
        stub.Create(pb.CreateRequest(path="/x", data=b"x"), timeout=RPC_TIMEOUT)
    assert member.stop(signum) == 0, member.output()
    assert "Traceback" not in "\n".join(member.stderr), member.output()
    assert port_is_free(member.port), "the port is still held after the exit"


def test_signal_stops_cleanly_with_zookeeper_clients(members, tmp_path):
    """Connections on the ZooKeeper door (one with a session and a watch,
    one that said nothing yet) do not keep the member from a clean stop."""
    zk_port = free_port()
    member = members(tmp_path / "data", "--zk-listen", f"127.0.0.1:{zk_port}")
    client = KazooClient(hosts=f"127.0.0.1:{zk_port}", timeout=10)
    client.start(timeout=RPC_TIMEOUT)
    try:
        client.create("/zk", b"")
        client.get("/zk", watch=lambda event: None)
        with socket.create_connection(("127.0.0.1", zk_port)):
            assert member.stop(signal.SIGTERM) == 0, member.output()
    finally:
        client.stop()
        client.close()
    assert "Traceback" not in "\n".join(member.stderr), member.output()
    assert port_is_free(zk_port), "the ZooKeeper port is still held after the exit"


def test_signal_stops_cleanly_with_open_calls(members, tmp_path):
    """A Session stream and a Watch call are open: the stop is still clean,
    exit code 0 and no traceback in the log. (Three rounds: the traceback
    this guards against shows up in most stops, not all.)"""
    for round_, signum in enumerate([signal.SIGTERM, signal.SIGINT, signal.SIGTERM]):
        member = members(tmp_path / f"data{round_}")
        channel, stub = stub_for(member)
        done = threading.Event()

        def frames(done=done):
            yield pb.ClientFrame(messages=[pb.ClientMessage(connect=pb.Connect(timeout_ms=10_000))])
            done.wait(STOP_TIMEOUT)

        with channel:
            session = stub.Session(frames(), timeout=30)
            first = next(session)
            assert first.messages[0].WhichOneof("kind") == "connected"
            watch = stub.Watch(
                pb.AddWatchRequest(path="/", mode=pb.PERSISTENT_RECURSIVE), timeout=30
            )
            stub.Create(pb.CreateRequest(path="/w"), timeout=RPC_TIMEOUT)
            assert next(watch).path == "/w"  # both calls are in the server
            code = member.stop(signum)
            done.set()
        assert code == 0, member.output()
        assert "Traceback" not in "\n".join(member.stderr), (
            f"round {round_}, {signum!r}: " + member.output()
        )


def test_signal_stops_cleanly_while_the_first_write_waits_on_flow_control(members, tmp_path):
    """The member is writing a stream's first frame, which the client does
    not read (48 MiB of answers, past the client's HTTP/2 window), when it
    is told to stop. Cutting off a stream's first write used to leave gRPC
    thinking the call's headers unsent, and the status the handler sent
    next failed with GRPC_CALL_ERROR_TOO_MANY_OPERATIONS (a traceback)."""
    # Answers past --max-unread-bytes would cut the stream off before its
    # first write: let them all wait.
    member = members(tmp_path / "data", "--max-unread-bytes", str(64 << 20))
    channel, stub = stub_for(member)
    connect = pb.ClientMessage(connect=pb.Connect(timeout_ms=10_000))
    gets = [
        pb.ClientMessage(request=pb.Request(xid=xid, get_data=pb.GetDataRequest(path="/big")))
        for xid in range(1, 49)
    ]
    done = threading.Event()

    def frames():
        yield pb.ClientFrame(messages=[connect, *gets])  # all answered in the first frame back
        done.wait(STOP_TIMEOUT)

    def writing() -> bool:
        status = stub.Status(pb.StatusRequest(local_only=True), timeout=RPC_TIMEOUT)
        return status.members[0].client_frames_out >= 1

    with channel:
        stub.Create(pb.CreateRequest(path="/big", data=b"x" * (1 << 20)), timeout=RPC_TIMEOUT)
        session = stub.Session(frames(), timeout=30)
        Cluster.wait_until(writing)
        code = member.stop(signal.SIGTERM)
        done.set()
        session.cancel()
    assert code == 0, member.output()
    assert "Traceback" not in "\n".join(member.stderr), member.output()


# --------------------------------------------------------- bad flags

BAD_FLAGS = {
    "members-bad-address": ["--members", "1=x"],
    "members-no-id": ["--members", "127.0.0.1:7181"],
    "members-twice": ["--members", "1=127.0.0.1:7001,1=127.0.0.1:7002"],
    "id-0": ["--id", "0"],
    "id-negative": ["--id", "-3"],
    "id-not-a-number": ["--id", "one"],
    "id-not-in-members": ["--id", "2", "--members", "1=127.0.0.1:7001"],
    "listen-nope": ["--listen", "nope"],
    "listen-port-out-of-range": ["--listen", "127.0.0.1:70000"],
    "listen-no-port": ["--listen", "127.0.0.1:"],
    "min-above-max": ["--min-session-timeout-ms", "5000", "--max-session-timeout-ms", "10"],
    "min-timeout-zero": ["--min-session-timeout-ms", "0"],
    "max-data-bytes-negative": ["--max-data-bytes", "-1"],
    "max-data-bytes-text": ["--max-data-bytes", "1MB"],
    "log-level": ["--log-level", "loud"],
    "unknown-flag": ["--frobnicate"],
    "stray-argument": ["extra"],
    "flag-without-value": ["--data-dir"],
    "zk-listen-no-port": ["--zk-listen", "127.0.0.1"],
    "session-port-word": ["--session-port", "on"],
    "session-port-out-of-range": ["--session-port", "70000"],
    # TLS files that do not exist, for the ZooKeeper door as for the client port.
    "zk-listen-with-tls": [
        "--zk-listen",
        "127.0.0.1:2181",
        "--tls-cert",
        "c.pem",
        "--tls-key",
        "k",
    ],
}


@pytest.mark.parametrize("flags", BAD_FLAGS.values(), ids=BAD_FLAGS.keys())
def test_bad_flags_one_line(tmp_path, flags):
    data_dir = tmp_path / "data"
    base = ["--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(data_dir)]
    assert_one_line_error(run_server(*base, *flags))


# ---------------------------------------------- ports and data dirs


def test_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_server("--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "d"))
    assert_one_line_error(result, str(port))


@pytest.mark.parametrize(
    ("flag", "value", "what"),
    [
        ("--session-port", "{port}", "sessions without gRPC"),
        ("--zk-listen", "127.0.0.1:{port}", "ZooKeeper clients"),
    ],
    ids=["session port", "ZooKeeper door"],
)
def test_a_door_of_our_own_on_a_port_in_use(tmp_path, flag, value, what):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_server(
            "--listen", f"127.0.0.1:{free_port()}", flag, value.format(port=port),
            "--data-dir", str(tmp_path / "d"),
        )  # fmt: skip
    assert_one_line_error(result, f"{what} on 127.0.0.1:{port}")


def test_port_in_use_by_another_member(members, tmp_path):
    first = members(tmp_path / "one")
    result = run_server("--listen", first.address, "--data-dir", str(tmp_path / "two"))
    assert_one_line_error(result, str(first.port))
    channel, stub = stub_for(first)
    with channel:
        stub.Status(pb.StatusRequest(), timeout=RPC_TIMEOUT)


def listing(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def test_foreign_data_dir(tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"\xff\xd8 not coord data")
    before = listing(foreign)
    result = run_server("--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(foreign))
    assert_one_line_error(result, str(foreign))
    assert listing(foreign) == before, "the foreign dir was written to"


def test_data_dir_of_another_leveldb_program(tmp_path):
    plyvel = pytest.importorskip("plyvel")
    other = tmp_path / "other-db"
    db = plyvel.DB(str(other), create_if_missing=True)
    db.put(b"their-key", b"their-value")
    db.close()
    result = run_server("--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(other))
    assert_one_line_error(result, str(other))
    db = plyvel.DB(str(other))
    try:
        assert list(db) == [(b"their-key", b"their-value")], "the other program's data changed"
    finally:
        db.close()


def test_data_dir_is_a_file(tmp_path):
    a_file = tmp_path / "data"
    a_file.write_bytes(b"just a file")
    result = run_server("--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(a_file))
    assert_one_line_error(result, str(a_file))
    assert a_file.read_bytes() == b"just a file"


def test_data_dir_under_a_file(tmp_path):
    a_file = tmp_path / "data"
    a_file.write_bytes(b"just a file")
    result = run_server("--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(a_file / "sub"))
    assert_one_line_error(result, str(a_file))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any directory")
def test_unreadable_data_dir(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "CURRENT").write_text("x")
    locked.chmod(0)
    try:
        result = run_server("--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(locked))
    finally:
        locked.chmod(0o700)
    assert_one_line_error(result, str(locked))


def test_data_dir_in_use(members, tmp_path):
    data_dir = tmp_path / "data"
    first = members(data_dir)
    channel, stub = stub_for(first)
    with channel:
        stub.Create(pb.CreateRequest(path="/kept", data=b"k"), timeout=RPC_TIMEOUT)
        result = run_server("--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(data_dir))
        line = assert_one_line_error(result, str(data_dir))
        assert "in use" in line, line
        got = stub.GetData(pb.GetDataRequest(path="/kept"), timeout=RPC_TIMEOUT)
        assert got.data == b"k"
    assert first.stop() == 0


# ------------------------------------------------------------ restart


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_restart_keeps_the_tree(members, tmp_path, signum):
    """Everything acknowledged comes back: nodes, data, every Stat field,
    sequence counters, sessions and their ephemerals; zxids go on rising."""
    data_dir = tmp_path / "data"
    first = members(data_dir, "--max-session-timeout-ms", "120000")
    channel, stub = stub_for(first)
    with channel:
        opened = stub.OpenSession(pb.OpenSessionRequest(timeout_ms=120_000), timeout=10)
        session = pb.SessionRef(session_id=opened.session_id, password=opened.password)
        stub.Create(pb.CreateRequest(path="/app", data=b"v0"), timeout=RPC_TIMEOUT)
        stub.SetData(pb.SetDataRequest(path="/app", data=b"v1"), timeout=RPC_TIMEOUT)
        stub.Create(
            pb.CreateRequest(path="/app/deep/er", data=b"\x00\xff", make_parents=True),
            timeout=RPC_TIMEOUT,
        )
        for _ in range(2):
            stub.Create(pb.CreateRequest(path="/app/seq-", sequential=True), timeout=10)
        stub.Delete(pb.DeleteRequest(path="/app/seq-0000000002"), timeout=RPC_TIMEOUT)
        stub.Create(
            pb.CreateRequest(path="/app/eph", data=b"e", ephemeral=True, session=session),
            timeout=RPC_TIMEOUT,
        )
        before = dump(stub)
        last_zxid = stub.Sync(pb.SyncRequest(path="/"), timeout=RPC_TIMEOUT).zxid
    code = first.stop(signum)
    if signum == signal.SIGTERM:
        assert code == 0, first.output()

    second = members(data_dir, "--max-session-timeout-ms", "120000")
    channel, stub = stub_for(second)
    with channel:
        after = dump(stub)
        assert after.keys() == before.keys()
        for path in before:
            assert after[path] == before[path], f"{path} changed across the restart"
        stub.KeepAlive(session, timeout=RPC_TIMEOUT)  # the session survived too
        created = stub.Create(pb.CreateRequest(path="/app/seq-", sequential=True), timeout=10)
        # deep, seq-1, seq-2 (deleted since) and eph were created under /app before
        assert created.path == "/app/seq-0000000004"
        assert created.zxid > last_zxid
    assert second.stop() == 0
