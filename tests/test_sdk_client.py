"""The threaded Client against a real coord-server process."""

from __future__ import annotations

import queue
import time
from typing import Any

import pytest

from coord_client import Client, EventType, KazooClient, KazooState
from coord_client.exceptions import (
    BadArgumentsError,
    BadVersionError,
    ConnectionClosedError,
    CoordTimeoutError,
    DataTooLargeError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
    SessionExpiredError,
)
from tests.servers import free_port

WAIT = 10.0  # seconds any expected event may take


class Recorder:
    """A callback that keeps what it is called with, for the test to wait on."""

    def __init__(self) -> None:
        self.calls: queue.Queue[Any] = queue.Queue()

    def __call__(self, value: Any) -> None:
        self.calls.put(value)

    def next(self, timeout: float = WAIT) -> Any:
        return self.calls.get(timeout=timeout)

    def empty(self) -> bool:
        return self.calls.empty()


@pytest.fixture
def zk(connect) -> Client:
    return connect()


def wait_for_state(states: Recorder, wanted: KazooState) -> list[KazooState]:
    """The states seen up to and including `wanted`."""
    seen = [states.next()]
    while seen[-1] is not wanted:
        seen.append(states.next())
    return seen


# ----------------------------------------------------------------- the tree


def test_create_get_set_exists_children_delete(zk):
    assert zk.create("/a", b"one") == "/a"
    data, stat = zk.get("/a")
    assert data == b"one" and stat.version == 0 and stat.dataLength == 3
    assert stat.czxid == stat.mzxid > 0 and stat.ctime > 0
    changed = zk.set("/a", b"two")
    assert changed.version == 1 and changed.mzxid > stat.mzxid
    assert zk.exists("/a") == changed
    zk.create("/a/b")
    assert zk.get_children("/a") == ["b"]
    assert zk.delete("/a/b") is True
    assert zk.delete("/a") is True
    assert zk.exists("/a") is None


def test_versions_are_checked(zk):
    zk.create("/v", b"0")
    with pytest.raises(BadVersionError):
        zk.set("/v", b"1", version=5)
    assert zk.get("/v")[0] == b"0"
    assert zk.set("/v", b"1", version=0).version == 1
    with pytest.raises(BadVersionError):
        zk.delete("/v", version=0)
    zk.delete("/v", version=1)


