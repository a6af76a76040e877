"""What the recipe tests share: the Client (whose recipes are attributes,
kazoo's way), worker processes
(tests/recipe_worker.py) read line by line, and a `Lab` that stops every
client and process a test made."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from coord_client import Client

WAIT = 15.0  # seconds any expected step may take
SESSION = 10.0  # session timeout of clients that must survive fail-overs
SHORT_SESSION = 2.0  # session timeout of clients a test kills (the server's minimum)
ROOT = Path(__file__).resolve().parent.parent


class Worker:
    """One tests.recipe_worker process; its stdout lines are queued as they come."""

    def __init__(
        self,
        hosts: str,
        role: str,
        timeout: float,
        *args: object,
        sink: queue.Queue[tuple[Worker, str]] | None = None,
    ) -> None:
        self.role = role
        self._sink = sink
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.recipe_worker", role, hosts, str(timeout)]
            + [str(arg) for arg in args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def expect(self, word: str, timeout: float = WAIT) -> list[str]:
        """The fields after `word` on the next line that starts with it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None or line == "":
                ended = "ended" if line is None else f"said nothing for {timeout}s"
                pytest.fail(
                    f"worker {self.role} (pid {self.proc.pid}) {ended} before '{word}'; "
                    "its output:\n" + "\n".join(self.output)
                )
            fields = line.split()
            if fields and fields[0] == word:
                return fields[1:]

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signum)

    def kill(self) -> None:
        """SIGKILL: the process dies holding whatever it holds."""
        self.signal(signal.SIGKILL)
        self.proc.wait()

    def wait(self, timeout: float = WAIT) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker {self.role} did not exit; its output:\n" + "\n".join(self.output))

    def stop(self) -> None:
        self.signal(signal.SIGCONT)  # in case a test paused it
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.output.append(line)
            self._lines.put(line)
            if self._sink is not None:
                self._sink.put((self, line))
        self._lines.put(None)


class Lab:
    """Clients in this process and worker processes, all of one cluster;
    everything made is stopped when the lab closes."""

    def __init__(self, hosts: str) -> None:
        self.hosts = hosts
        self._clients: list[Client] = []
        self._workers: list[Worker] = []
        self._lines: queue.Queue[tuple[Worker, str]] = queue.Queue()  # every worker's

    def client(self, timeout: float = SESSION, hosts: str | None = None, **kwargs) -> Client:
        zk = Client(hosts or self.hosts, timeout=timeout, **kwargs)
        self._clients.append(zk)
        zk.start(timeout=WAIT)
        return zk

    def worker(self, role: str, *args: object, timeout: float = SESSION) -> Worker:
        worker = Worker(self.hosts, role, timeout, *args, sink=self._lines)
        self._workers.append(worker)
        return worker

    def expect_any(self, word: str, timeout: float = WAIT) -> tuple[Worker, list[str]]:
        """The next line of any worker that starts with `word`: (worker, fields after it)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                worker, line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                outputs = "\n".join(f"{w.role} {w.proc.pid}: {w.output}" for w in self._workers)
                pytest.fail(f"no worker said '{word}' within {timeout}s; outputs:\n{outputs}")
            fields = line.split()
            if fields and fields[0] == word:
                return worker, fields[1:]

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        for zk in self._clients:
            zk.stop()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
