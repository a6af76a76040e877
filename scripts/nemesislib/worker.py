"""One client process of a nemesis run: a sequence of random operations
through the SDK, each written to the history file before it is sent and again
when it returns, so that a process SIGKILLed mid-call leaves a history whose
unfinished operation reads as an unknown outcome.

    python -m nemesislib.worker CONFIG_JSON

stdin drives it, one command a line: "stop" finishes the current operation
and prints "final SESSION" (0 when it has no session) while keeping the
session open for the end-of-run checks; "check" prints "alive SESSION" or
"lost SESSION" after a round trip on it; end of input closes the session.
"""

from __future__ import annotations

import functools
import itertools
import json
import queue
import random
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from coord_client import Client, KazooState
from coord_client.exceptions import (
    BadVersionError,
    CoordError,
    LockTimeout,
    NodeExistsError,
    NoNodeError,
)

REG_ROOT = "/reg"  # registers: read, write, version-checked write
SEQ_ROOT = "/seq"  # parents of sequential creates
EPH_ROOT = "/eph"  # ephemerals, one unique name each
LOCK_PATH = "/locks/l0"
OP_TIMEOUT = 10.0  # seconds: longer than the server's request timeout (6 s)
LOCK_WAIT = 3.0  # seconds an acquire waits before giving up (LockTimeout)
HOLD = (0.01, 0.2)  # seconds a lock is held
CONNECT_TIMEOUT = 30.0
# The operation mix, by weight.
MIX = {
    "read": 4,
    "write": 2,
    "cas": 2,
    "seq": 2,
    "eph-create": 1,
    "eph-delete": 1,
    "lock": 1,
}
# Errors that are answers: the operation definitely changed nothing.
ANSWERS = {BadVersionError: "BadVersion", NoNodeError: "NoNode", NodeExistsError: "NodeExists"}


def register_key(generation: int, index: int) -> str:
    """Registers are replaced by fresh ones every generation (a few seconds),
    as Jepsen rotates keys, so that each key's history stays short enough to
    check."""
    return f"{REG_ROOT}/g{generation:04d}/k{index}"


def seq_parent(index: int) -> str:
    return f"{SEQ_ROOT}/p{index}"


def lock_factory(client: Client) -> Callable[[str, str], Any] | None:
    """The SDK's Lock recipe (`client.Lock(path, identifier)` with a
    `fencing_token`, README "Recipes"), or None while coord_client.recipes does not provide it."""
    try:
        from coord_client import recipes
    except ImportError:
        return None
    if hasattr(client, "Lock"):
        return client.Lock
    if hasattr(recipes, "Lock"):
        return functools.partial(recipes.Lock, client)
    return None