def test_errors_have_kazoo_classes(zk):
    with pytest.raises(NoNodeError):
        zk.get("/missing")
    with pytest.raises(NoNodeError):
        zk.create("/missing/child")
    zk.create("/p")
    with pytest.raises(NodeExistsError):
        zk.create("/p")
    zk.create("/p/c")
    with pytest.raises(NotEmptyError):
        zk.delete("/p")
    zk.create("/eph", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create("/eph/child")


def test_makepath_and_ensure_path_create_parents(zk):
    assert zk.create("/m/n/o", b"x", makepath=True) == "/m/n/o"
    assert zk.get("/m/n/o")[0] == b"x"
    assert zk.ensure_path("/m/n/o") is True
    assert zk.ensure_path("/e/f") is True
    assert zk.exists("/e/f") is not None


def test_recursive_delete_removes_the_subtree(zk):
    zk.create("/r/a/b", makepath=True)
    zk.create("/r/c", makepath=True)
    assert zk.delete("/r", recursive=True) is True
    assert zk.exists("/r") is None


def test_include_data_returns_the_stat_too(zk):
    path, stat = zk.create("/i", b"abc", include_data=True)
    assert path == "/i" and stat.dataLength == 3
    zk.create("/i/x")
    children, parent = zk.get_children("/i", include_data=True)
    assert children == ["x"] and parent.numChildren == 1


def test_sequential_names_count_every_child_ever_created(zk):
    zk.create("/q")
    zk.create("/q/plain")
    assert zk.create("/q/s-", sequence=True) == "/q/s-0000000001"
    zk.delete("/q/plain")
    assert zk.create("/q/s-", sequence=True, ephemeral=True) == "/q/s-0000000002"
    assert zk.get_children("/q") == ["s-0000000001", "s-0000000002"]


def test_values_too_large_are_refused(server_factory):
    srv = server_factory("--max-data-bytes", "100")
    zk = Client(srv.address)
    zk.start(timeout=WAIT)
    try:
        with pytest.raises(DataTooLargeError) as caught:
            zk.create("/big", b"x" * 101)
        assert isinstance(caught.value, BadArgumentsError)
        assert zk.exists("/big") is None
    finally:
        zk.stop()


def test_sync_returns_the_path(zk):
    assert zk.sync("/") == "/"


def test_linearizable_reads(connect):
    zk = connect(linearizable_reads=True)
    zk.create("/l", b"v")
    assert zk.get("/l")[0] == b"v"
    assert zk.exists("/l") is not None
    assert zk.get_children("/") == ["l"]


# ------------------------------------------------------------- transactions


def test_a_transaction_returns_one_result_per_op(zk):
    zk.create("/t", b"0")
    zk.create("/gone")
    t = zk.transaction()
    t.create("/t/s-", b"", sequence=True)
    t.delete("/gone")
    t.set_data("/t", b"1")
    t.check("/t", 1)
    path, deleted, stat, checked = t.commit()
    assert path == "/t/s-0000000000" and deleted is True and checked is True
    assert stat.version == 1


def test_a_failed_transaction_changes_nothing(zk):
    zk.create("/t", b"0")
    t = zk.transaction()
    t.create("/t/new")
    t.set_data("/t", b"1", version=7)
    t.delete("/t")
    results = t.commit()
    assert [type(r) for r in results] == [RolledBackError, BadVersionError, RuntimeInconsistency]
    assert zk.exists("/t/new") is None
    assert zk.get("/t")[0] == b"0"


def test_a_transaction_block_commits_on_exit(zk):
    with zk.transaction() as t:
        t.create("/x")
        t.create("/x/y")
    assert zk.get_children("/x") == ["y"]


# ------------------------------------------------------------------ watches


def test_a_one_shot_watch_fires_exactly_once(zk):
    zk.create("/w", b"0")
    first, barrier = Recorder(), Recorder()
    zk.get("/w", watch=first)
    zk.set("/w", b"1")
    zk.set("/w", b"2")
    zk.exists("/w", watch=barrier)
    zk.set("/w", b"3")
    # Callbacks run in order on one thread: once the barrier's ran, any
    # second firing of `first` would have run too.
    assert barrier.next().type == EventType.CHANGED
    event = first.next(timeout=0)
    assert (event.type, event.path, event.state) == ("CHANGED", "/w", "CONNECTED")
    assert event.zxid > 0
    assert first.empty()


def test_exists_child_and_delete_watches(zk):
    created, children, deleted = Recorder(), Recorder(), Recorder()
    assert zk.exists("/n", watch=created) is None
    zk.create("/n")
    assert (created.next().type, created.empty()) == (EventType.CREATED, True)
    zk.get_children("/n", watch=children)
    zk.create("/n/c")
    assert children.next().type == EventType.CHILD
    zk.get("/n/c", watch=deleted)
    zk.delete("/n/c")
    assert deleted.next().type == EventType.DELETED


def test_a_recursive_persistent_watch_sees_the_subtree_until_removed(zk):
    zk.create("/r")
    seen = Recorder()
    zk.add_watch("/r", seen, recursive=True)
    zk.create("/r/a", b"")
    zk.set("/r/a", b"1")
    zk.delete("/r/a")
    zk.set("/r", b"2")
    events = [seen.next() for _ in range(4)]
    assert [(e.type, e.path) for e in events] == [
        ("CREATED", "/r/a"),
        ("CHANGED", "/r/a"),
        ("DELETED", "/r/a"),
        ("CHANGED", "/r"),
    ]
    assert events[0].zxid < events[1].zxid < events[2].zxid < events[3].zxid
    zk.remove_watch("/r", seen)
    barrier = Recorder()
    zk.exists("/r/z", watch=barrier)
    zk.create("/r/z")
    assert barrier.next().type == EventType.CREATED
    assert seen.empty()


def test_a_persistent_watch_keeps_firing(zk):
    seen = Recorder()
    zk.add_watch("/p", seen)
    for value in (b"1", b"2", b"3"):
        zk.ensure_path("/p")
        zk.set("/p", value)
    assert [seen.next().type for _ in range(4)] == ["CREATED", "CHANGED", "CHANGED", "CHANGED"]


# ----------------------------------------------------------------- sessions


def test_an_ephemeral_goes_when_its_session_stops(connect):
    owner, other = connect(), connect()
    stat = owner.create("/e", b"", ephemeral=True, include_data=True)[1]
    assert stat.ephemeralOwner == owner.client_id[0] != other.client_id[0]
    gone = Recorder()
    assert other.exists("/e", watch=gone) is not None
    owner.stop()
    assert gone.next().type == EventType.DELETED
    assert other.exists("/e") is None


def test_listeners_see_connected_then_lost_on_stop(server):
    zk = KazooClient(hosts=server.address)
    states = Recorder()
    zk.add_listener(states)
    assert zk.state is KazooState.LOST and not zk.connected
    zk.start(timeout=WAIT)
    assert zk.connected and zk.client_id is not None
    assert states.next() is KazooState.CONNECTED
    zk.stop()
    assert states.next() is KazooState.LOST
    assert zk.state is KazooState.LOST and zk.client_id is None
    with pytest.raises(ConnectionClosedError):
        zk.get("/")


def test_a_listener_returning_true_is_removed(zk):
    once, always = Recorder(), Recorder()

    def listen_once(state: KazooState) -> bool:
        once(state)
        return True

    zk.add_listener(listen_once)
    zk.add_listener(always)
    zk.restart()
    assert [always.next(), always.next()] == [KazooState.LOST, KazooState.CONNECTED]
    # Listeners run in order on one thread: `once` has heard all it ever will.
    assert once.next(timeout=0) is KazooState.LOST
    assert once.empty()


def test_the_session_timeout_is_negotiated(connect):
    assert connect(timeout=0.5).session_timeout == 2.0  # the server's minimum
    assert connect(timeout=5.0).session_timeout == 5.0


def test_the_serving_member_is_known_while_connected(server):
    zk = Client(server.address)
    assert zk.member_id is None
    zk.start(timeout=WAIT)
    assert zk.member_id == 1
    zk.stop()
    assert zk.member_id is None


def test_restart_opens_a_new_session(zk):
    first = zk.client_id
    zk.create("/mine", ephemeral=True)
    zk.restart()
    assert zk.connected and zk.client_id != first
    assert zk.exists("/mine") is None


def test_resuming_a_closed_session_is_expiry(connect, server):
    old = connect()
    client_id = old.client_id
    old.stop()
    zk = Client(server.address, client_id=client_id)
    with pytest.raises(SessionExpiredError):
        zk.start(timeout=WAIT)
    with pytest.raises(ConnectionClosedError):
        zk.get("/")


def test_the_session_survives_a_member_restart(server, connect):
    zk = connect(timeout=10.0)
    states = Recorder()
    zk.add_listener(states)
    session = zk.client_id
    zk.create("/mine", b"", ephemeral=True)
    server.stop()
    assert states.next() is KazooState.SUSPENDED
    server.start()
    assert states.next() is KazooState.CONNECTED
    assert zk.client_id == session
    assert zk.exists("/mine").ephemeralOwner == session[0]


def test_the_session_moves_to_another_member(cluster_factory):
    cluster = cluster_factory(3)
    cluster.leader()
    zk = Client(cluster.hosts)
    zk.start(timeout=WAIT)
    try:
        states = Recorder()
        zk.add_listener(states)
        session, serving = zk.client_id, zk.member_id
        zk.create("/mine", b"", ephemeral=True)
        cluster.members[serving].kill()
        assert wait_for_state(states, KazooState.CONNECTED) == [
            KazooState.SUSPENDED,
            KazooState.CONNECTED,
        ]
        assert zk.client_id == session and zk.member_id not in (None, serving)
        assert zk.exists("/mine").ephemeralOwner == session[0]
        assert zk.create("/after") == "/after"
    finally:
        zk.stop()


def test_no_member_for_the_session_timeout_means_lost(server_factory):
    srv = server_factory("--min-session-timeout-ms", "500")
    zk = Client(srv.address, timeout=1.0)
    states = Recorder()
    zk.add_listener(states)
    zk.start(timeout=WAIT)
    try:
        assert states.next() is KazooState.CONNECTED
        srv.kill()
        assert wait_for_state(states, KazooState.LOST) == [KazooState.SUSPENDED, KazooState.LOST]
        with pytest.raises(SessionExpiredError):
            zk.get("/")
    finally:
        zk.stop()
    with pytest.raises(ConnectionClosedError):
        zk.get("/")


def test_heartbeats_keep_an_idle_session(server_factory):
    srv = server_factory("--min-session-timeout-ms", "500")
    zk = Client(srv.address, timeout=1.0)
    states = Recorder()
    zk.start(timeout=WAIT)
    try:
        zk.add_listener(states)
        session = zk.client_id
        zk.create("/mine", ephemeral=True)
        time.sleep(3.0)  # idle for three session timeouts: only pings go out
        assert zk.client_id == session and zk.exists("/mine") is not None
        assert states.empty()
    finally:
        zk.stop()


def test_start_gives_up_when_no_member_answers():
    zk = Client(f"127.0.0.1:{free_port()}")
    began = time.monotonic()
    with pytest.raises(CoordTimeoutError):
        zk.start(timeout=1.0)
    assert time.monotonic() - began < 5
    assert zk.state is KazooState.LOST


def test_calls_need_a_started_client(server):
    with pytest.raises(ConnectionClosedError):
        Client(server.address).get("/")


# --------------------------------------------------------------- pipelining


def test_64_requests_in_flight_from_one_thread(zk):
    creates = [zk.create_async(f"/n{i}", str(i).encode()) for i in range(64)]
    assert [c.get(timeout=WAIT) for c in creates] == [f"/n{i}" for i in range(64)]
    reads = [zk.get_async(f"/n{i}") for i in range(64)]
    assert [r.get(timeout=WAIT)[0] for r in reads] == [str(i).encode() for i in range(64)]
    checks = [zk.exists_async(f"/n{i}") for i in range(64)]
    assert all(c.get(timeout=WAIT) for c in checks)


def test_pipelined_requests_take_effect_in_request_order(zk):
    """A session's requests act in the order sent (ZooKeeper's FIFO client
    order): a read sees the writes sent before it and none sent after it."""
    zk.create("/o", b"0")
    pipeline = [
        zk.set_async("/o", b"1"),
        zk.get_async("/o"),
        zk.create_async("/o/c"),
        zk.get_children_async("/o"),
        zk.delete_async("/o/c"),
        zk.set_async("/o", b"2"),
    ]
    results = [p.get(timeout=WAIT) for p in pipeline]
    assert results[1][0] == b"1" and results[3] == ["c"]


def test_async_errors_surface_on_get(zk):
    result = zk.get_async("/missing")
    with pytest.raises(NoNodeError):
        result.get(timeout=WAIT)
    assert result.ready() and not result.successful()


# --------------------------------------------------------- argument checks


@pytest.mark.parametrize("path", ["relative", "/trailing/", "/double//slash", "/dot/.", ""])
def test_bad_paths_raise_value_error(zk, path):
    with pytest.raises(ValueError):
        zk.create(path)
    with pytest.raises(ValueError):
        zk.get_async(path)
    assert zk.connected


def test_values_must_be_bytes(zk):
    with pytest.raises(TypeError):
        zk.create("/s", "text")
    zk.create("/s")
    with pytest.raises(TypeError):
        zk.set("/s", "text")
    assert zk.get("/s")[0] == b""
