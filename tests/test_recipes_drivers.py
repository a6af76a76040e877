"""Each recipe's key scenarios, one test body run through both drivers: the
threaded client's recipes and the asyncio client's are one algorithm
(coord_client/recipes), and must behave alike."""

from __future__ import annotations

import asyncio
import json
import queue
from collections.abc import Iterator

import pytest

from coord_client.exceptions import BadVersionError, LockTimeout
from coord_client.recipes import CancelledError, TreeEvent
from tests.recipe_drivers import WAIT, Side, children_changed, driven


@pytest.fixture(params=["threads", "asyncio"])
def side(request, server) -> Iterator[Side]:
    with driven(request.param, server.address) as made:
        yield made


@pytest.fixture
def watcher(connect):
    """A threaded client that watches what the recipes do."""
    return connect()


# ---------------------------------------------------------------- Lock


def test_a_lock_passes_in_turn_with_a_growing_fencing_token(side, watcher):
    a, b = side.client(), side.client()
    first, second = side.do(lambda: a.Lock("/lock", "a")), side.do(lambda: b.Lock("/lock", "b"))
    assert side.do(lambda: first.acquire(timeout=WAIT))
    assert first.is_acquired and side.do(first.check)
    assert side.do(lambda: second.acquire(blocking=False)) is False
    queued = children_changed(watcher, "/lock")
    pending = side.start(lambda: second.acquire(timeout=WAIT))
    assert queued.wait(WAIT), "the waiter never made its node"
    assert side.do(first.contenders) == ["a", "b"]
    token = first.fencing_token
    assert side.do(first.release)
    assert not side.do(first.check) and first.fencing_token is None
    assert pending.result(WAIT)
    assert second.fencing_token > token
    assert side.do(second.release) and not side.do(second.release)
    assert watcher.get_children("/lock") == []


def test_a_lock_timeout_and_a_cancel_leave_no_node_behind(side, watcher):
    a, b = side.client(), side.client()
    holder, waiter = (
        side.do(lambda: a.Lock("/lock", "holder")),
        side.do(lambda: b.Lock("/lock", "w")),
    )
    assert side.do(holder.acquire)
    with pytest.raises(LockTimeout):
        side.do(lambda: waiter.acquire(timeout=0.2))
    assert side.do(holder.contenders) == ["holder"]

    queued = children_changed(watcher, "/lock")
    pending = side.start(lambda: waiter.acquire(timeout=WAIT))
    assert queued.wait(WAIT)
    side.do(waiter.cancel)
    with pytest.raises(CancelledError):
        pending.result(WAIT)
    assert side.do(holder.contenders) == ["holder"]
    side.do(holder.release)
    assert side.do(lambda: waiter.acquire(timeout=WAIT))  # the object can be used again
    side.do(waiter.release)


def test_readers_share_and_a_writer_waits_for_them(side, watcher):
    a, b = side.client(), side.client()
    first, second = (
        side.do(lambda: a.ReadLock("/rw", "r1")),
        side.do(lambda: b.ReadLock("/rw", "r2")),
    )
    assert side.do(first.acquire) and side.do(second.acquire)
    writer = side.do(lambda: b.WriteLock("/rw", "w"))
    assert side.do(lambda: writer.acquire(blocking=False)) is False
    queued = children_changed(watcher, "/rw")
    pending = side.start(lambda: writer.acquire(timeout=WAIT))
    assert queued.wait(WAIT)
    late = side.do(lambda: a.ReadLock("/rw", "r3"))
    assert side.do(lambda: late.acquire(blocking=False)) is False, "a reader overtook a writer"
    assert side.do(first.contenders) == ["r1", "r2", "w"]
    side.do(first.release)
    side.do(second.release)
    assert pending.result(WAIT) and writer.is_acquired
    side.do(writer.release)


# ----------------------------------------------------------- Semaphore


