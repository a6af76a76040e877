"""A recipe user in its own process, for the recipe tests:
`python -m tests.recipe_worker ROLE HOSTS SESSION_TIMEOUT ARGS...`.

It reports on stdout, one line per fact (`WORD value...`), and takes orders
on stdin where a role waits for one. The parent (tests/recipe_client.py)
reads the lines; a role never sleeps to synchronise.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable

from coord_client import Client
from coord_client.recipes import Config, Counter, Election, Lock, LockingQueue

FENCING_VIOLATION = 3  # exit code: a holder saw a token not above the last one


def say(*words: object) -> None:
    print(*words, flush=True)


def order() -> str:
    """The next line the parent sends (empty once it closed stdin)."""
    return sys.stdin.readline().strip()


def lock_count(zk: Client, path: str, cycles: str) -> None:
    """Read-increment-write `<path>-count` under the lock, with a plain set:
    only the lock keeps increments from being lost. The count node also
    holds the last holder's fencing token, which the next holder checks,
    the way a fenced resource would."""
    session = zk.client_id
    lock = Lock(zk, path, identifier=f"pid-{os.getpid()}")
    counter = f"{path}-count"
    for cycle in range(int(cycles)):
        with lock:
            data, _ = zk.get(counter)
            count, last_token = (int(field) for field in data.split())
            if not lock.is_acquired and not lock.check():
                raise SystemExit("the lock was lost while held")
            token = lock.fencing_token
            if token is None or token <= last_token:
                say("fencing-violation", token, last_token)
                raise SystemExit(FENCING_VIOLATION)
            zk.set(counter, f"{count + 1} {token}".encode())
        say("progress", cycle + 1)
    say("done", int(zk.client_id == session))


def lock_hold(zk: Client, path: str) -> None:
    """Hold the lock until the session is lost (or the process is killed)."""
    lock = Lock(zk, path, identifier=f"pid-{os.getpid()}")
    lock.acquire()
    say("acquired", lock.fencing_token, lock.node_path)
    lock.lost.wait()
    say("lost", int(lock.is_acquired), lock.fencing_token)
    say("released", int(lock.release()))


def elect(zk: Client, path: str, identifier: str) -> None:
    """Contend; as leader say when leadership began, and when it ended on order."""
    election = Election(zk, path, identifier)

    def lead() -> None:
        say("enter", time.monotonic())
        order()  # resign when told
        say("exit", time.monotonic())

    say("contending")
    election.run(lead)


def count(zk: Client, path: str, times: str) -> None:
    counter = Counter(zk, path)
    for _ in range(int(times)):
        counter += 1
    say("done")


def consume(zk: Client, path: str, hold_first: str) -> None:
    """Take items from a LockingQueue and consume them; with `hold_first`,
    take one item and then hang on to it (until killed)."""
    queue = LockingQueue(zk, path)
    while True:
        item = queue.get()
        assert item is not None
        if hold_first == "1":
            say("holding", item.decode())
            order()
            return
        queue.consume()
        say("consumed", item.decode())


def config_watch(zk: Client, path: str) -> None:
    """Show the configuration now and after every change."""
    config = Config(zk, path, codec=json)

    def show(values: dict) -> None:
        say("view", config.version, json.dumps(values, sort_keys=True, separators=(",", ":")))

    config.on_change(show)
    show(dict(config))
    order()


ROLES: dict[str, Callable[..., None]] = {
    "lock-count": lock_count,
    "lock-hold": lock_hold,
    "elect": elect,
    "count": count,
    "consume": consume,
    "config-watch": config_watch,
}


def main() -> None:
    role, hosts, timeout, *args = sys.argv[1:]
    zk = Client(hosts, timeout=float(timeout))
    zk.start()
    say("started", zk.client_id[0] if zk.client_id else 0)
    try:
        ROLES[role](zk, *args)
    finally:
        zk.stop()


if __name__ == "__main__":
    main()
