"""One nemesis client: a worker process (nemesislib.worker) with its history
file, its log, and its stdout lines read on a thread."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """One client process: its history file, its log, and its stdout lines."""

    def __init__(self, slot: int, incarnation: int, config: dict[str, Any], workdir: Path):
        self.name = f"{slot}.{incarnation}"
        self.slot, self.incarnation = slot, incarnation
        self.history = workdir / "history" / f"{self.name}.jsonl"
        self.log = workdir / "logs" / f"client-{self.name}.log"
        config = {**config, "slot": slot, "incarnation": incarnation, "history": str(self.history)}
        paths = [str(ROOT), str(ROOT / "scripts"), os.environ.get("PYTHONPATH", "")]
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "nemesislib.worker", json.dumps(config)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)},
            )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.died_at: float | None = None  # when it was killed or found dead
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.strip())
        self.lines.put(None)

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except OSError:
            pass  # it is gone: the caller finds out by waiting for its answer

    def answer(self, timeout: float) -> str | None:
        """Its next stdout line, or None (it ended, or said nothing in time)."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def kill(self) -> None:
        """SIGKILL by PID and reap; its session is left to expire."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.died_at = time.monotonic()

    def close(self) -> None:
        """End of input: it closes its session and exits."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.close()
            self.proc.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()

    def log_tail(self, lines: int = 20) -> tuple[str, ...]:
        return tuple(self.log.read_text().splitlines()[-lines:])

    def history_tail(self, lines: int = 6) -> tuple[str, ...]:
        return tuple(self.history.read_text().splitlines()[-lines:])
