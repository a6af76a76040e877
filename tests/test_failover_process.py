"""Client processes that die or freeze: their sessions expire on the cluster,
and a frozen one learns it on waking without ever showing its old ephemeral.

Run as a module, this file is the client process (`helper`): it holds an
ephemeral node, prints what it observes, one line at a time, and answers
commands read from stdin.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from coord_api.wire import client_pb2 as pb
from coord_client import Client, EventType
from coord_client.exceptions import CoordError
from tests.rawsession import RawSession
from tests.test_failover_cluster import Seen
from tests.test_sdk_client import WAIT

SESSION_TIMEOUT = 3.0
MARGIN = 4.0  # the leader's expiry tick, a quorum round, a write and the event's way back
ROOT = Path(__file__).resolve().parent.parent


class Helper:
    """A client process (this module run with `python -m`), its lines read as they come."""

    def __init__(self, hosts: str, path: str) -> None:
        command = [sys.executable, "-m", __name__, hosts, path, str(SESSION_TIMEOUT)]
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.session_id = 0

    def wait_ready(self) -> None:
        """Until it holds its ephemeral."""
        ready = self.until(lambda line: line.startswith("ready "))[-1]
        self.session_id = int(ready.split()[1])

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def next(self, timeout: float = WAIT) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the helper printed nothing for {timeout}s") from None

    def until(self, done: Callable[[str], bool]) -> list[str]:
        """The lines up to and including the first one that is `done`."""
        seen = [self.next()]
        while not done(seen[-1]):
            seen.append(self.next())
        return seen

    def command(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        """SIGKILL (which ends a stopped process too) and reap."""
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def watcher(cluster_factory) -> Iterator[tuple[str, Client]]:
    """A 3-member cluster's hosts and a client of it."""
    cluster = cluster_factory(3)
    cluster.leader()
    client = Client(cluster.hosts, timeout=10.0)
    client.start(timeout=WAIT)
    yield cluster.hosts, client
    client.stop()


@pytest.fixture
def helper(watcher) -> Iterator[Callable[[str], Helper]]:
    """Start a client process of the watcher's cluster holding an ephemeral at a
    path; every one is killed afterwards."""
    started: list[Helper] = []

    def start(path: str) -> Helper:
        started.append(Helper(watcher[0], path))
        started[-1].wait_ready()
        return started[-1]

    yield start
    for process in started:
        process.kill()


def test_a_killed_client_process_loses_its_ephemeral(watcher, helper):
    zk = watcher[1]
    victim = helper("/victim")
    gone = Seen("deletion of the killed client's ephemeral")
    zk.sync("/victim")  # its member has the helper's create too
    assert zk.exists("/victim", watch=gone).ephemeralOwner == victim.session_id
    killed = time.monotonic()
    victim.kill()
    event = gone.next(timeout=SESSION_TIMEOUT + MARGIN)
    took = time.monotonic() - killed
    assert (event.type, event.path) == (EventType.DELETED, "/victim")
    # Its last ping (one every third of the timeout) may have come that much before.
    assert took >= SESSION_TIMEOUT * 2 / 3, f"expired {took:.2f}s after, before its timeout"
    assert zk.exists("/victim") is None


def test_a_frozen_client_process_learns_its_session_expired(watcher, helper):
    zk = watcher[1]
    frozen = helper("/frozen")
    gone = Seen("deletion of the frozen client's ephemeral")
    zk.sync("/frozen")
    assert zk.exists("/frozen", watch=gone) is not None
    frozen.proc.send_signal(signal.SIGSTOP)
    assert gone.next(timeout=SESSION_TIMEOUT + WAIT).type == EventType.DELETED
    frozen.command("exists")  # read the moment it wakes, before it can know
    frozen.proc.send_signal(signal.SIGCONT)
    seen = frozen.until(lambda line: line == "state LOST")
    if not [line for line in seen if line.startswith("exists ")]:
        seen += frozen.until(lambda line: line.startswith("exists "))
    (answer,) = [line for line in seen if line.startswith("exists ")]
    assert answer in ("exists SessionExpiredError", "exists ConnectionLoss", "exists no"), seen
    assert "state CONNECTED" not in seen, seen
    frozen.command("exists")
    assert frozen.next() == "exists SessionExpiredError"


def test_the_stream_ends_once_the_member_says_the_session_expired(server):
    """Connect.proto: "The session ended (expired or closed elsewhere); the
    stream ends next." A frozen client that wakes must not be served reads
    under a session that is gone."""
    outcome: queue.Queue[object] = queue.Queue()

    def expire_then_ask() -> None:
        raw = RawSession(server.address, timeout_ms=2000)  # sends no pings: it expires
        try:
            outcome.put(raw.next_message())
            raw.send(pb.ClientMessage(request=pb.Request(xid=1, exists=pb.ExistsRequest(path="/"))))
            outcome.put(raw.next_message())
        except (StopIteration, grpc.RpcError):
            outcome.put("ended")
        finally:
            raw.drop()

    threading.Thread(target=expire_then_ask, daemon=True).start()
    said = outcome.get(timeout=WAIT)
    assert said.session_error.code == pb.SESSION_EXPIRED
    after = outcome.get(timeout=WAIT)
    assert after == "ended", f"the member went on after expiring the session: {after}"


# ------------------------------------------------------------- the helper


def helper_main(hosts: str, path: str, timeout: float) -> None:
    """Hold an ephemeral at `path`; print `ready SESSION_ID`, `state STATE` for
    each change of state, and for each `exists` line read, `exists yes|no|ERROR`."""

    printing = threading.Lock()  # the listener prints from the callback thread

    def say(line: str) -> None:
        with printing:
            print(line, flush=True)

    zk = Client(hosts, timeout=timeout)
    zk.add_listener(lambda state: say(f"state {state}"))
    zk.start(timeout=WAIT)
    zk.create(path, ephemeral=True)
    say(f"ready {zk.client_id[0]}")
    for line in sys.stdin:
        if line.strip() == "exists":
            try:
                say(f"exists {'yes' if zk.exists(path) else 'no'}")
            except CoordError as exc:
                say(f"exists {type(exc).__name__}")


if __name__ == "__main__":
    helper_main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
