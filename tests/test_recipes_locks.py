"""Lock, ReadLock/WriteLock, Semaphore and Election against real coord-server
processes, with contenders in other processes that are killed or paused."""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from coord_api.paths import basename
from coord_client import KazooState
from coord_client.exceptions import ConnectionLoss, LockTimeout, NoNodeError
from coord_client.recipes import CancelledError, Lock, TreeEvent
from tests.recipe_client import SHORT_SESSION, WAIT, Lab


@pytest.fixture
def lab(server) -> Iterator[Lab]:
    with Lab(server.address) as made:
        yield made


def children_event(zk, path: str) -> threading.Event:
    """Set on the next change of `path`'s children."""
    changed = threading.Event()
    zk.get_children(path, watch=lambda event: changed.set())
    return changed


# ---------------------------------------------------------------- Lock


def run_counting(lab: Lab, workers: int = 4, cycles: int = 50, midway=None) -> list[list[str]]:
    """`workers` processes each increment a counter `cycles` times under one
    lock, with a plain read and set; `midway()` runs once a quarter is done.
    Returns each worker's `done` fields; the count must be exact."""
    zk = lab.client()
    zk.create("/lock-count", b"0 0")
    started = [lab.worker("lock-count", "/lock", cycles) for _ in range(workers)]
    if midway is not None:
        for _ in range(workers * cycles // 4):
            lab.expect_any("progress", timeout=30)
        midway()
    done = [worker.expect("done", timeout=60) for worker in started]
    assert [worker.wait() for worker in started] == [0] * workers
    count, _ = zk.get("/lock-count")[0].split()
    assert int(count) == workers * cycles, "increments were lost: the lock let two in"
    assert zk.get_children("/lock") == [], "a contender node was left behind"
    return done


def test_the_lock_keeps_four_processes_from_losing_increments(lab):
    run_counting(lab)


def test_the_lock_stays_exclusive_when_the_leader_is_killed(cluster_factory):
    """The holder, a TreeCache and a Config of a client of the leader live
    through its death: the lock is never given away, the cache and the view
    catch up with what changed meanwhile."""
    cluster = cluster_factory(3)
    leader = cluster.leader()
    with Lab(cluster.hosts) as lab:
        first = [cluster.members[leader].address] + [
            m.address for i, m in cluster.members.items() if i != leader
        ]
        holder = lab.client(hosts=",".join(first), randomize_hosts=False)
        held = holder.Lock("/held")
        held.acquire(timeout=WAIT)
        seen: queue.Queue[tuple[KazooState, bool]] = queue.Queue()
        holder.add_listener(lambda state: seen.put((state, held.is_acquired)))
        cache = holder.TreeCache("/lock-count")
        cached: queue.Queue[TreeEvent] = queue.Queue()
        cache.listen(cached.put)
        cache.start()
        views: queue.Queue[dict] = queue.Queue()
        holder.Config("/cfg").on_change(views.put)

        def midway() -> None:
            cluster.members[leader].kill()
            lab.client().Config("/cfg").update({"k": b"while the leader was down"})

        done = run_counting(lab, midway=midway)

        assert seen.get(timeout=WAIT) == (KazooState.SUSPENDED, False)
        assert seen.get(timeout=WAIT) == (KazooState.CONNECTED, True)
        assert held.check() and held.is_acquired
        assert all(same == ["1"] for same in done), f"a session was lost: {done}"
        held.release()
        assert views.get(timeout=WAIT) == {"k": b"while the leader was down"}
        final = holder.get("/lock-count")[0]
        kinds = set()
        while (node := cache.get_data("/lock-count")) is None or node.data != final:
            kinds.add(cached.get(timeout=WAIT).event_type)  # behind: wait for its next event
        kinds |= {event.event_type for event in cached.queue}
        assert {TreeEvent.CONNECTION_SUSPENDED, TreeEvent.CONNECTION_RECONNECTED} <= kinds


def test_a_killed_holders_lock_passes_on_with_a_greater_fencing_token(lab):
    holder = lab.worker("lock-hold", "/lock", timeout=SHORT_SESSION)
    token, node = holder.expect("acquired")
    zk = lab.client()
    lock = zk.Lock("/lock", "waiter")
    assert not lock.acquire(blocking=False)
    with pytest.raises(LockTimeout):
        lock.acquire(timeout=0.3)
    assert zk.get_children("/lock") == [basename(node)], "a failed attempt left its node"
    assert lock.contenders() == [f"pid-{holder.proc.pid}"]

    holder.kill()
    assert lock.acquire(timeout=WAIT), "the lock was not freed when its holder's session ended"
    assert lock.fencing_token is not None and lock.fencing_token > int(token)
    assert lock.is_acquired and lock.contenders() == ["waiter"]
    assert lock.release()
    assert zk.get_children("/lock") == []
    assert lock.fencing_token is None and not lock.release()


def test_a_paused_holder_is_told_it_lost_the_lock_and_deletes_nothing(lab):
    holder = lab.worker("lock-hold", "/lock", timeout=SHORT_SESSION)
    token, _ = holder.expect("acquired")
    lock = lab.client().Lock("/lock", "next")
    holder.signal(signal.SIGSTOP)  # a GC pause longer than the session timeout
    assert lock.acquire(timeout=WAIT)
    holder.signal(signal.SIGCONT)
    assert holder.expect("lost") == ["0", "None"]  # not acquired, no token any more
    assert holder.expect("released") == ["1"]
    assert lock.client.exists(lock.node_path) is not None, "the old holder deleted our node"
    assert lock.fencing_token > int(token) and lock.check()
    lock.release()


def test_a_write_fenced_by_the_lock_node_fails_once_the_lock_is_gone(lab):
    zk = lab.client()
    zk.create("/resource")
    lock = zk.Lock("/lock")
    lock.acquire()
    node = lock.node_path

    def fenced_write(value: bytes) -> list:
        transaction = zk.transaction()
        transaction.check(node, 0)
        transaction.set_data("/resource", value)
        return transaction.commit()

    assert fenced_write(b"held")[0] is True
    lock.release()
    assert isinstance(fenced_write(b"late")[0], NoNodeError)
    assert zk.get("/resource")[0] == b"held"


class LossyClient:
    """A client whose chosen calls apply and then report ConnectionLoss, as
    when a connection breaks before the reply comes."""

    def __init__(self, zk) -> None:
        self._zk = zk
        self.lose: set[str] = set()

    def __getattr__(self, name: str):
        call = getattr(self._zk, name)
        if name not in self.lose:
            return call

        def lossy(*args, **kwargs):
            self.lose.discard(name)
            call(*args, **kwargs)
            raise ConnectionLoss("the reply was lost")

        return lossy


def test_a_create_whose_reply_was_lost_leaves_no_second_node(lab):
    zk = lab.client()
    lossy = LossyClient(zk)
    lossy.lose = {"create", "delete"}
    lock = Lock(lossy, "/lock", "me")
    assert lock.acquire(timeout=WAIT)
    assert len(zk.get_children("/lock")) == 1
    assert lock.fencing_token == zk.exists(lock.node_path).czxid
    assert lock.release()
    assert zk.get_children("/lock") == []


def test_cancel_ends_a_pending_acquire_and_removes_its_node(lab):
    zk = lab.client()
    holder = zk.Lock("/lock", "holder")
    holder.acquire()
    waiter = lab.client().Lock("/lock", "waiter")
    failures: queue.Queue[BaseException] = queue.Queue()

    def wait() -> None:
        try:
            waiter.acquire(timeout=WAIT)
        except BaseException as exc:
            failures.put(exc)

    queued = children_event(zk, "/lock")
    thread = threading.Thread(target=wait)
    thread.start()
    assert queued.wait(WAIT), "the waiter never made its node"
    waiter.cancel()
    thread.join(WAIT)
    assert isinstance(failures.get_nowait(), CancelledError)
    assert holder.contenders() == ["holder"]
    holder.release()
    assert waiter.acquire(timeout=WAIT)  # the object can be used again
    waiter.release()


def test_readers_share_the_lock_and_writers_wait_in_turn(lab):
    a, b, c = lab.client(), lab.client(), lab.client()
    first, second = a.ReadLock("/rw", "r1"), b.ReadLock("/rw", "r2")
    assert first.acquire(timeout=WAIT) and second.acquire(timeout=WAIT)
    writer = c.WriteLock("/rw", "w")
    assert not writer.acquire(blocking=False)

    queued = children_event(a, "/rw")
    got = threading.Thread(target=writer.acquire, kwargs={"timeout": WAIT})
    got.start()
    assert queued.wait(WAIT)
    late = a.ReadLock("/rw", "r3")
    assert not late.acquire(blocking=False), "a reader overtook a waiting writer"
    assert first.contenders() == ["r1", "r2", "w"]
    first.release()
    second.release()
    got.join(WAIT)
    assert writer.is_acquired
    writer.release()
    assert late.acquire(timeout=WAIT)
    late.release()


# ----------------------------------------------------------- Semaphore


def test_the_semaphore_admits_max_leases_holders_and_no_more(lab):
    clients = [lab.client() for _ in range(5)]
    one, two, three = (
        zk.Semaphore("/sem", f"s{i}", max_leases=2) for i, zk in enumerate(clients[:3])
    )
    assert one.acquire(timeout=WAIT) and two.acquire(timeout=WAIT)
    assert not three.acquire(blocking=False)
    assert sorted(one.lease_holders()) == ["s0", "s1"]
    with pytest.raises(TypeError):
        clients[3].Semaphore("/sem", 2)  # max_leases only by keyword (semaphore.py)
    with pytest.raises(ValueError, match="max leases"):
        clients[3].Semaphore("/sem", max_leases=3).acquire()
    one.release()
    assert three.acquire(timeout=WAIT)
    two.release()
    three.release()

    inside, most, guard = 0, 0, threading.Lock()

    def cycle(zk) -> None:
        nonlocal inside, most
        semaphore = zk.Semaphore("/sem", max_leases=2)
        for _ in range(8):
            with semaphore:
                with guard:
                    inside += 1
                    most = max(most, inside)
                assert semaphore.is_acquired
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=cycle, args=(zk,)) for zk in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert 1 <= most <= 2, f"{most} holders at once"
    assert clients[0].get_children("/sem") == []


