"""Sessions, watches and writes in flight across the loss of a member or of the
leader: real 3-member clusters, clients in this process."""

from __future__ import annotations

import contextlib
import queue
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from coord_client import Client, EventType, KazooState
from coord_client.exceptions import ConnectionLoss, SessionExpiredError
from coord_client.framed import FramedStream
from tests.servers import Cluster
from tests.test_sdk_client import WAIT, Recorder, wait_for_state
from tests.test_session_port import offered_port

SESSION_TIMEOUT = 6.0


class Seen(Recorder):
    """A Recorder whose wait fails with a message saying what did not come."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def next(self, timeout: float = WAIT) -> Any:
        try:
            return super().next(timeout)
        except queue.Empty:
            raise AssertionError(f"no {self.what} within {timeout}s") from None


class Gate:
    """A TCP forwarder to one member that the test controls. While `open` is
    clear every new connection is cut at once, so a client cannot reach the
    member through it (connections already made are kept); while `replies` is
    clear what the member sends is held back, so requests reach it and are
    applied, but their answers wait. It forwards the member's client port
    and its session port, on 127.0.0.2 at the same ports (the SDK finds the
    session port on the host it dialled)."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        ports = (int(port), offered_port(upstream))
        self.address = f"127.0.0.2:{port}"
        self.open = threading.Event()
        self.open.set()
        self.replies = threading.Event()
        self.replies.set()
        self._sockets: list[socket.socket] = []
        self._listeners = [socket.create_server(("127.0.0.2", each)) for each in ports]
        for listener, each in zip(self._listeners, ports, strict=True):
            threading.Thread(
                target=self._accept, args=(listener, (host, each)), daemon=True
            ).start()

    def cut(self) -> None:
        """Hang up every connection made so far; replies held back are dropped."""
        for sock in self._sockets:
            _hang_up(sock)
        self.replies.set()  # the held pumps wake, and find their sockets gone

    def close(self) -> None:
        for listener in self._listeners:
            listener.close()
        self.cut()

    def _accept(self, listener: socket.socket, upstream: tuple[str, int]) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            if not self.open.is_set():
                _hang_up(client)
                continue
            try:
                member = socket.create_connection(upstream, timeout=1)
            except OSError:
                _hang_up(client)
                continue
            member.settimeout(None)
            self._sockets += [client, member]
            for source, sink, hold in ((client, member, None), (member, client, self.replies)):
                threading.Thread(target=_pump, args=(source, sink, hold), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket, hold: threading.Event | None) -> None:
    """Copy one direction until either side ends, then end both; each piece
    waits for `hold` to be set."""
    try:
        while data := source.recv(1 << 16):
            if hold is not None:
                hold.wait()
            sink.sendall(data)
    except OSError:
        pass
    _hang_up(source)
    _hang_up(sink)


