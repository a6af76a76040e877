"""Queue and LockingQueue against a real coord-server, with competing
consumers, one of them killed while it holds an item."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from queue import Queue

import pytest

from tests.recipe_client import SHORT_SESSION, WAIT, Lab


@pytest.fixture
def lab(server) -> Iterator[Lab]:
    with Lab(server.address) as made:
        yield made


def test_queue_is_fifo_across_producers_with_priorities_first(lab):
    one, two, consumer = lab.client(), lab.client(), lab.client()
    producers = [one.Queue("/q"), two.Queue("/q")]
    for i in range(6):
        producers[i % 2].put(b"%d" % i)
    producers[1].put(b"urgent", priority=1)
    producers[0].put(b"late", priority=500)
    queue = consumer.Queue("/q")
    assert len(queue) == 8
    taken = [queue.get() for _ in range(9)]
    assert taken == [b"urgent", b"0", b"1", b"2", b"3", b"4", b"5", b"late", None]
    with pytest.raises(ValueError):
        queue.put(b"x", priority=1000)
    with pytest.raises(TypeError):
        queue.put("text")


def test_queue_items_go_to_one_consumer_each(lab):
    producer = lab.client().Queue("/q")
    for i in range(60):
        producer.put(b"%d" % i)
    taken: list[list[bytes]] = [[] for _ in range(3)]

    def consume(zk, into: list[bytes]) -> None:
        queue = zk.Queue("/q")
        while (item := queue.get()) is not None:
            into.append(item)

    threads = [threading.Thread(target=consume, args=(lab.client(), into)) for into in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    everything = [item for into in taken for item in into]
    assert sorted(everything) == sorted(b"%d" % i for i in range(60)), (
        "an item was lost or taken twice"
    )
    for into in taken:
        assert into == sorted(into, key=int), "a consumer saw items out of order"


def test_locking_queue_item_of_a_killed_consumer_is_consumed_once_by_another(lab):
    zk = lab.client()
    queue = zk.LockingQueue("/jobs")
    victim = lab.worker("consume", "/jobs", 1, timeout=SHORT_SESSION)
    queue.put(b"first")
    assert victim.expect("holding") == ["first"]
    queue.put_all([b"%d" % i for i in range(30)])
    assert len(queue) == 31
    consumers = [lab.worker("consume", "/jobs", 0) for _ in range(3)]
    victim.kill()  # holding "first": its lock goes when its session expires
    consumed = [lab.expect_any("consumed")[1][0] for _ in range(31)]
    assert sorted(consumed) == sorted(["first", *map(str, range(30))]), consumed
    assert len(queue) == 0
    # A consumer that locked an item just consumed by another lets go of it.
    taken: Queue[list[str]] = Queue()
    zk.ChildrenWatch("/jobs/taken", taken.put)
    while taken.get(timeout=WAIT):
        pass
    assert {worker for worker in consumers if "consumed first" in worker.output}


def test_locking_queue_get_consume_release(lab):
    zk, other = lab.client(), lab.client()
    mine, theirs = zk.LockingQueue("/jobs"), other.LockingQueue("/jobs")
    assert mine.get(timeout=0.1) is None
    mine.put(b"a")
    mine.put(b"b", priority=1)
    assert mine.get() == b"b" and mine.holds_lock()
    assert mine.get() == b"b"  # the item held, until consumed or released
    assert theirs.get(timeout=WAIT) == b"a"
    assert mine.release() and not mine.holds_lock() and not mine.release()
    assert theirs.consume() and not theirs.consume()
    assert mine.get(timeout=WAIT) == b"b"
    assert mine.consume()
    assert len(mine) == 0 and theirs.get(timeout=0.1) is None
