"""One load-generator process: a few sessions (coord_client, kazoo or the
bench's etcd client, the same calls on each), a fixed number of asynchronous requests in flight, and
the latency of every request, measured in its completion callback.

It is driven by the bench over stdin/stdout, one JSON object a line, so the
bench can start several (the GIL caps one process) and stop them by PID:

    {"op": "connect", "system": "coord", "hosts": [...], "name": "w0", "options": {}}
    {"op": "run", "workload": "set", "ops": 5000, "in_flight": 64, ...}
    {"op": "close"}
"""

from __future__ import annotations

import base64
import functools
import json
import os
import random
import sys
import threading
import time
import traceback
from array import array
from typing import Any

VALUE = b"v" * 100  # every value written is 100 bytes
WORKLOADS = ("create", "set", "get", "mix")
REPLY_PATIENCE = 60.0  # seconds without any reply before a run is abandoned


def make_client(system: str, host: str, options: dict[str, str]) -> Any:
    """A session with one member: coord_client's Client (with the TLS and ACL
    `options` of benchlib/security.py), kazoo's KazooClient or, for etcd, a
    gRPC channel (benchlib/etcd.py)."""
    if system == "coord":
        from benchlib.security import client_kwargs
        from coord_client import Client

        return Client(hosts=host, timeout=10.0, randomize_hosts=False, **client_kwargs(options))
    if system == "etcd":
        from benchlib.etcd import EtcdSession

        return EtcdSession([host])
    from kazoo.client import KazooClient

    return KazooClient(hosts=host, timeout=10.0)


class Worker:
    """The sessions of this process and the runs over them."""

    def __init__(self) -> None:
        self.sessions: list[Any] = []
        self.name = ""

    def connect(
        self, system: str, hosts: list[str], name: str, options: dict[str, str]
    ) -> dict[str, Any]:
        self.name = name
        for host in hosts:
            client = make_client(system, host, options)
            client.start(timeout=30)
            self.sessions.append(client)
        return {}

    def run(
        self,
        workload: str,
        ops: int,
        in_flight: int,
        start_at: float,
        prefix: str,
        keys: int = 1000,
        fanout: int = 1000,
        offset: int = 0,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Issue `ops` requests, never more than `in_flight` unanswered, from
        `start_at` (time.monotonic, the same clock in every process)."""
        if workload not in WORKLOADS:
            raise ValueError(f"unknown workload {workload}")
        rng = random.Random(seed)
        latencies = array("d")
        errors: list[str] = []  # the first few, to say what went wrong
        failed = [0]
        window = threading.Semaphore(in_flight)

        def finish(sent: float, result: Any) -> None:
            if result.successful():
                latencies.append(time.monotonic() - sent)
            else:
                failed[0] += 1
                if len(errors) < 5:
                    errors.append(repr(result.exception))
            window.release()

        def submit(session: Any, i: int) -> Any:
            if workload == "create":
                n = offset + i
                return session.create_async(f"{prefix}/d{n % fanout:03d}/{self.name}-{n}", VALUE)
            key = f"{prefix}/k{rng.randrange(keys):04d}"
            if workload == "get" or (workload == "mix" and rng.random() < 0.9):
                return session.get_async(key)
            return session.set_async(key, VALUE)

        time.sleep(max(0.0, start_at - time.monotonic()))
        began = time.monotonic()
        sessions = self.sessions
        for i in range(ops):
            if not window.acquire(timeout=REPLY_PATIENCE):
                raise TimeoutError(f"no reply for {REPLY_PATIENCE}s during {workload}")
            sent = time.monotonic()
            submit(sessions[i % len(sessions)], i).rawlink(functools.partial(finish, sent))
        for _ in range(in_flight):
            if not window.acquire(timeout=REPLY_PATIENCE):
                raise TimeoutError(f"no reply for {REPLY_PATIENCE}s draining {workload}")
        return {
            "start": began,
            "end": time.monotonic(),
            "done": len(latencies),
            "errors": failed[0],
            "error_samples": errors,
            "latencies": base64.b64encode(latencies.tobytes()).decode(),
        }

    def close(self) -> dict[str, Any]:
        for session in self.sessions:
            session.stop()
            session.close()
        self.sessions = []
        return {}


def main() -> None:
    """Answer each command line with one JSON line on the original stdout;
    anything else that prints goes to stderr (the bench's log file)."""
    # benchlib and tests.servers import as they do in scripts/bench
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [os.path.dirname(here), os.path.dirname(os.path.dirname(here))]
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray output, even from C code, goes to the log, not the bench
    sys.stdout = sys.stderr
    worker = Worker()
    commands = {"connect": worker.connect, "run": worker.run, "close": worker.close}
    for line in sys.stdin:
        command = json.loads(line)
        op = command.pop("op")
        try:
            reply = {"ok": True, **commands[op](**command)}
        except Exception:
            reply = {"ok": False, "error": traceback.format_exc()}
        replies.write(json.dumps(reply) + "\n")
        if op == "close":
            break


if __name__ == "__main__":
    main()