def test_a_semaphore_admits_its_leases_and_no_more(side):
    zks = [side.client() for _ in range(3)]
    one, two, three = (
        side.do(lambda zk=zk, i=i: zk.Semaphore("/sem", f"s{i}", max_leases=2))
        for i, zk in enumerate(zks)
    )
    assert side.do(one.acquire) and side.do(two.acquire)
    assert side.do(lambda: three.acquire(blocking=False)) is False
    with pytest.raises(LockTimeout):
        side.do(lambda: three.acquire(timeout=0.2))
    assert sorted(side.do(one.lease_holders)) == ["s0", "s1"]
    with pytest.raises(ValueError, match="max leases"):
        side.do(lambda: zks[2].Semaphore("/sem", max_leases=3).acquire())
    pending = side.start(lambda: three.acquire(timeout=WAIT))
    side.do(one.release)
    assert pending.result(WAIT) and three.is_acquired
    side.do(two.release)
    side.do(three.release)
    assert side.do(one.lease_holders) == []


# ------------------------------------------------------------ Election


def test_an_election_runs_the_leader_once_its_turn_comes(side, watcher):
    a, b = side.client(), side.client()
    holder = side.do(lambda: a.Lock("/election", "first"))
    assert side.do(holder.acquire)  # an Election contends as a Lock on its path
    led: list[str] = []
    election = side.do(lambda: b.Election("/election", "second"))
    queued = children_changed(watcher, "/election")
    pending = side.start(lambda: election.run(led.append, "second"))
    assert queued.wait(WAIT)
    assert side.do(election.contenders) == ["first", "second"]
    assert not election.is_leader and led == []
    side.do(holder.release)
    pending.result(WAIT)
    assert led == ["second"] and not election.is_leader

    side.do(holder.acquire)
    quitter = side.do(lambda: b.Election("/election", "quitter"))
    queued = children_changed(watcher, "/election")
    pending = side.start(lambda: quitter.run(led.append, "quitter"))
    assert queued.wait(WAIT)
    side.do(quitter.cancel)
    assert pending.result(WAIT) is None and led == ["second"]
    side.do(holder.release)
    assert watcher.get_children("/election") == []


# -------------------------------------------------------------- Barrier


def test_a_barrier_holds_its_waiters_until_it_is_removed(side, watcher):
    zk = side.client()
    barrier = side.do(lambda: zk.Barrier("/gate"))
    assert side.do(lambda: barrier.wait(timeout=0)), "no barrier yet: nothing to wait for"
    assert side.do(barrier.create) and side.do(barrier.create)  # idempotent
    assert side.do(lambda: barrier.wait(timeout=0.2)) is False
    waiting = side.start(lambda: barrier.wait(WAIT))
    watcher.set("/gate", b"another change")  # wakes the waiter, which waits on
    assert side.do(lambda: zk.Barrier("/gate").remove())
    assert waiting.result(WAIT) is True
    assert side.do(barrier.remove) is False


# -------------------------------------------------------------- Counter


def test_a_counter_adds_exactly_under_contention(side, watcher):
    zks = [side.client() for _ in range(3)]
    counters = [side.do(lambda zk=zk: zk.Counter("/count")) for zk in zks]
    pending = [side.start(lambda c=c: c.add(1)) for c in counters for _ in range(10)]
    for each in pending:
        each.result(WAIT)
    assert watcher.get("/count")[0] == b"30", "an increment was lost"
    side.do(lambda: counters[0].subtract(5))
    assert (counters[0].pre_value, counters[0].post_value) == (30, 25)
    with pytest.raises(TypeError):
        side.do(lambda: counters[0].add(1.5))
    halves = side.do(lambda: zks[0].Counter("/float", default=0.5))
    side.do(lambda: halves.add(1.0))
    assert halves.post_value == 1.5


# ---------------------------------------------------------------- Queue


def test_a_queue_hands_each_item_to_one_consumer_by_priority(side):
    producer, consumer = side.client(), side.client()
    out, into = side.do(lambda: producer.Queue("/q")), side.do(lambda: consumer.Queue("/q"))
    with pytest.raises(ValueError):
        side.do(lambda: out.put(b"x", priority=1000))
    for value, priority in ((b"late", 200), (b"first", 10), (b"second", 100), (b"third", 100)):
        side.do(lambda v=value, p=priority: out.put(v, priority=p))
    assert side.do(into.length) == 4
    taken = [side.start(into.get) for _ in range(2)] + [side.start(out.get) for _ in range(2)]
    assert sorted(each.result(WAIT) for each in taken) == sorted(
        [b"late", b"first", b"second", b"third"]
    )
    assert side.do(into.get) is None and side.do(out.length) == 0
    side.do(lambda: out.put(b"a", priority=5))
    side.do(lambda: out.put(b"b", priority=1))
    assert [side.do(into.get), side.do(into.get)] == [b"b", b"a"]


