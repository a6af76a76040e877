"""The asyncio client's recipes against a real coord-server: locks among
several clients, election, semaphore, counter, barrier, double barrier,
queue, locking queue, party, watchers, Config and TreeCache."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

from coord_client.aio import Client
from coord_client.aio.recipes import TreeEvent
from coord_client.exceptions import BadVersionError, LockTimeout
from coord_client.recipes import CancelledError
from tests.test_aio_client import WAIT, Recorder, run


async def clients(stack: AsyncExitStack, address: str, count: int) -> list[Client]:
    """`count` started clients, each with its own session, stopped with `stack`."""
    return [await stack.enter_async_context(Client(address)) for _ in range(count)]


def test_a_lock_keeps_an_exact_count_among_several_clients(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            zks = await clients(stack, server.address, 4)
            await zks[0].create("/count", b"0")
            tokens: list[int] = []

            async def worker(zk: Client, rounds: int) -> None:
                lock = zk.Lock("/lock", "worker")
                for _ in range(rounds):
                    async with lock:
                        tokens.append(lock.fencing_token)
                        data, _ = await zk.get("/count")  # read, yield, write: racy unlocked
                        await asyncio.sleep(0)
                        await zk.set("/count", str(int(data) + 1).encode())
                    assert lock.fencing_token is None  # released

            await asyncio.gather(*(worker(zk, 25) for zk in zks))
            assert (await zks[0].get("/count"))[0] == b"100", "the lock let two in"
            assert tokens == sorted(tokens) and len(set(tokens)) == 100  # strictly growing
            assert await zks[0].get_children("/lock") == []  # no contender left behind

    run(body)


def test_lock_timeout_non_blocking_and_contenders(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            one, two = await clients(stack, server.address, 2)
            held = one.Lock("/l", "one")
            assert await held.acquire()
            assert held.is_acquired
            other = two.Lock("/l", "two")
            assert await other.acquire(blocking=False) is False
            with pytest.raises(LockTimeout):
                await other.acquire(timeout=0.3)
            waiting = asyncio.ensure_future(other.acquire())
            while len(await one.get_children("/l")) < 2:  # its node is made
                await one.sync("/l")
            assert await held.contenders() == ["one", "two"]
            await held.release()
            assert await asyncio.wait_for(waiting, WAIT) is True
            assert other.fencing_token > 0
            await other.release()
            assert await two.get_children("/l") == []

    run(body)


def test_a_cancelled_acquire_leaves_nothing(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            one, two = await clients(stack, server.address, 2)
            async with one.Lock("/c"):
                other = two.Lock("/c")
                waiting = asyncio.ensure_future(other.acquire())
                while len(await one.get_children("/c")) < 2:
                    await one.sync("/c")
                other.cancel()
                with pytest.raises(CancelledError):
                    await asyncio.wait_for(waiting, WAIT)
                assert len(await one.get_children("/c")) == 1

    run(body)


def test_readers_share_and_a_writer_waits(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            a, b, c = await clients(stack, server.address, 3)
            async with a.ReadLock("/rw"), b.ReadLock("/rw"):
                writer = c.WriteLock("/rw")
                assert await writer.acquire(blocking=False) is False
            async with c.WriteLock("/rw") as lock:
                assert lock.is_acquired

    run(body)


def test_election_runs_one_leader_at_a_time(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            zks = await clients(stack, server.address, 3)
            leading: list[str] = []
            overlap = False

            async def lead(name: str) -> None:
                nonlocal overlap
                overlap = overlap or bool(leading)
                leading.append(name)
                await asyncio.sleep(0.05)  # hold leadership across other tasks' turns
                leading.remove(name)

            elections = [zk.Election("/elect", f"c{i}") for i, zk in enumerate(zks)]
            await asyncio.gather(*(e.run(lead, f"c{i}") for i, e in enumerate(elections)))
            assert not overlap
            assert await elections[0].contenders() == []

    run(body)


def test_a_semaphore_admits_at_most_its_leases(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            zks = await clients(stack, server.address, 4)
            inside, most = 0, 0

            async def use(zk: Client) -> None:
                nonlocal inside, most
                for _ in range(3):
                    async with zk.Semaphore("/sem", max_leases=2):
                        inside += 1
                        most = max(most, inside)
                        await asyncio.sleep(0.01)
                        inside -= 1

            await asyncio.gather(*(use(zk) for zk in zks))
            assert most == 2  # reached, never passed
            with pytest.raises(ValueError):
                await zks[0].Semaphore("/sem", max_leases=3).acquire()

    run(body)


def test_counter_adds_exactly_under_contention(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            zks = await clients(stack, server.address, 3)
            counters = [zk.Counter("/n") for zk in zks]
            await asyncio.gather(*(c.add(1) for c in counters for _ in range(10)))
            assert await counters[0].value() == 30
            await counters[1].subtract(5)
            assert (counters[1].pre_value, counters[1].post_value) == (30, 25)
            with pytest.raises(TypeError):
                await counters[0].add(1.5)

    run(body)


def test_a_barrier_holds_waiters_until_removed(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            one, two = await clients(stack, server.address, 2)
            barrier = one.Barrier("/gate")
            await barrier.create()
            assert await two.Barrier("/gate").wait(timeout=0.2) is False
            waiting = asyncio.ensure_future(two.Barrier("/gate").wait())
            await asyncio.sleep(0)
            assert not waiting.done()
            assert await barrier.remove() is True
            assert await asyncio.wait_for(waiting, WAIT) is True
            assert await barrier.remove() is False

    run(body)


def test_a_queue_hands_each_item_to_one_consumer_in_order(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            producer, *consumers = await clients(stack, server.address, 3)
            queue = producer.Queue("/jobs")
            for i in range(10):
                await queue.put(f"job{i}".encode())
            await queue.put(b"urgent", priority=1)
            assert await queue.length() == 11
            assert await consumers[0].Queue("/jobs").get() == b"urgent"
            queues = [zk.Queue("/jobs") for zk in consumers]
            taken = await asyncio.gather(*(q.get() for q in queues for _ in range(5)))
            assert sorted(taken) == sorted(f"job{i}".encode() for i in range(10))
            assert await queues[0].get() is None

    run(body)


def test_a_party_lists_its_members(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            one, two = await clients(stack, server.address, 2)
            a, b = one.Party("/party", "a"), two.Party("/party", "b")
            await a.join()
            await b.join()
            assert sorted(await a.members()) == ["a", "b"]
            assert await b.leave() is True and await b.leave() is False
            assert await a.members() == ["a"]

    run(body)


def test_data_and_children_watches_follow_changes(server):
    async def body() -> None:
        async with Client(server.address) as zk:
            seen = Recorder()

            async def on_data(data: bytes | None, stat: Any) -> bool | None:
                seen(data)
                return False if data == b"stop" else None

            await zk.DataWatch("/cfg", on_data)  # called once before this returns
            assert await seen.next() is None  # no node yet
            await zk.create("/cfg", b"1")
            assert await seen.next() == b"1"
            await zk.set("/cfg", b"stop")
            assert await seen.next() == b"stop"
            await zk.set("/cfg", b"after")  # the function said stop
            await zk.sync("/cfg")
            names = Recorder()
            watch = zk.ChildrenWatch("/cfg")
            watch(names)  # the decorator form
            await watch
            assert await names.next() == []
            await zk.create("/cfg/x", b"")
            assert await names.next() == ["x"]
            assert seen.calls.empty()

    run(body)


def test_config_update_is_seen_by_another_client(server):
    async def body() -> None:
        async with Client(server.address) as writer_zk, Client(server.address) as reader_zk:
            writer = await writer_zk.Config("/app/config", codec=json)
            reader = await reader_zk.Config("/app/config", codec=json)
            views: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

            async def changed(view: dict[str, Any]) -> None:
                await views.put(view)

            reader.on_change(changed)
            version = await writer.update({"timeout": 60, "retries": 3}, version=writer.version)
            assert dict(writer) == {"timeout": 60, "retries": 3} and writer.version == version
            assert await asyncio.wait_for(views.get(), WAIT) == {"timeout": 60, "retries": 3}
            assert reader.version == version and reader["timeout"] == 60
            with pytest.raises(BadVersionError):
                await reader.update({"timeout": 1}, version=version - 1)
            assert (await writer_zk.get("/app/config/timeout"))[0] == b"60"  # unchanged
            await reader.close()
            await writer.close()

    run(body)


def test_recipes_are_attributes_of_the_client():
    names: Callable[[type], set[str]] = lambda cls: {n for n in dir(cls) if n[:1].isupper()}  # noqa: E731
    assert {"Lock", "Election", "Counter", "Barrier", "Semaphore", "DataWatch"} <= names(Client)
    assert {"ChildrenWatch", "Queue", "Config", "Party", "ReadLock", "WriteLock"} <= names(Client)
    assert {"DoubleBarrier", "LockingQueue", "TreeCache"} <= names(Client)


async def children_count(zk: Client, path: str, count: int) -> None:
    """Return once `path` has `count` children (each read after a sync)."""
    await zk.ensure_path(path)
    while len(await zk.get_children(path)) != count:
        await zk.sync(path)


def test_a_double_barrier_lets_members_in_and_out_together(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            zks = await clients(stack, server.address, 3)
            barriers = [zk.DoubleBarrier("/double", 3, f"m{i}") for i, zk in enumerate(zks)]
            seen: list[tuple[str, int]] = []  # one event loop: the order things happened

            async def enter(i: int) -> None:
                seen.append(("arrive", i))
                assert await barriers[i].enter(timeout=WAIT)
                seen.append(("entered", i))

            async def leave(i: int) -> None:
                seen.append(("leave", i))
                assert await barriers[i].leave(timeout=WAIT)
                seen.append(("left", i))

            first = [asyncio.ensure_future(enter(i)) for i in (0, 1)]
            await children_count(zks[0], "/double", 2)  # both are in
            assert not (await asyncio.wait(first, timeout=0.3))[0]  # and waiting
            await asyncio.gather(enter(2), *first)
            assert {what for what, _ in seen[:3]} == {"arrive"}, seen  # none entered early
            assert all(b.participating for b in barriers)
            lowest = min(range(3), key=lambda i: barriers[i].node_name)
            early = [i for i in range(3) if i != lowest]
            seen.clear()
            first = [asyncio.ensure_future(leave(i)) for i in early]
            # the others delete their node, then wait for the lowest: 1 member and `ready`
            await children_count(zks[0], "/double", 2)
            assert not (await asyncio.wait(first, timeout=0.3))[0]  # and they wait
            await asyncio.gather(leave(lowest), *first)
            assert {what for what, _ in seen[:3]} == {"leave"}, seen  # none left early
            assert not any(b.participating for b in barriers)
            assert await zks[0].get_children("/double") == []  # `ready` went with the last

    run(body)


def test_a_double_barrier_that_times_out_leaves_no_member_behind(server):
    async def body() -> None:
        async with Client(server.address) as zk:
            barrier = zk.DoubleBarrier("/double", 2)
            assert await barrier.enter(timeout=0.2) is False
            assert not barrier.participating and await zk.get_children("/double") == []

    run(body)


def test_a_locking_queue_item_is_held_until_consumed_or_released(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            one, two = await clients(stack, server.address, 2)
            mine, theirs = one.LockingQueue("/jobs"), two.LockingQueue("/jobs")
            assert await mine.get(timeout=0.1) is None
            await mine.put(b"a")
            await mine.put_all([b"b", b"c"], priority=1)
            assert await mine.length() == 3
            assert await mine.get() == b"b" and await mine.holds_lock()
            assert await mine.get() == b"b"  # the item held, until consumed or released
            assert await theirs.get(timeout=WAIT) == b"c"
            assert await mine.release() and not await mine.holds_lock()
            assert not await mine.release()
            assert await theirs.consume() and not await theirs.consume()
            assert await mine.get(timeout=WAIT) == b"b"
            assert await mine.consume()
            assert await mine.length() == 1
            with pytest.raises(TypeError):
                await mine.put("text")  # type: ignore[arg-type]

    run(body)


def test_a_locking_queue_item_whose_consumer_session_ends_goes_to_another(server):
    async def body() -> None:
        async with AsyncExitStack() as stack:
            producer, other = await clients(stack, server.address, 2)
            leaving = Client(server.address)
            await leaving.start()
            stack.push_async_callback(leaving.stop)
            await producer.LockingQueue("/work").put(b"only")
            holder = leaving.LockingQueue("/work")
            assert await holder.get(timeout=WAIT) == b"only"
            taker = other.LockingQueue("/work")
            assert await taker.get(timeout=0.2) is None  # locked by the holder
            waiting = asyncio.ensure_future(taker.get(timeout=WAIT))
            await leaving.stop()  # the session ends, and its lock with it
            assert await waiting == b"only"
            assert await taker.consume()
            await leaving.start()  # a new session: not the one that locked the item
            assert await holder.consume() is False  # its lock went with its old session
            assert await producer.LockingQueue("/work").length() == 0

    run(body)


def test_a_tree_cache_loads_a_subtree_and_follows_its_changes(server):
    async def body() -> None:
        async with Client(server.address) as zk, Client(server.address) as other:
            await zk.create("/tree/a/b", b"2", makepath=True)
            cache = zk.TreeCache("/tree")
            events = Recorder()
            cache.listen(lambda e: events((e.event_type, e.event_data and e.event_data.path)))
            coroutine_events = Recorder()

            async def listener(event: TreeEvent) -> None:
                coroutine_events(event.event_type)

            cache.listen(listener)
            await cache.start()
            assert [await events.next() for _ in range(4)] == [
                (TreeEvent.NODE_ADDED, "/tree"),
                (TreeEvent.NODE_ADDED, "/tree/a"),
                (TreeEvent.NODE_ADDED, "/tree/a/b"),
                (TreeEvent.INITIALIZED, None),
            ]
            assert cache.get_children("/tree") == {"a"}
            assert cache.get_data("/tree/a/b").data == b"2"
            assert cache.get_data("/nope") is None and cache.get_children("/tree/x") is None
            await other.create("/tree/c", b"3")
            assert await events.next() == (TreeEvent.NODE_ADDED, "/tree/c")
            await other.set("/tree/a", b"new")
            assert await events.next() == (TreeEvent.NODE_UPDATED, "/tree/a")
            node = cache.get_data("/tree/a")
            assert node.data == b"new" and node.stat.version == 1
            await other.delete("/tree/a", recursive=True)
            assert await events.next() == (TreeEvent.NODE_REMOVED, "/tree/a/b")
            assert await events.next() == (TreeEvent.NODE_REMOVED, "/tree/a")
            assert cache.get_data("/tree/a") is None and cache.get_children("/tree") == {"c"}
            kinds = [await coroutine_events.next() for _ in range(8)]
            assert kinds.count(TreeEvent.NODE_REMOVED) == 2 and TreeEvent.INITIALIZED in kinds
            await cache.close()
            assert cache.get_data("/tree") is None
            await other.create("/tree/d", b"")
            await zk.sync("/tree")  # an event, had the watch stayed, would come before this
            assert events.calls.empty()
            with pytest.raises(RuntimeError):
                await cache.start()  # once only

    run(body)