# ------------------------------------------------------------ Election


def test_one_leader_at_a_time_and_a_new_one_when_its_session_ends(lab):
    zk = lab.client()
    workers = [lab.worker("elect", "/election", f"c{i}", timeout=SHORT_SESSION) for i in range(3)]
    by_name = dict(zip([f"c{i}" for i in range(3)], workers, strict=True))
    watcher = zk.Election("/election")
    zk.ensure_path("/election")
    arrived: queue.Queue[list[str]] = queue.Queue()
    zk.ChildrenWatch("/election", arrived.put)
    while len(arrived.get(timeout=WAIT)) < 3:
        pass
    order = watcher.contenders()
    assert sorted(order) == ["c0", "c1", "c2"]

    terms = []  # (worker, entered, left)
    leader, (entered,) = lab.expect_any("enter")
    assert leader is by_name[order[0]]
    leader.send("resign")
    (left,) = leader.expect("exit")
    terms.append((leader, float(entered), float(left)))
    assert leader.wait() == 0

    leader, (entered,) = lab.expect_any("enter")
    assert leader is by_name[order[1]]
    killed = time.monotonic()
    leader.kill()  # its session ends only when it expires
    terms.append((leader, float(entered), killed))

    leader, (entered,) = lab.expect_any("enter")
    assert leader is by_name[order[2]]
    leader.send("resign")
    (left,) = leader.expect("exit")
    terms.append((leader, float(entered), float(left)))
    assert leader.wait() == 0  # released, and gone

    for (_, _, end), (_, start, _) in zip(terms, terms[1:], strict=False):
        assert start >= end, f"two leaders at once: {terms}"
    assert watcher.contenders() == []