# ---------------------------------------------------------------- Party


def test_a_party_lists_its_members_until_they_leave(side, watcher):
    a, b = side.client(), side.client()
    one, two = side.do(lambda: a.Party("/party", "one")), side.do(lambda: b.Party("/party", "two"))
    side.do(one.join)
    side.do(one.join)  # idempotent
    side.do(two.join)
    assert one.participating and sorted(side.do(two.members)) == ["one", "two"]
    assert side.do(one.leave) and not one.participating
    assert side.do(one.leave) is False
    assert side.do(two.members) == ["two"]
    side.do(two.leave)
    assert watcher.get_children("/party") == []


# -------------------------------------------------------- DoubleBarrier


def test_a_double_barrier_lets_members_in_and_out_together(side, watcher):
    zks = [side.client() for _ in range(3)]
    members = [side.do(lambda zk=zk: zk.DoubleBarrier("/db", 3)) for zk in zks]
    watcher.ensure_path("/db")
    arrived = children_changed(watcher, "/db")
    entering = [side.start(lambda m=m: m.enter(WAIT)) for m in members[:2]]
    assert arrived.wait(WAIT)
    assert not any(each.done() for each in entering), "in before all were there"
    assert side.do(lambda: members[2].enter(WAIT))
    assert all(each.result(WAIT) for each in entering)
    leaving = [side.start(lambda m=m: m.leave(WAIT)) for m in members]
    assert all(each.result(WAIT) for each in leaving)
    assert watcher.get_children("/db") == []

    lone = side.do(lambda: zks[0].DoubleBarrier("/db", 2))
    assert side.do(lambda: lone.enter(timeout=0.2)) is False
    assert not lone.participating and watcher.get_children("/db") == []


# --------------------------------------------------------- LockingQueue


def test_a_locking_queue_holds_an_item_until_it_is_consumed_or_released(side):
    a, b = side.client(), side.client()
    first, second = side.do(lambda: a.LockingQueue("/lq")), side.do(lambda: b.LockingQueue("/lq"))
    with pytest.raises(TypeError):
        side.do(lambda: first.put_all([b"ok", "not bytes"]))
    side.do(lambda: first.put(b"one"))
    side.do(lambda: first.put_all([b"two", b"three"], priority=50))
    assert side.do(first.length) == 3
    assert side.do(lambda: first.get(WAIT)) == b"two"
    assert side.do(lambda: first.get(WAIT)) == b"two", "the held item comes again"
    assert side.do(lambda: second.get(WAIT)) == b"three"
    assert side.do(second.release) and side.do(first.consume)
    assert side.do(first.consume) is False and side.do(first.holds_lock) is False
    assert side.do(lambda: first.get(WAIT)) == b"three"
    assert side.do(lambda: second.get(WAIT)) == b"one"
    assert side.do(first.consume) and side.do(second.consume)
    assert side.do(first.length) == 0
    assert side.do(lambda: second.get(timeout=0.2)) is None


# ------------------------------------------------- DataWatch, ChildrenWatch


def test_data_and_children_watches_follow_changes_until_told_to_stop(side, watcher):
    zk = side.client()
    seen: queue.Queue[bytes | None] = queue.Queue()

    def on_data(data, stat):
        seen.put(data)
        return False if data == b"stop" else None

    side.do(lambda: zk.DataWatch("/cfg", on_data))  # asyncio: awaited, its first call made
    assert seen.get(timeout=WAIT) is None  # no node yet
    watcher.create("/cfg", b"1")
    assert seen.get(timeout=WAIT) == b"1"
    watcher.set("/cfg", b"stop")
    assert seen.get(timeout=WAIT) == b"stop"
    watcher.set("/cfg", b"after")  # the function said stop
    names: queue.Queue[list[str]] = queue.Queue()
    (children,) = side.do(lambda: [zk.ChildrenWatch("/cfg")])  # not awaited: no function yet
    side.do(lambda: children(names.put))  # the decorator form
    assert names.get(timeout=WAIT) == []
    watcher.create("/cfg/x", b"")
    assert names.get(timeout=WAIT) == ["x"]
    assert seen.empty()
    with pytest.raises(TypeError):
        side.do(lambda: children(names.put))  # one function per watch


