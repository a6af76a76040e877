"""The asyncio client when its session is in trouble, against real members:
a session that expires is LOST and its calls raise SessionExpiredError; a
member that goes silent is left for another with the same session; a Lock
holder, a LockingQueue consumer and a TreeCache hear it through the states.

A frozen process is played by blocking the event loop on a call that
returns only once another client (a threaded one, so it runs meanwhile) has
seen the frozen session expire: no ping goes out while the loop is blocked.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

import pytest

from coord_client import Client as ThreadedClient
from coord_client.aio import Client, EventType, KazooState
from coord_client.aio.recipes import TreeCache, TreeEvent
from coord_client.exceptions import SessionExpiredError
from tests.servers import Cluster
from tests.test_aio_client import WAIT, Recorder, next_state, run

SESSION_TIMEOUT = 6.0  # a member silent for a third of this is left
SHORT = 1.0  # the session timeout of a session meant to expire
SHORT_SERVER = ("--min-session-timeout-ms", "500")


@pytest.fixture
def threaded(server_factory) -> Iterator[tuple[str, ThreadedClient]]:
    """A member that grants short sessions, and a threaded client of it."""
    server = server_factory(*SHORT_SERVER)
    zk = ThreadedClient(server.address)
    zk.start(timeout=WAIT)
    yield server.address, zk
    zk.stop()


def expired_while_frozen(other: ThreadedClient, path: str) -> None:
    """Block the event loop (no pings go out) until `other` sees the
    ephemeral `path` of the frozen session go: the session has expired."""
    gone = threading.Event()
    other.sync(path)
    if other.exists(path, watch=lambda event: gone.set()) is not None:
        assert gone.wait(SHORT + WAIT), f"{path} outlived its frozen session"


def test_an_expired_session_is_lost_and_its_calls_raise_session_expired(threaded):
    address, other = threaded

    async def body() -> None:
        async with Client(address, timeout=SHORT) as zk:
            states = Recorder()
            zk.add_listener(states)
            await zk.create("/frozen", b"", ephemeral=True)
            expired_while_frozen(other, "/frozen")
            seen = await next_state(states, KazooState.LOST)
            assert KazooState.CONNECTED not in seen, seen  # never back with that session
            assert zk.client_id is None and zk.state is KazooState.LOST
            with pytest.raises(SessionExpiredError):
                await zk.exists("/")
            with pytest.raises(SessionExpiredError):
                await zk.create("/again", b"")
            assert other.exists("/again") is None

    run(body)


@pytest.fixture
def cluster(cluster_factory) -> Cluster:
    made = cluster_factory(3)
    made.leader()
    return made


@contextlib.contextmanager
def silenced(cluster: Cluster, member_id: int) -> Iterator[None]:
    """The member is stopped (SIGSTOP) in the block: it neither answers nor hangs up."""
    cluster.members[member_id].signal(signal.SIGSTOP)
    try:
        yield
    finally:
        cluster.members[member_id].signal(signal.SIGCONT)


async def started_cache(zk: Client, path: str) -> tuple[TreeCache, Recorder]:
    """A started TreeCache of `path`, and the kinds of the events it tells."""
    cache = zk.TreeCache(path)
    kinds = Recorder()
    cache.listen(lambda event: kinds(event.event_type))
    await cache.start()
    return cache, kinds


def test_the_session_moves_when_its_member_goes_silent(cluster):
    async def body() -> None:
        async with Client(cluster.hosts, timeout=SESSION_TIMEOUT) as zk:
            states = Recorder()
            zk.add_listener(states)
            session, serving = zk.client_id, zk.member_id
            await zk.create("/mine", b"", ephemeral=True)
            watched = Recorder()
            await zk.exists("/later", watch=watched)
            with silenced(cluster, serving):
                pending = zk.create_async("/during", b"")  # to the silent member, or held
                assert await next_state(states, KazooState.CONNECTED) == [
                    KazooState.SUSPENDED,
                    KazooState.CONNECTED,
                ]
                assert await pending == "/during"
                assert zk.client_id == session and zk.member_id not in (None, serving)
                assert (await zk.exists("/mine")).ephemeralOwner == session[0]
                await zk.create("/later", b"")
                assert (await watched.next()).type is EventType.CREATED  # carried over

    run(body)


def test_a_lock_holder_and_a_tree_cache_hear_suspended_then_connected(cluster):
    async def body() -> None:
        async with Client(cluster.hosts, timeout=SESSION_TIMEOUT) as zk:
            lock = zk.Lock("/lock", "holder")
            assert await lock.acquire()
            cache, tree = await started_cache(zk, "/lock")
            while await tree.next() != TreeEvent.INITIALIZED:
                pass
            held = Recorder()  # told after the lock's own listener: what it says then
            zk.add_listener(lambda state: held((state, lock.is_acquired)))
            serving = zk.member_id
            with silenced(cluster, serving):
                assert await held.next() == (KazooState.SUSPENDED, False)
                assert await tree.next() == TreeEvent.CONNECTION_SUSPENDED
                assert await held.next() == (KazooState.CONNECTED, True)  # same session
                assert await tree.next() == TreeEvent.CONNECTION_RECONNECTED
            assert not lock.lost.is_set() and zk.member_id != serving
            assert cache.get_children("/lock") == set(await zk.get_children("/lock"))
            assert await lock.release()
            await cache.close()

    run(body)


def test_a_lock_holder_whose_session_expires_hears_lost(threaded):
    address, other = threaded

    async def body() -> None:
        async with Client(address, timeout=SHORT) as zk:
            lock = zk.Lock("/lock", "frozen")
            assert await lock.acquire()
            _, tree = await started_cache(zk, "/lock")
            held = Recorder()
            zk.add_listener(lambda state: held((state, lock.is_acquired)))
            node = (await zk.get_children("/lock"))[0]
            taker = other.Lock("/lock", "taker")
            assert taker.acquire(timeout=SHORT + WAIT)  # the loop is frozen meanwhile
            seen = [await held.next()]
            while seen[-1][0] is not KazooState.LOST:
                seen.append(await held.next())
            assert all(state is not KazooState.CONNECTED for state, _ in seen), seen
            assert not any(acquired for _, acquired in seen), seen
            assert lock.lost.is_set() and not lock.is_acquired
            while await tree.next() != TreeEvent.CONNECTION_LOST:
                pass
            assert await lock.release() is True  # lets go here, deletes nothing
            left = other.get_children("/lock")
            assert len(left) == 1 and node not in left and taker.is_acquired
            taker.release()

    run(body)


def test_a_locking_queue_item_of_an_expired_consumer_is_consumed_by_another(threaded):
    address, other = threaded

    async def body() -> None:
        async with Client(address, timeout=SHORT) as zk:
            await zk.LockingQueue("/jobs").put(b"only")
            states = Recorder()
            zk.add_listener(states)
            holder = zk.LockingQueue("/jobs")
            assert await holder.get(timeout=WAIT) == b"only"
            taker = other.LockingQueue("/jobs")
            assert taker.get(timeout=SHORT + WAIT) == b"only"  # the loop is frozen meanwhile
            assert taker.consume()
            await next_state(states, KazooState.LOST)
            with pytest.raises(SessionExpiredError):
                await holder.consume()  # its session is gone: no second consumer
            assert len(taker) == 0

    run(body)