class Worker:
    """The process's one client: a session, replaced when it is lost."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.name = f"{config['slot']}.{config['incarnation']}"
        self.rng = random.Random(f"{config['seed']}/{config['slot']}/{config['incarnation']}")
        self.history = open(config["history"], "a", buffering=1)  # noqa: SIM115 (lives as long)
        self.op_ids = itertools.count()
        self.values = itertools.count()
        self.commands: queue.Queue[str | None] = queue.Queue()
        self.stopping = threading.Event()
        self.client: Client | None = None
        self.session = 0
        self.ephemerals: list[str] = []  # acknowledged and not deleted, this session's
        self.versions: dict[str, int] = {}  # last version seen per register

    def record(self, **fields: Any) -> None:
        """One history line, written through before anything else happens."""
        self.history.write(json.dumps({**fields, "time": time.monotonic()}) + "\n")

    def read_commands(self) -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                self.stopping.set()
            self.commands.put(line.strip())
        self.stopping.set()
        self.commands.put(None)

    def connect(self) -> bool:
        """A new session; False if asked to stop before one was made."""
        while not self.stopping.is_set():
            client = Client(
                hosts=self.config["hosts"],
                timeout=self.config["session_timeout"],
                linearizable_reads=True,
            )
            try:
                client.start(timeout=CONNECT_TIMEOUT)
            except CoordError:
                continue
            client_id = client.client_id
            if client_id is None:  # lost again already
                client.stop()
                continue
            self.client, self.session, self.ephemerals = client, client_id[0], []
            self.record(t="session", id=self.session)
            return True
        return False

    def run(self) -> None:
        threading.Thread(target=self.read_commands, daemon=True).start()
        think = self.config["think_ms"] / 1000
        connected = self.connect()
        while connected and not self.stopping.is_set():
            assert self.client is not None
            if self.client.state is KazooState.LOST:
                self.record(t="lost", id=self.session)
                self.client.stop()
                self.client, self.session = None, 0
                connected = self.connect()
                continue
            self.one_op()
            self.stopping.wait(self.rng.uniform(0, 2 * think))
        alive = self.client is not None and self.client.state is not KazooState.LOST
        print(f"final {self.session if alive else 0}", flush=True)
        while (command := self.commands.get()) is not None:
            if command == "check":
                print(f"{'alive' if self.still_alive() else 'lost'} {self.session}", flush=True)
        if self.client is not None:
            self.client.stop()

    def still_alive(self) -> bool:
        """The session answered a write just now (sessions never come back, so
        it was alive all along)."""
        if self.client is None:
            return False
        try:
            self.client.sync_async("/").get(timeout=OP_TIMEOUT)
        except CoordError:
            return False
        return True

    def one_op(self) -> None:
        kinds = [
            k
            for k in MIX
            if (k != "eph-delete" or self.ephemerals) and (k != "lock" or self.config["locks"])
        ]
        kind = self.rng.choices(kinds, [MIX[k] for k in kinds])[0]
        if kind == "lock":
            self.lock_op()
            return
        value = f"{self.name}.{next(self.values)}"
        if kind in ("read", "write", "cas"):
            self.register_op(kind, value)
        elif kind == "seq":
            parent = seq_parent(self.rng.randrange(self.config["parents"]))
            self.call(
                kind,
                parent,
                value,
                lambda: self.client.create_async(f"{parent}/n-", value.encode(), sequence=True).get(
                    timeout=OP_TIMEOUT
                ),
            )
        elif kind == "eph-create":
            path = f"{EPH_ROOT}/{value}"
            result = self.call(
                kind,
                path,
                value,
                lambda: self.client.create_async(path, value.encode(), ephemeral=True).get(
                    timeout=OP_TIMEOUT
                ),
            )
            if result == path:
                self.ephemerals.append(path)
        else:
            path = self.ephemerals.pop(self.rng.randrange(len(self.ephemerals)))
            self.call(
                kind, path, None, lambda: self.client.delete_async(path).get(timeout=OP_TIMEOUT)
            )

    def register_op(self, kind: str, value: str) -> None:
        generation = int((time.monotonic() - self.config["t0"]) / self.config["generation_s"])
        generation = min(generation, self.config["generations"] - 1)
        key = register_key(generation, self.rng.randrange(self.config["keys"]))
        if kind == "read":

            def read() -> list[Any]:
                data, stat = self.client.get_async(key).get(timeout=OP_TIMEOUT)
                return [data.decode(), stat.version]

            result = self.call(kind, key, None, read)
            if isinstance(result, list):
                self.versions[key] = result[1]
            return
        if kind == "write":
            arg: Any = value
            version = -1
        else:  # mostly the version last seen, sometimes a stale or future one
            seen = self.versions.get(key, 0)
            version = max(0, seen + self.rng.choice((0, 0, 0, 0, -1, 1)))
            arg = [version, value]
        result = self.call(
            kind,
            key,
            arg,
            lambda: (
                self.client.set_async(key, value.encode(), version=version)
                .get(timeout=OP_TIMEOUT)
                .version
            ),
        )
        if isinstance(result, int):
            self.versions[key] = result

    def call(self, kind: str, key: str, arg: Any, fn: Callable[[], Any]) -> Any:
        """Run one operation and record it; its result, or None if unknown."""
        op = next(self.op_ids)
        self.record(t="invoke", op=op, kind=kind, key=key, arg=arg, session=self.session)
        try:
            result = fn()
        except tuple(ANSWERS) as answer:
            result = ANSWERS[type(answer)]
        except Exception as err:
            self.unknown(op, err)
            return None
        self.record(t="ok", op=op, result=result)
        return result

    def lock_op(self) -> None:
        """Acquire, hold a moment, release. The holder's acquire and release
        times and fencing token go to the history, and, when a linearizable
        read just before the release finds its lock node still there (same
        czxid), when that read was called: proof it held the lock until then."""
        op = next(self.op_ids)
        lock = lock_factory(self.client)(LOCK_PATH, self.name)
        self.record(t="invoke", op=op, kind="lock", key=LOCK_PATH, arg=None, session=self.session)
        try:
            got = lock.acquire(timeout=LOCK_WAIT)
        except LockTimeout:
            self.record(t="fail", op=op, error="LockTimeout")
            return
        except Exception as err:
            self.unknown(op, err)
            return
        if not got:
            self.record(t="fail", op=op, error="not acquired")
            return
        token, node = lock.fencing_token, lock.node_path
        self.record(t="acquired", op=op, token=token)
        time.sleep(self.rng.uniform(*HOLD))
        called = time.monotonic()
        try:
            stat = self.client.exists_async(node).get(timeout=OP_TIMEOUT) if node else None
        except CoordError:
            stat = None
        if stat is not None and stat.czxid == token:
            self.record(t="confirmed", op=op, called=called)
        self.record(t="releasing", op=op)
        try:
            released = lock.release()
        except Exception as err:
            self.unknown(op, err)
            return
        self.record(t="ok", op=op, result=released)

    def unknown(self, op: int, err: Exception) -> None:
        """An outcome the client cannot know: connection loss, a timeout, an
        expired session; any other exception is an SDK bug, reported as such."""
        if isinstance(err, CoordError):
            self.record(t="info", op=op, error=repr(err))
        else:
            self.record(t="info", op=op, error=repr(err), unexpected=True)


def main() -> None:
    Worker(json.loads(sys.argv[1])).run()


if __name__ == "__main__":
    main()