# ------------------------------------------------------------ TreeCache


def test_a_tree_cache_loads_a_subtree_and_follows_its_changes(side, watcher):
    watcher.create("/tree/a/b", b"2", makepath=True)
    zk = side.client()
    cache = side.do(lambda: zk.TreeCache("/tree"))
    events: queue.Queue[tuple[int, str | None]] = queue.Queue()
    cache.listen(lambda e: events.put((e.event_type, e.event_data and e.event_data.path)))
    side.do(cache.start)
    assert [events.get(timeout=WAIT) for _ in range(4)] == [
        (TreeEvent.NODE_ADDED, "/tree"),
        (TreeEvent.NODE_ADDED, "/tree/a"),
        (TreeEvent.NODE_ADDED, "/tree/a/b"),
        (TreeEvent.INITIALIZED, None),
    ]
    assert cache.get_children("/tree") == {"a"} and cache.get_data("/tree/a/b").data == b"2"
    assert cache.get_data("/nope") is None and cache.get_children("/tree/x") is None
    watcher.create("/tree/c", b"3")
    assert events.get(timeout=WAIT) == (TreeEvent.NODE_ADDED, "/tree/c")
    watcher.set("/tree/a", b"new")
    assert events.get(timeout=WAIT) == (TreeEvent.NODE_UPDATED, "/tree/a")
    assert cache.get_data("/tree/a").stat.version == 1
    watcher.delete("/tree/a", recursive=True)
    assert events.get(timeout=WAIT) == (TreeEvent.NODE_REMOVED, "/tree/a/b")
    assert events.get(timeout=WAIT) == (TreeEvent.NODE_REMOVED, "/tree/a")
    assert cache.get_children("/tree") == {"c"}
    side.do(cache.close)
    assert cache.get_data("/tree") is None
    with pytest.raises(RuntimeError):
        side.do(cache.start)  # once only


# --------------------------------------------------------------- Config


def test_a_config_update_is_one_transaction_seen_by_another_client(side):
    writer_zk, reader_zk = side.client(), side.client()
    writer = side.do(lambda: writer_zk.Config("/app/config", codec=json))  # asyncio: awaited
    reader = side.do(lambda: reader_zk.Config("/app/config", codec=json))
    changes: queue.Queue[dict] = queue.Queue()
    reader.on_change(changes.put)
    assert dict(reader) == {} and reader.version == 0
    update = {"timeout": 60, "retries": 3}
    assert side.do(lambda: writer.update(update, version=writer.version)) == 1
    assert dict(writer) == update, "the writer reads its own update"
    assert changes.get(timeout=WAIT) == update and reader.version == 1
    with pytest.raises(BadVersionError):
        side.do(lambda: writer.update({"timeout": 1}, version=0))
    with pytest.raises(ValueError):
        side.do(lambda: writer.update({"a/b": 1}))
    assert writer["timeout"] == 60 and changes.empty()
    side.do(reader.close)
    assert side.do(lambda: writer.update({"timeout": 5})) == 2
    assert writer["timeout"] == 5 and reader["timeout"] == 60  # closed: its last state


# ------------------------------------------- what only one side can do


def test_the_asyncio_recipes_refuse_what_cannot_await(server):
    with driven("asyncio", server.address) as side:
        zk = side.client()
        lock = side.do(lambda: zk.Lock("/l"))
        counter, queue_, party = (
            side.do(lambda: zk.Counter("/c")),
            side.do(lambda: zk.Queue("/q")),
            side.do(lambda: zk.Party("/p")),
        )
        with pytest.raises(TypeError, match="async with"):
            side.do(lambda: lock.__enter__())
        with pytest.raises(TypeError, match="counter.add"):
            side.do(lambda: counter + 1)
        with pytest.raises(TypeError, match="queue.length"):
            side.do(lambda: len(queue_))
        with pytest.raises(TypeError, match="party.members"):
            side.do(lambda: list(party))
        assert not lock.is_acquired


def test_the_threaded_recipes_refuse_async_with(connect):
    lock = connect().Lock("/l")
    with pytest.raises(TypeError, match="'with'"):
        asyncio.run(lock.__aenter__())
    assert not lock.is_acquired
