"""The asyncio client (coord_client.aio) against real coord-server processes:
the kazoo surface as coroutines, watches, transactions, pipelining and the
session's fail-over to another member."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from coord_client import Client as ThreadedClient
from coord_client.aio import Client, EventType, KazooState, WatchedEvent
from coord_client.exceptions import (
    BadVersionError,
    ConnectionClosedError,
    CoordTimeoutError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    SessionExpiredError,
)
from tests.servers import free_port

WAIT = 10.0  # seconds any expected event may take


def run(test: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """Run one coroutine test on a fresh event loop, bounded in time."""
    return asyncio.run(asyncio.wait_for(test(*args), 60))


class Recorder:
    """A callback that queues what it is called with, for the test to await."""

    def __init__(self) -> None:
        self.calls: asyncio.Queue[Any] = asyncio.Queue()

    def __call__(self, value: Any) -> None:
        self.calls.put_nowait(value)

    async def next(self) -> Any:
        return await asyncio.wait_for(self.calls.get(), WAIT)


async def next_state(states: Recorder, wanted: KazooState) -> list[KazooState]:
    """The states seen up to and including `wanted`."""
    seen = [await states.next()]
    while seen[-1] is not wanted:
        seen.append(await states.next())
    return seen


# ----------------------------------------------------------------- the tree


def test_crud_as_coroutines(server):
    async def body() -> None:
        async with Client(server.address) as zk:
            assert inspect.iscoroutinefunction(Client.get)
            assert await zk.create("/a", b"one") == "/a"
            data, stat = await zk.get("/a")
            assert (data, stat.version, stat.dataLength) == (b"one", 0, 3)
            assert (await zk.set("/a", b"two", version=0)).version == 1
            assert (await zk.get("/a"))[0] == b"two"
            assert await zk.exists("/nope") is None
            assert (await zk.exists("/a")).version == 1
            await zk.ensure_path("/a/b/c")
            assert await zk.ensure_path("/a/b/c") is True  # already there
            assert await zk.get_children("/a") == ["b"]
            names, stat = await zk.get_children("/a", include_data=True)
            assert (names, stat.numChildren) == (["b"], 1)
            assert await zk.sync("/a") == "/a"
            assert await zk.delete("/a", recursive=True) is True
            assert await zk.exists("/a") is None

    run(body)


def test_errors_have_kazoo_classes(server):
    async def body() -> None:
        async with Client(server.address) as zk:
            await zk.create("/x", b"")
            await zk.create("/x/child", b"")
            with pytest.raises(NoNodeError):
                await zk.get("/missing")
            with pytest.raises(NodeExistsError):
                await zk.create("/x")
            with pytest.raises(BadVersionError):
                await zk.set("/x", b"v", version=7)
            with pytest.raises(NotEmptyError):
                await zk.delete("/x")
            await zk.create("/eph", b"", ephemeral=True)
            with pytest.raises(NoChildrenForEphemeralsError):
                await zk.create("/eph/child")
            with pytest.raises(ValueError):
                await zk.get("no-slash")  # refused before anything is sent
            assert (await zk.get("/x"))[1].version == 0  # nothing changed

    run(body)


def test_sequential_and_ephemeral_nodes(server):
    async def body() -> None:
        async with Client(server.address) as owner, Client(server.address) as other:
            await owner.create("/q", b"")
            made = [await owner.create("/q/n-", b"", sequence=True) for _ in range(3)]
            assert made == [f"/q/n-{i:010d}" for i in range(3)]
            path = await owner.create("/q/e-", b"", ephemeral=True, sequence=True)
            assert path == "/q/e-0000000003"
            stat = await other.exists(path)
            assert stat.ephemeralOwner == owner.client_id[0]
            gone = asyncio.Event()
            await other.exists(path, watch=lambda event: gone.set())
            await owner.stop()  # its ephemerals go with the session
            await asyncio.wait_for(gone.wait(), WAIT)
            assert await other.exists(path) is None
            assert len(await other.get_children("/q")) == 3

    run(body)


# ------------------------------------------------------------------ watches


def test_a_one_shot_watch_fires_once_and_may_be_a_coroutine(server):
    async def body() -> None:
        async with Client(server.address) as zk:
            await zk.create("/w", b"0")
            events = Recorder()

            async def watcher(event: WatchedEvent) -> None:
                await zk.exists("/w")  # a coroutine watch may use the client
                events(event)

            await zk.get("/w", watch=watcher)
            await zk.set("/w", b"1")
            event = await events.next()
            assert (event.type, event.path) == (EventType.CHANGED, "/w")
            await zk.set("/w", b"2")  # the watch was used up: no second event
            plain = Recorder()
            await zk.exists("/w", watch=plain)  # a plain function, set after
            await zk.delete("/w")
            assert (await plain.next()).type is EventType.DELETED
            assert events.calls.empty()

    run(body)


def test_child_and_created_watches(server):
    async def body() -> None:
        async with Client(server.address) as zk, Client(server.address) as other:
            await zk.create("/p", b"")
            children, created = Recorder(), Recorder()
            assert await zk.get_children("/p", watch=children) == []
            assert await zk.exists("/p/new", watch=created) is None
            await other.create("/p/new", b"")
            assert (await children.next()).type is EventType.CHILD
            assert (await created.next()).type is EventType.CREATED

    run(body)


def test_a_persistent_recursive_watch_until_removed(server):
    async def body() -> None:
        async with Client(server.address) as zk:
            await zk.create("/t", b"")
            events = Recorder()
            await zk.add_watch("/t", events, recursive=True)
            await zk.create("/t/a", b"")
            await zk.set("/t/a", b"x")
            assert [(e.type, e.path) for e in (await events.next(), await events.next())] == [
                (EventType.CREATED, "/t/a"),
                (EventType.CHANGED, "/t/a"),
            ]
            await zk.remove_watch("/t", events)
            await zk.set("/t/a", b"y")
            await zk.sync("/t")  # the event, had there been one, comes before this answer
            assert events.calls.empty()

    run(body)


# ------------------------------------------------------------- transactions


def test_a_transaction_applies_all_or_nothing(server):
    async def body() -> None:
        async with Client(server.address) as zk:
            await zk.create("/tx", b"")
            t = zk.transaction()
            t.create("/tx/a", b"1")
            t.set_data("/tx", b"done", version=0)
            t.check("/tx", 1)  # ops apply in order: the set made it 1
            results = await t.commit()
            assert results[0] == "/tx/a" and results[1].version == 1 and results[2] is True
            failed = zk.transaction()
            failed.create("/tx/b", b"2")
            failed.check("/tx", 0)
            out = await failed.commit()
            assert isinstance(out[0], RolledBackError) and isinstance(out[1], BadVersionError)
            assert await zk.exists("/tx/b") is None  # nothing of it applied
            async with zk.transaction() as block:  # commits on exit
                block.create("/tx/c", b"3")
                block.delete("/tx/a")
            assert block.committed
            assert sorted(await zk.get_children("/tx")) == ["c"]
            with pytest.raises(ValueError):
                block.create("/tx/d")  # committed already

    run(body)


# --------------------------------------------------------------- pipelining


def test_many_requests_in_flight_with_gather(server):
    async def body() -> None:
        async with Client(server.address) as zk:
            await zk.create("/many", b"")
            paths = await asyncio.gather(
                *(zk.create(f"/many/n{i:03d}", str(i).encode()) for i in range(200))
            )
            assert paths == [f"/many/n{i:03d}" for i in range(200)]
            reads = await asyncio.gather(*(zk.get(path) for path in paths))
            assert [data for data, _ in reads] == [str(i).encode() for i in range(200)]
            # request order is kept: each set sees the version the previous left
            stats = await asyncio.gather(*(zk.set("/many", b"", version=v) for v in range(50)))
            assert [s.version for s in stats] == list(range(1, 51))
            assert len(await zk.get_children("/many")) == 200

    run(body)


# ------------------------------------------------------------ the session


def test_listeners_see_connected_and_lost_and_may_be_coroutines(server):
    async def body() -> None:
        zk = Client(server.address)
        states, async_states = Recorder(), Recorder()

        async def listener(state: KazooState) -> None:
            async_states(state)

        zk.add_listener(states)
        zk.add_listener(listener)
        await zk.start()
        assert zk.connected and zk.state is KazooState.CONNECTED
        assert await states.next() is KazooState.CONNECTED
        assert await async_states.next() is KazooState.CONNECTED
        await zk.stop()
        assert await states.next() is KazooState.LOST
        assert await async_states.next() is KazooState.LOST
        assert zk.client_id is None
        with pytest.raises(ConnectionClosedError):
            await zk.get("/")
        await zk.close()

    run(body)


def test_start_gives_up_when_no_member_answers():
    async def body() -> None:
        zk = Client(f"127.0.0.1:{free_port()}")
        with pytest.raises(CoordTimeoutError):
            await zk.start(timeout=1.0)
        assert zk.state is KazooState.LOST

    run(body)


def test_resuming_a_closed_session_is_expiry(server):
    async def body() -> None:
        async with Client(server.address) as zk:
            session = zk.client_id
        with pytest.raises(SessionExpiredError):
            await Client(server.address, client_id=session).start(timeout=WAIT)

    run(body)


def test_the_threaded_and_asyncio_clients_see_each_other(server):
    async def body() -> None:
        threaded = ThreadedClient(server.address)
        await asyncio.to_thread(threaded.start)
        try:
            async with Client(server.address) as zk:
                changed = asyncio.Event()
                await zk.create("/shared", b"aio")
                await zk.get("/shared", watch=lambda event: changed.set())
                await asyncio.to_thread(threaded.set, "/shared", b"threaded")
                await asyncio.wait_for(changed.wait(), WAIT)
                assert (await zk.get("/shared"))[0] == b"threaded"
        finally:
            await asyncio.to_thread(threaded.stop)

    run(body)


def test_the_session_moves_to_another_member_with_its_watch(cluster_factory):
    cluster = cluster_factory(3)
    cluster.leader()

    async def failover() -> None:
        async with Client(cluster.hosts, timeout=10.0) as zk:
            states = Recorder()
            zk.add_listener(states)
            session, serving = zk.client_id, zk.member_id
            await zk.create("/mine", b"", ephemeral=True)
            await zk.create("/watched", b"0")
            fired = Recorder()
            await zk.get("/watched", watch=fired)
            # sent now, answered only after the fail-over: resent by xid
            pending = [zk.create_async(f"/during-{i}", b"") for i in range(20)]
            cluster.members[serving].kill()
            assert await next_state(states, KazooState.CONNECTED) == [
                KazooState.SUSPENDED,
                KazooState.CONNECTED,
            ]
            assert await asyncio.gather(*pending) == [f"/during-{i}" for i in range(20)]
            assert zk.client_id == session and zk.member_id not in (None, serving)
            assert (await zk.exists("/mine")).ephemeralOwner == session[0]
            survivor = next(i for i, m in cluster.members.items() if i != serving)
            async with Client(cluster.members[survivor].address) as other:
                await other.set("/watched", b"1")
            event = await fired.next()  # the watch was carried over to the new member
            assert (event.type, event.path) == (EventType.CHANGED, "/watched")

    run(failover)
