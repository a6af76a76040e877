"""Counter, Barrier, DoubleBarrier and Party against a real coord-server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.recipe_client import WAIT, Lab


@pytest.fixture
def lab(server) -> Iterator[Lab]:
    with Lab(server.address) as made:
        yield made


def test_concurrent_increments_from_four_processes_sum_exactly(lab):
    workers = [lab.worker("count", "/counter", 50) for _ in range(4)]
    for worker in workers:
        worker.expect("done", timeout=60)
    assert lab.client().Counter("/counter").value == 200


def test_counter_values_and_types(lab):
    zk = lab.client()
    counter = zk.Counter("/c")
    assert counter.value == 0
    counter += 5
    counter -= 2
    assert (counter.value, counter.pre_value, counter.post_value) == (3, 5, 3)
    floats = zk.Counter("/f", default=0.5)
    floats += 1.25
    assert floats.value == 1.75
    with pytest.raises(TypeError):
        counter += 1.5


def test_barrier_holds_waiters_until_removed(lab):
    zk, other = lab.client(), lab.client()
    barrier = zk.Barrier("/barrier")
    assert barrier.wait(timeout=0) is True  # not up: nothing to wait for
    barrier.create()
    waiter = other.Barrier("/barrier")
    assert waiter.wait(timeout=0.2) is False
    zk.set("/barrier", b"changed")  # another change fires the watch: the waiter waits on
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(waiter.wait(timeout=WAIT)))
    thread.start()
    assert barrier.remove() and not barrier.remove()
    thread.join(WAIT)
    assert results == [True]


def test_double_barrier_enters_together_and_leaves_together(lab):
    members = 3
    times: dict[str, list[float]] = {"enter": [], "entered": [], "leave": [], "left": []}
    guard = threading.Lock()

    def note(what: str) -> None:
        with guard:
            times[what].append(time.monotonic())

    def member(zk) -> None:
        barrier = zk.DoubleBarrier("/double", members)
        note("enter")
        assert barrier.enter(timeout=WAIT)
        note("entered")
        note("leave")
        assert barrier.leave(timeout=WAIT)
        note("left")

    clients = [lab.client() for _ in range(members)]
    threads = [threading.Thread(target=member, args=(zk,)) for zk in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 2)
    assert all(len(stamps) == members for stamps in times.values()), times
    assert max(times["enter"]) <= min(times["entered"]), "one entered before all arrived"
    assert max(times["leave"]) <= min(times["left"]), "one left before all were leaving"
    assert clients[0].get_children("/double") == []  # `ready` went with the last one


def test_a_double_barrier_that_times_out_leaves_no_member_behind(lab):
    zk = lab.client()
    barrier = zk.DoubleBarrier("/double", 2)
    assert barrier.enter(timeout=0.2) is False
    assert not barrier.participating and zk.get_children("/double") == []


def test_party_members_join_leave_and_go_with_their_session(lab):
    zk, other = lab.client(), lab.client()
    mine, theirs = zk.Party("/party", "me"), other.Party("/party", "them")
    assert len(mine) == 0 and list(mine) == []
    mine.join()
    theirs.join()
    mine.join()  # idempotent
    assert len(mine) == 2 and sorted(mine) == ["me", "them"]
    assert mine.leave() and not mine.leave()
    assert list(theirs) == ["them"]
    other.stop()
    assert list(mine) == [] and not theirs.participating
