"""coordctl as a user runs it: a subprocess against a real coord-server."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from coord_client import Client, ZnodeStat
from tests.servers import free_port

WAIT = 10.0
STAT_FIELDS = set(ZnodeStat._fields)  # ZooKeeper's names: test_sdk_units pins them


def command(*args: str, servers: str | None) -> list[str]:
    prefix = ["--servers", servers] if servers else []
    return [sys.executable, "-m", "coord_client.cli", *prefix, *args]


def run(
    server, *args: str, servers: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args, servers=servers or (server.address if server else None)),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def ok(server, *args: str) -> str:
    done = run(server, *args)
    assert (done.returncode, done.stderr) == (0, ""), done
    return done.stdout


def as_json(server, *args: str):
    return json.loads(ok(server, "--json", *args))


def fails(server, *args: str, servers: str | None = None) -> str:
    """The one error line of a failing command."""
    done = run(server, *args, servers=servers)
    assert done.returncode == 1, done
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("coordctl: "), done.stderr
    return lines[0]


@pytest.fixture
def zk(server):
    client = Client(server.address)
    client.start(timeout=WAIT)
    yield client
    client.stop()


# ------------------------------------------------------------------ commands


def test_create_get_set_stat(server):
    assert ok(server, "create", "/a", "hello") == "/a\n"
    assert ok(server, "get", "/a") == "hello"
    assert ok(server, "set", "/a", "world") == ""
    assert ok(server, "get", "/a") == "world"
    lines = ok(server, "stat", "/a").splitlines()
    fields = dict(line.split(" = ") for line in lines)
    assert set(fields) == STAT_FIELDS
    assert (fields["version"], fields["dataLength"], fields["ephemeralOwner"]) == ("1", "5", "0")


def test_ls_lists_children_sorted(server, zk):
    for name in ("b", "c", "a"):
        zk.create(f"/d/{name}", makepath=True)
    assert ok(server, "ls", "/d") == "a\nb\nc\n"
    assert ok(server, "ls", "/d/a") == ""


def test_create_flags(server, zk):
    assert ok(server, "create", "-p", "/x/y/z", "v") == "/x/y/z\n"
    assert ok(server, "create", "-s", "/x/s-") == "/x/s-0000000001\n"
    assert ok(server, "create", "-e", "/x/eph") == "/x/eph\n"
    assert zk.exists("/x/eph") is None  # its session ended with the command


def test_set_and_delete_with_versions(server, zk):
    zk.create("/v/w", makepath=True)
    assert fails(server, "set", "/v", "new", "-v", "3") == "coordctl: bad version for /v"
    ok(server, "set", "/v", "new", "-v", "0")
    assert fails(server, "delete", "/v") == "coordctl: node has children /v (use -r)"
    assert fails(server, "delete", "-r", "/v", "-v", "0") == "coordctl: bad version for /v"
    ok(server, "delete", "-r", "/v", "-v", "1")
    assert zk.exists("/v") is None


def test_tree_draws_the_subtree_with_sizes(server, zk):
    zk.create("/t/a", b"12345", makepath=True)
    zk.create("/t/b/c", b"", makepath=True)
    out = ok(server, "tree", "/t")
    assert out.splitlines()[0] == "/t (0 bytes)"
    for label in ("a (5 bytes)", "b (0 bytes)", "c (0 bytes)"):
        assert label in out
    assert "t (0 bytes)" in ok(server, "tree")


def test_status_shows_each_member(server):
    out = ok(server, "status")
    assert "leader" in out and server.address in out


def test_servers_default_to_the_environment(server):
    env = {**os.environ, "COORD_SERVERS": server.address}
    done = subprocess.run(command("ls", "/", servers=None), capture_output=True, env=env)
    assert done.returncode == 0, done


# ---------------------------------------------------------------------- JSON


def test_json_shapes(server):
    assert as_json(server, "create", "/j", "data") == {"path": "/j"}
    stat = as_json(server, "stat", "/j")
    assert set(stat) == STAT_FIELDS and stat["dataLength"] == 4
    got = as_json(server, "get", "/j")
    assert (got["path"], got["data"], got["encoding"]) == ("/j", "data", "utf-8")
    assert set(got["stat"]) == STAT_FIELDS
    assert as_json(server, "set", "/j", "more")["version"] == 1
    ok(server, "create", "/j/k")
    assert as_json(server, "ls", "/j") == ["k"]
    tree = as_json(server, "tree", "/j")
    assert tree == {
        "path": "/j",
        "dataLength": 4,
        "children": [{"path": "/j/k", "dataLength": 0, "children": []}],
    }
    assert as_json(server, "delete", "-r", "/j") == {"deleted": "/j"}
    (member,) = as_json(server, "status")
    assert member["role"] == "leader" and member["address"] == server.address
    assert {"id", "leader_ballot", "committed_zxid", "applied_zxid", "sessions", "znodes"} <= set(
        member
    )


def test_binary_data_is_base64_in_json(server, zk):
    zk.create("/bin", b"\xff\x00")
    raw = subprocess.run(command("get", "/bin", servers=server.address), capture_output=True)
    assert raw.stdout == b"\xff\x00"
    got = as_json(server, "get", "/bin")
    assert (got["data"], got["encoding"]) == ("/wA=", "base64")


# -------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "args, message",
    [
        (("get", "/missing"), "coordctl: no node /missing"),
        (("stat", "/missing"), "coordctl: no node /missing"),
        (("ls", "/missing"), "coordctl: no node /missing"),
        (("delete", "/missing"), "coordctl: no node /missing"),
        (("create", "/missing/child"), "coordctl: no parent node for /missing/child (use -p)"),
        (("ls", "relative"), "coordctl: path must be absolute: 'relative'"),
        (("get", "/a/"), "coordctl: path must not end with '/': '/a/'"),
    ],
)
def test_errors_are_one_line_and_exit_1(server, args, message):
    assert fails(server, *args) == message


def test_an_existing_node_is_an_error(server):
    ok(server, "create", "/dup")
    assert fails(server, "create", "/dup") == "coordctl: node exists /dup"


@pytest.mark.parametrize("args", [("ls", "/"), ("status",)])
def test_an_unreachable_server_is_one_line(args):
    address = f"127.0.0.1:{free_port()}"
    line = fails(None, "--timeout", "1", *args, servers=address)
    assert line == f"coordctl: cannot reach {address}"


# --------------------------------------------------------------------- watch


@contextlib.contextmanager
def _children_hear_ctrl_c() -> Iterator[None]:
    """Start children with SIGINT as in a terminal. A test run started in the
    background by a non-interactive shell (as some CI runners do) inherits
    SIGINT ignored, a child inherits that ignore across exec, and Python keeps
    it, so Ctrl-C would never arrive. Our own handler for the moment of the
    spawn makes the child's SIGINT default at exec. (Not a preexec_fn: that
    runs Python in a child forked beside gRPC's threads, which can crash it.)"""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Watching:
    """A running `coordctl watch`, its lines read as they come."""

    def __init__(self, server, *args: str) -> None:
        with _children_hear_ctrl_c():
            self.proc = subprocess.Popen(
                command(*args, servers=server.address),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        ready = self.proc.stderr.readline()  # printed once the watch is registered
        assert ready.startswith("coordctl: watching"), ready

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def next(self) -> str:
        return self.lines.get(timeout=WAIT)

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(WAIT)
        finally:
            self.proc.kill()


def test_watch_streams_events_until_ctrl_c(server, zk):
    watching = Watching(server, "watch", "/w")
    try:
        zk.create("/w", b"1")
        zk.set("/w", b"2")
        zk.delete("/w")
        lines = [watching.next().split() for _ in range(3)]
    finally:
        code = watching.interrupt()
    assert [(kind, path) for kind, path, _ in lines] == [
        ("CREATED", "/w"),
        ("CHANGED", "/w"),
        ("DELETED", "/w"),
    ]
    zxids = [int(zxid) for _, _, zxid in lines]
    assert zxids == sorted(zxids) and zxids[0] > 0
    assert code == 0


def test_watch_recursive_json(server, zk):
    zk.create("/r")
    watching = Watching(server, "--json", "watch", "-r", "/r")
    try:
        zk.create("/r/a/b", makepath=True)
        events = [json.loads(watching.next()) for _ in range(2)]
    finally:
        code = watching.interrupt()
    assert [(e["type"], e["path"]) for e in events] == [("CREATED", "/r/a"), ("CREATED", "/r/a/b")]
    assert all(isinstance(e["zxid"], int) for e in events)
    assert code == 0
