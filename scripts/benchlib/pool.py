"""The bench's side of the load generators: start N worker processes, spread
their sessions over all members, start every run at one instant, merge the
latencies, and stop the processes by PID."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORKER = Path(__file__).resolve().with_name("worker.py")
START_DELAY = 0.1  # seconds for every worker to read its command before the start


@dataclass
class RunResult:
    """One workload as the clients saw it."""

    ops: int
    errors: int
    error_samples: list[str]
    seconds: float
    latencies: array  # seconds, sorted

    def percentile_ms(self, q: float) -> float | None:
        """The q-quantile (nearest rank); None when nothing succeeded."""
        if not self.latencies:
            return None
        rank = min(len(self.latencies) - 1, int(q * len(self.latencies)))
        return round(self.latencies[rank] * 1000, 3)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ops": self.ops,
            "errors": self.errors,
            "error_samples": self.error_samples,
            "seconds": round(self.seconds, 3),
            "ops_per_s": round(self.ops / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": self.percentile_ms(0.50),
            "p99_ms": self.percentile_ms(0.99),
            "max_ms": self.percentile_ms(1.0),
        }


class WorkerPool:
    """`count` load-generator processes (scripts/benchlib/worker.py)."""

    def __init__(self, count: int, log_dir: Path) -> None:
        self.procs: list[subprocess.Popen] = []
        for i in range(count):
            with open(log_dir / f"worker{i}.log", "a") as log:
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, str(WORKER)],  # by path: no search path to get right
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=log,
                        text=True,
                    )
                )
        self.log_dir = log_dir

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.poll() is None]

    def _call(
        self, commands: list[dict[str, Any]], started: Callable[[], None] | None = None
    ) -> list[dict[str, Any]]:
        """Send each worker its command, then collect every reply."""
        for proc, command in zip(self.procs, commands, strict=True):
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(command) + "\n")
            proc.stdin.flush()
        if started is not None:
            time.sleep(max(0.0, commands[0]["start_at"] - time.monotonic()))
            started()
        replies = []
        for i, proc in enumerate(self.procs):
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:  # its log goes with the data directory: quote it now
                log = (self.log_dir / f"worker{i}.log").read_text().splitlines()[-20:]
                raise RuntimeError(f"load generator {i} died:\n" + "\n".join(log))
            reply = json.loads(line)
            if not reply.pop("ok"):
                raise RuntimeError(f"load generator {i} failed:\n{reply['error']}")
            replies.append(reply)
        return replies

    def connect(
        self, system: str, addresses: list[str], sessions: int, options: dict[str, str]
    ) -> None:
        """Each worker opens `sessions` sessions of the `system` kind (with
        coord's TLS and ACL `options`); consecutive sessions go to
        consecutive members, so every member serves its share."""
        commands = []
        for i in range(len(self.procs)):
            hosts = [addresses[(i * sessions + s) % len(addresses)] for s in range(sessions)]
            commands.append(
                {
                    "op": "connect",
                    "system": system,
                    "hosts": hosts,
                    "name": f"w{i}",
                    "options": options,
                }
            )
        self._call(commands)

    def run(
        self,
        workload: str,
        total_ops: int,
        in_flight: int,
        started: Callable[[], None] | None = None,
        **params: Any,
    ) -> RunResult:
        """`total_ops` split over the workers, all starting at the same instant;
        `started` is called at that instant (to start measuring CPU time)."""
        start_at = time.monotonic() + START_DELAY
        count = len(self.procs)
        commands = [
            {
                "op": "run",
                "workload": workload,
                "ops": total_ops // count + (i < total_ops % count),
                "in_flight": in_flight,
                "start_at": start_at,
                "seed": zlib.crc32(f"{workload}/{params.get('offset', 0)}/{i}".encode()),
                **params,
            }
            for i in range(count)
        ]
        replies = self._call(commands, started)
        latencies = array("d")
        for reply in replies:
            latencies.frombytes(base64.b64decode(reply["latencies"]))
        return RunResult(
            ops=sum(r["done"] for r in replies),
            errors=sum(r["errors"] for r in replies),
            error_samples=[e for r in replies for e in r["error_samples"]][:5],
            seconds=max(r["end"] for r in replies) - min(r["start"] for r in replies),
            latencies=array("d", sorted(latencies)),
        )

    def close(self) -> None:
        """Ask every worker to close its sessions and exit; SIGKILL by PID any
        that has not within 10 s (one stuck in a run, say, after Ctrl-C)."""
        for proc in self.procs:
            with contextlib.suppress(OSError, ValueError):  # already gone
                assert proc.stdin is not None
                proc.stdin.write(json.dumps({"op": "close"}) + "\n")
                proc.stdin.close()
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
