"""Concurrent reads, writes and version-checked writes from several clients,
recorded while members are killed and restarted, must form a linearizable
history (per key), as the linearizability checker judges it."""

from __future__ import annotations

import itertools
import random
import threading
import time

from coord_client import Client
from coord_client.exceptions import BadVersionError, CoordError
from tests.linearizability import Op, check

KEYS = ["/lin/a", "/lin/b", "/lin/c"]
CLIENTS = 4
OP_TIMEOUT = 10.0


class Recorder:
    """Runs one client's random operations and records what it saw."""

    def __init__(self, hosts: str, index: int, history: list[Op], stop: threading.Event):
        self.hosts = hosts
        self.index = index
        self.history = history
        self.stop = stop
        self.rng = random.Random(index)
        # A process whose op ended unknown issues no more (Jepsen's rule):
        # the next op belongs to a new logical client.
        self.logical = itertools.count(index * 1000)
        self.client_id = next(self.logical)
        self.values = itertools.count()

    def run(self) -> None:
        client = Client(hosts=self.hosts, timeout=10.0, linearizable_reads=True)
        client.start(timeout=30)
        try:
            while not self.stop.is_set():
                self.one_op(client)
        finally:
            client.stop()

    def one_op(self, client: Client) -> None:
        key = self.rng.choice(KEYS)
        kind = self.rng.choice(["read", "read", "write", "cas"])
        value = f"{self.index}-{next(self.values)}"
        arg = None
        started = time.monotonic()
        try:
            if kind == "read":
                data, stat = client.get_async(key).get(timeout=OP_TIMEOUT)
                result = (data.decode(), stat.version)
            elif kind == "write":
                arg = value
                result = client.set_async(key, value.encode()).get(timeout=OP_TIMEOUT).version
            else:
                expected = self.rng.randint(0, 6)
                arg = (expected, value)
                future = client.set_async(key, value.encode(), version=expected)
                result = future.get(timeout=OP_TIMEOUT).version
        except BadVersionError:
            result = "BadVersion"
        except (CoordError, TimeoutError):
            # The outcome is unknown: connection loss, a member killed mid-call.
            self.history.append(Op(self.client_id, started, None, kind, key, arg, None))
            self.client_id = next(self.logical)
            self.stop.wait(0.05)  # let the client reconnect before the next op
            return
        self.history.append(Op(self.client_id, started, time.monotonic(), kind, key, arg, result))


def test_history_under_member_kills_is_linearizable(cluster_factory):
    cluster = cluster_factory(3)
    setup = Client(hosts=cluster.hosts)
    setup.start(timeout=30)
    for key in KEYS:
        setup.create(key, b"init", makepath=True)
    setup.stop()
    history: list[Op] = []
    stop = threading.Event()
    recorders = [Recorder(cluster.hosts, i, history, stop) for i in range(CLIENTS)]
    threads = [threading.Thread(target=r.run) for r in recorders]
    for thread in threads:
        thread.start()
    try:
        for kill_leader in (True, False, True, False):  # the nemesis, paced by the clock
            leader = cluster.leader()
            victim = leader if kill_leader else next(i for i in cluster.members if i != leader)
            stop.wait(1.0)
            cluster.members[victim].kill()
            stop.wait(1.0)
            cluster.members[victim].start()
        stop.wait(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    completed = [op for op in history if op.ret is not None]
    assert len(completed) > 100, f"too few operations completed: {len(completed)}"
    unknown = len(history) - len(completed)
    result = check(history, initial=("init", 0))
    assert result.ok, f"not linearizable ({len(completed)} ok, {unknown} unknown):\n{result}"
    print(f"{len(completed)} operations completed, {unknown} with an unknown outcome")
