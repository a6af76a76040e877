"""One request at a time: the latency a lock, an election hand-over or a
config push feels, which throughput under load does not show. One client,
one request in flight, the same calls on coord_client and kazoo, with every
session connected only to the leader's member, then only to a follower's
(a follower forwards writes, the leader does not). Warm-up rounds are run
first and left out of the figures."""

from __future__ import annotations

import contextlib
import threading
import time
from array import array
from collections.abc import Callable
from typing import Any

from benchlib.pool import RunResult
from benchlib.systems import System
from benchlib.worker import VALUE, make_client

PLACEMENTS = ("leader", "follower")
WORKLOADS = ("set", "get", "create_delete", "sync_get", "lock", "election", "config")
LATENCY_DIR = "/bench-latency"
HANDOVERS = 10  # election rounds are a tenth of the others: each starts a new session
SETTLE = 0.02  # seconds for the next contender to set its watch before the leader goes
PATIENCE = 30.0  # seconds to wait for a hand-over or a watch before giving up
Log = Callable[[str], None]
Round = Callable[[int], float]  # the i-th round: its latency in seconds


def warmup_rounds(rounds: int) -> int:
    return max(1, rounds // 10)


def timed(action: Callable[[int], Any]) -> Round:
    """A round that is one call of `action`, timed around it."""

    def round_(i: int) -> float:
        began = time.perf_counter()
        action(i)
        return time.perf_counter() - began

    return round_


def measured(round_: Round, rounds: int) -> RunResult:
    """`rounds` rounds after the warm-up ones, one at a time."""
    for i in range(warmup_rounds(rounds)):
        round_(-1 - i)
    latencies = [round_(i) for i in range(rounds)]
    return RunResult(rounds, 0, [], sum(latencies), array("d", sorted(latencies)))


class Contender:
    """One session contending in an Election; it leads until `retire`."""

    def __init__(self, session: Any, path: str, name: str) -> None:
        self.session = session
        self.election = session.Election(path, name)
        self.elected = threading.Event()
        self.at = 0.0  # perf_counter when it started to lead
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"contender-{name}", daemon=True)
        self._thread.start()

    def _lead(self) -> None:
        self.at = time.perf_counter()
        self.elected.set()
        self._done.wait()

    def _run(self) -> None:
        # releasing the lock of a closed session fails: leadership went with it
        with contextlib.suppress(Exception):
            self.election.run(self._lead)

    def wait_elected(self) -> None:
        if not self.elected.wait(PATIENCE):
            raise TimeoutError(f"no contender was elected within {PATIENCE:.0f}s")

    def retire(self) -> None:
        """Let `func` return once the session is closed; free the thread."""
        self.session.stop()
        self._done.set()
        self._thread.join(PATIENCE)
        self.session.close()


class Placement:
    """Sessions of one system connected only to `address`, and the rounds of
    each workload over them under `path`."""

    def __init__(self, system: System, address: str, path: str) -> None:
        self.system, self.address, self.path = system, address, path
        self.sessions: list[Any] = []

    def session(self) -> Any:
        client = make_client(self.system.kind, self.address, self.system.client_options())
        client.start(timeout=PATIENCE)
        self.sessions.append(client)
        return client

    def close(self) -> None:
        for client in self.sessions:
            with contextlib.suppress(Exception):
                client.stop()
                client.close()

    def simple(self, client: Any) -> dict[str, Round]:
        """The workloads of single calls (or two) on one session."""
        key, node = f"{self.path}/key", f"{self.path}/node"
        client.create(key, VALUE)
        lock = client.Lock(f"{self.path}/lock", "bench")

        def create_delete(i: int) -> None:
            client.create(node, VALUE)
            client.delete(node)

        def sync_get(i: int) -> None:
            client.sync(key)
            client.get(key)

        def lock_cycle(i: int) -> None:
            lock.acquire()
            lock.release()

        return {
            "set": timed(lambda i: client.set(key, VALUE)),
            "get": timed(lambda i: client.get(key)),
            "create_delete": timed(create_delete),
            "sync_get": timed(sync_get),
            "lock": timed(lock_cycle),
        }

    def config(self, client: Any) -> Round:
        """From the set of a new value to a DataWatch in another session
        seeing it (on coord as on ZooKeeper: kazoo has no Config recipe)."""
        path = f"{self.path}/config"
        client.create(path, b"")
        seen: dict[bytes, float] = {}
        changed = threading.Condition()

        def saw(data: bytes | None, stat: Any) -> None:
            at = time.perf_counter()
            with changed:
                if data is not None and data not in seen:
                    seen[data] = at
                    changed.notify_all()

        self.session().DataWatch(path, saw)

        def round_(i: int) -> float:
            value = str(i).encode()
            began = time.perf_counter()
            client.set(path, value)
            with changed:
                if not changed.wait_for(lambda: value in seen, PATIENCE):
                    raise TimeoutError(f"the watch did not see {value!r} within {PATIENCE:.0f}s")
                return seen[value] - began

        return round_

    def election(self) -> Round:
        """From the leader's session closing (the call to stop it) to the
        next contender's function running. The next one is queued first."""
        path = f"{self.path}/election"
        current = [Contender(self.session(), path, "first")]
        current[0].wait_elected()

        def round_(i: int) -> float:
            queued = Contender(self.session(), path, f"c{i}")
            waiting = 0.0
            while len(queued.election.contenders()) < 2:
                waiting += SETTLE
                if waiting > PATIENCE:
                    raise TimeoutError(f"the next contender did not queue in {PATIENCE:.0f}s")
                time.sleep(SETTLE)
            time.sleep(SETTLE)
            leader = current[0]
            began = time.perf_counter()
            leader.session.stop()
            queued.wait_elected()
            latency = queued.at - began
            leader.retire()
            self.sessions.remove(leader.session)
            current[0] = queued
            return latency

        return round_


def member_figures(system: System, member: int, path: str, rounds: int) -> dict[str, Any]:
    """Every workload with the sessions on `member` only."""
    place = Placement(system, system.address(member), path)
    figures: dict[str, Any] = {}
    try:
        client = place.session()
        client.ensure_path(path)
        runs = place.simple(client) | {
            "election": place.election(),
            "config": place.config(client),
        }
        for name in WORKLOADS:
            count = max(3, rounds // HANDOVERS) if name == "election" else rounds
            figures[name] = measured(runs[name], count).as_dict()
    finally:
        place.close()
    return figures


def measure(system: System, rounds: int, log: Log) -> dict[str, Any]:
    """Each workload on the leader's member, then on a follower's."""
    leader = system.leader()
    members = {"leader": leader, "follower": next(m for m in (1, 2, 3) if m != leader)}
    # A pass left out of the figures, on both members: with --latency the JVMs
    # have just started and would still be compiling during the first placement.
    log(f"{system.name}: one at a time, warm-up pass")
    for placement, member in members.items():
        member_figures(system, member, f"{LATENCY_DIR}/warm-up-{placement}", warmup_rounds(rounds))
    out: dict[str, Any] = {}
    for placement, member in members.items():
        path = f"{LATENCY_DIR}/{placement}"
        figures = member_figures(system, member, path, rounds)
        out[placement] = {"member": member, "workloads": figures}
        for name, w in figures.items():
            log(
                f"{system.name}: one at a time on the {placement} ({member}): {name} "
                f"p50 {w['p50_ms']:.2f} ms, p99 {w['p99_ms']:.2f} ms, max {w['max_ms']:.2f} ms"
            )
    out["leader_after"] = system.leader()  # the placements hold only if it did not move
    return out
