"""One process of the normal load: a session with each member (coord_client),
a few requests in flight, a mix of creates, sets and gets on its own nodes,
from `start_at` to `until` (time.monotonic, the same clock in every process).

    python normal.py CONFIG_JSON     # writes its result to config["out"]

It says "ready" once its sessions are open, then reads one JSON line with
`start_at` and `until`, so that every process starts at one instant.

The result holds every request's completion time and latency (the run splits
them into phases) and every write acknowledged to it: each create's path and
value, and per key the highest value whose set was acknowledged (a key is
written through one session only, so its sets apply in the order sent).
"""

from __future__ import annotations

import base64
import functools
import json
import random
import sys
import threading
import time
from array import array
from typing import Any

from benchlib.worker import make_client

REPLY_PATIENCE = 60.0  # seconds without a free slot before the run gives up
KEYS = 20  # keys this process sets and gets, spread over its sessions
MIX = {"create": 2, "set": 2, "get": 6}  # weights of a request's kind


class Load:
    """The sessions of this process and what was acknowledged over them."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.root = f"{config['prefix']}/{config['name']}"
        self.sessions = [make_client("coord", host, {}) for host in config["hosts"]]
        for session in self.sessions:
            session.start(timeout=30)
        self.sessions[0].ensure_path(self.root)
        for k in range(KEYS):
            self.sessions[0].create(self.key(k), b"-1")
        self.created: dict[str, str] = {}  # path -> value, acknowledged
        self.set_to: dict[str, int] = {}  # key -> highest value acknowledged
        self.timings = array("d")  # (done, latency) pairs, seconds
        self.errors: list[str] = []
        self.failed_at = array("d")  # when each failed request was answered
        self.lock = threading.Lock()

    def key(self, k: int) -> str:
        return f"{self.root}/k{k:02d}"

    def run(self) -> None:
        config = self.config
        rng = random.Random(config["name"])
        window = threading.Semaphore(config["in_flight"])
        kinds, weights = list(MIX), list(MIX.values())

        def finish(kind: str, target: str, value: int, sent: float, result: Any) -> None:
            done = time.monotonic()
            with self.lock:
                if result.successful():
                    self.timings.extend((done, done - sent))
                    if kind == "create":
                        self.created[target] = str(value)
                    elif kind == "set":
                        self.set_to[target] = max(value, self.set_to.get(target, -1))
                else:
                    self.failed_at.append(done)
                    if len(self.errors) < 5:
                        self.errors.append(repr(result.exception))
            window.release()

        time.sleep(max(0.0, config["start_at"] - time.monotonic()))
        n = 0
        while time.monotonic() < config["until"]:
            if not window.acquire(timeout=REPLY_PATIENCE):
                raise TimeoutError(f"no reply for {REPLY_PATIENCE}s")
            n += 1
            kind = rng.choices(kinds, weights)[0]
            k = rng.randrange(KEYS)
            session = self.sessions[k % len(self.sessions)]
            if kind == "create":
                target = f"{self.root}/c{n}"
                future = session.create_async(target, str(n).encode())
            elif kind == "set":
                target = self.key(k)
                future = session.set_async(target, str(n).encode())
            else:
                target = self.key(k)
                future = session.get_async(target)
            future.rawlink(functools.partial(finish, kind, target, n, time.monotonic()))
        for _ in range(config["in_flight"]):
            if not window.acquire(timeout=REPLY_PATIENCE):
                raise TimeoutError(f"no reply for {REPLY_PATIENCE}s draining")

    def result(self) -> dict[str, Any]:
        return {
            "timings": base64.b64encode(self.timings.tobytes()).decode(),
            "failed_at": base64.b64encode(self.failed_at.tobytes()).decode(),
            "error_samples": self.errors,
            "created": self.created,
            "set_to": self.set_to,
        }

    def close(self) -> None:
        for session in self.sessions:
            session.stop()
            session.close()


def main() -> None:
    config = json.loads(sys.argv[1])
    load = Load(config)
    print("ready", flush=True)
    config.update(json.loads(sys.stdin.readline()))  # start_at and until
    try:
        load.run()
    finally:
        with open(config["out"], "w") as out:
            json.dump(load.result(), out)
        load.close()


if __name__ == "__main__":
    main()