def _hang_up(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv
    sock.close()


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    """Clients the test starts; every one is stopped afterwards."""
    started: list[Client] = []
    yield started
    for client in started:
        client.stop()


def connect(clients: list[Client], hosts: str, timeout: float = SESSION_TIMEOUT) -> Client:
    client = Client(hosts, timeout=timeout)
    clients.append(client)
    client.start(timeout=WAIT)
    return client


@dataclass
class Gated:
    """A 3-member cluster with a gate in front of each member, a client that
    goes through the gates and one that goes straight to the members."""

    cluster: Cluster
    gates: dict[int, Gate]
    zk: Client
    other: Client


@pytest.fixture
def gated(cluster_factory, clients) -> Iterator[Gated]:
    cluster = cluster_factory(3)
    cluster.leader()
    gates = {i: Gate(member.address) for i, member in cluster.members.items()}
    try:
        zk = connect(clients, ",".join(gate.address for gate in gates.values()))
        assert isinstance(zk._stream, FramedStream)  # through the gates' session ports
        yield Gated(cluster, gates, zk, connect(clients, cluster.hosts))
        zk.stop()  # while its gates still lead somewhere
    finally:
        for gate in gates.values():
            gate.close()


# ------------------------------------------------------------- leader kills


def test_killing_the_leader_five_times_expires_no_session(cluster_factory, clients):
    """Clients of the dead leader move (SUSPENDED, then CONNECTED); clients of
    the survivors see nothing at all."""
    cluster = cluster_factory(3)
    cluster.leader()
    states: list[Seen] = []
    for i in range(20):
        client = connect(clients, cluster.hosts)
        states.append(Seen(f"state change of client {i}"))
        client.add_listener(states[-1])
        client.create(f"/held-{i}", ephemeral=True)
    sessions = [client.client_id for client in clients]
    moves = [0] * len(clients)
    for _ in range(5):
        leader = cluster.leader()
        moving = [i for i, client in enumerate(clients) if client.member_id == leader]
        cluster.members[leader].kill()
        for i in moving:
            moves[i] += 1
            assert wait_for_state(states[i], KazooState.CONNECTED) == [
                KazooState.SUSPENDED,
                KazooState.CONNECTED,
            ]
            assert clients[i].member_id != leader
        cluster.members[leader].start()
        cluster.leader()
    assert sum(moves) > 0, "no client was ever connected to a killed leader"
    for i, client in enumerate(clients):
        assert states[i].empty(), f"client {i} changed state while its member lived"
        assert client.client_id == sessions[i] and client.state is KazooState.CONNECTED
    checker = connect(clients, cluster.hosts)
    checker.sync("/")  # its member may be the one just restarted
    for i, (session_id, _) in enumerate(sessions):
        stat = checker.exists(f"/held-{i}")
        assert stat is not None and stat.ephemeralOwner == session_id, f"/held-{i} is gone"


# --------------------------------------------------- the client's member dies


def test_the_session_and_its_watches_move_when_its_member_dies(gated):
    """The client can reach no member (its own is dead, the others' gates are
    shut) while another client makes changes; the gates open only after them,
    so every event it gets for them comes through the reconnect."""
    zk, other = gated.zk, gated.other
    states = Seen("state change")
    zk.add_listener(states)
    session, serving = zk.client_id, zk.member_id
    zk.create("/mine", ephemeral=True)
    zk.create("/data", b"0")
    zk.create("/tree")
    changed, born = Seen("data watch event"), Seen("exists watch event")
    children, tree = Seen("child watch event"), Seen("persistent watch event")
    zk.get("/data", watch=changed)
    assert zk.exists("/born", watch=born) is None
    zk.get_children("/tree", watch=children)
    zk.add_watch("/tree", tree, recursive=True)

    for member_id, gate in gated.gates.items():
        if member_id != serving:
            gate.open.clear()
    gated.cluster.members[serving].kill()
    assert states.next() is KazooState.SUSPENDED
    # Made while suspended, these wait for a member, then go in order: the
    # read comes after a sync, so it sees the other client's change.
    waiting = [zk.sync_async("/data"), zk.get_async("/data")]
    other.set("/data", b"1")
    other.create("/born")
    other.create("/tree/a")
    other.set("/tree/a", b"x")
    other.delete("/tree/a")
    other.create("/tree/b")
    assert zk.state is KazooState.SUSPENDED and not [w for w in waiting if w.ready()]
    for gate in gated.gates.values():
        gate.open.set()

    assert states.next() is KazooState.CONNECTED
    assert zk.client_id == session and zk.member_id not in (None, serving)
    assert waiting[1].get(timeout=WAIT)[0] == b"1"
    assert (changed.next().type, born.next().type) == (EventType.CHANGED, EventType.CREATED)
    assert (children.next().type, children.empty()) == (EventType.CHILD, True)
    other.set("/tree", b"after")  # a barrier: events come in order, on one thread
    got = [(e.type, e.path) for e in (tree.next() for _ in range(5))]
    assert got == [
        (EventType.CREATED, "/tree/a"),
        (EventType.CHANGED, "/tree/a"),
        (EventType.DELETED, "/tree/a"),
        (EventType.CREATED, "/tree/b"),
        (EventType.CHANGED, "/tree"),
    ]
    assert tree.empty() and changed.empty() and born.empty() and children.empty()
    assert zk.exists("/mine").ephemeralOwner == session[0]
    assert states.empty()


def test_writes_in_flight_when_the_member_dies_apply_once_in_order(gated):
    """100 sequential creates reach the member and are applied, but their answers
    are held back; the member dies, 100 more follow: each of the 200 calls gets
    its own path (the first 100 their first replies), numbered in call order."""
    zk, other = gated.zk, gated.other
    zk.create("/seq")
    created = Seen("creation seen by the other client")
    other.add_watch("/seq", created, recursive=True)
    serving = zk.member_id
    gated.gates[serving].replies.clear()
    results = [zk.create_async("/seq/n-", sequence=True) for _ in range(100)]
    for _ in range(100):
        assert created.next().type == EventType.CREATED
    assert not [result for result in results if result.ready()], "an answer got through"

    gated.cluster.members[serving].kill()
    gated.gates[serving].cut()
    results += [zk.create_async("/seq/n-", sequence=True) for _ in range(100)]
    paths = [result.get(timeout=WAIT) for result in results]
    assert paths == [f"/seq/n-{i:010d}" for i in range(200)]
    assert zk.member_id not in (None, serving)
    assert len(zk.get_children("/seq")) == 200
    assert zk.exists("/seq").cversion == 200


def test_a_call_waiting_for_a_member_fails_when_none_comes_in_time(server):
    zk = Client(server.address, timeout=2.0)
    states = Seen("state change")
    zk.add_listener(states)
    zk.start(timeout=WAIT)
    try:
        assert states.next() is KazooState.CONNECTED
        server.kill()
        assert states.next() is KazooState.SUSPENDED
        waiting = zk.exists_async("/")
        assert states.next() is KazooState.LOST
        with pytest.raises(ConnectionLoss):
            waiting.get(timeout=WAIT)
        with pytest.raises(SessionExpiredError):
            zk.exists("/")
    finally:
        zk.stop()


def test_the_session_moves_when_its_member_stops_answering(cluster_factory, clients):
    cluster = cluster_factory(3)
    cluster.leader()
    zk = connect(clients, cluster.hosts)
    states = Seen("state change")
    zk.add_listener(states)
    session, serving = zk.client_id, zk.member_id
    zk.create("/mine", ephemeral=True)
    frozen = time.monotonic()
    cluster.members[serving].signal(signal.SIGSTOP)
    try:
        assert states.next() is KazooState.SUSPENDED
        assert states.next() is KazooState.CONNECTED
        took = time.monotonic() - frozen
        assert zk.client_id == session and zk.member_id not in (None, serving)
        assert took < SESSION_TIMEOUT, f"moved after {took:.1f}s"
        assert zk.exists("/mine").ephemeralOwner == session[0]
    finally:
        cluster.members[serving].signal(signal.SIGCONT)
