"""What the bench reads off processes and the machine: CPU time and RSS from
/proc (so servers and load generators are charged separately), the cores,
the disk's fsync latency that bounds every acknowledged write and the CPU
it takes, and what waking a sleeping process costs (every hop of a request
one at a time wakes one)."""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, all its threads; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size of a running process."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent not idle (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / TICKS


@dataclass
class CpuSplit:
    """CPU seconds of the servers, of the load generators and of everything
    else on the machine over one measured interval."""

    wall_s: float
    server_s: float
    client_s: float
    other_s: float

    def as_dict(self) -> dict[str, float]:
        """Seconds, and percent of one core, so a saturated side stands out."""
        wall = max(self.wall_s, 1e-9)
        return {
            "wall_s": round(self.wall_s, 3),
            "server_cpu_s": round(self.server_s, 3),
            "client_cpu_s": round(self.client_s, 3),
            "other_cpu_s": round(self.other_s, 3),
            "server_pct": round(100 * self.server_s / wall, 1),
            "client_pct": round(100 * self.client_s / wall, 1),
            "other_pct": round(100 * self.other_s / wall, 1),
        }

    def per_op(self, ops: int) -> dict[str, float | None]:
        """CPU microseconds per request (all servers; all load generators):
        the cost, steadier than ops/s when other work shares the machine."""
        return {
            "server_us_per_op": round(self.server_s / ops * 1e6, 1) if ops else None,
            "client_us_per_op": round(self.client_s / ops * 1e6, 1) if ops else None,
        }


class CpuMeter:
    """Samples the CPU time of two groups of processes (their PIDs may change
    between samples: a killed member is counted up to the first sample, a new
    one from its start)."""

    def __init__(
        self, servers: Callable[[], Iterable[int]], clients: Callable[[], Iterable[int]]
    ) -> None:
        self._servers, self._clients = servers, clients
        self._start: tuple[float, dict[int, float], dict[int, float], float] | None = None

    @staticmethod
    def _sample(pids: Iterable[int]) -> dict[int, float]:
        return {pid: t for pid in pids if (t := cpu_seconds(pid)) is not None}

    def start(self) -> None:
        self._start = (
            time.monotonic(),
            self._sample(self._servers()),
            self._sample(self._clients()),
            machine_busy_seconds(),
        )

    def stop(self) -> CpuSplit:
        assert self._start is not None, "start() first"
        began, servers0, clients0, busy0 = self._start
        servers1, clients1 = self._sample(self._servers()), self._sample(self._clients())
        busy = machine_busy_seconds() - busy0

        def used(before: dict[int, float], after: dict[int, float]) -> float:
            return sum(t - before.get(pid, 0.0) for pid, t in after.items())

        server, client = used(servers0, servers1), used(clients0, clients1)
        return CpuSplit(time.monotonic() - began, server, client, max(0.0, busy - server - client))


def fsync_latency_ms(directory: Path, rounds: int = 200) -> dict[str, float]:
    """Median and p99 of a 100-byte append + fsync: the floor under every
    acknowledged write of both systems (each fsyncs before it acknowledges);
    and the CPU each takes in the caller (the file system's work, paid on
    the cores the servers share)."""
    times = []
    cpu_began = time.thread_time()  # the fsyncs' work runs in this thread
    with tempfile.NamedTemporaryFile(dir=directory) as f:
        for _ in range(rounds):
            os.write(f.fileno(), b"x" * 100)
            began = time.perf_counter()
            os.fsync(f.fileno())
            times.append(time.perf_counter() - began)
    cpu = time.thread_time() - cpu_began
    times.sort()
    return {
        "median_ms": round(statistics.median(times) * 1000, 3),
        "p99_ms": round(times[int(len(times) * 0.99)] * 1000, 3),
        "cpu_us": round(cpu / rounds * 1e6, 1),
    }


# The sleeper of wake_latency_us: echoes on the listening socket whose file
# descriptor it is handed.
_ECHO = """
import socket, sys
listener = socket.socket(fileno=int(sys.argv[1]))
conn, _ = listener.accept()
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while data := conn.recv(64):
    conn.sendall(data)
"""


def wake_latency_us(rounds: int = 2000) -> dict[str, float | int | None]:
    """Round trips of 64 bytes over loopback TCP to a process that sleeps
    in recv between them: what a hop costs when the process it reaches is
    asleep (each member and client is, between the hops of a request one
    at a time). On a virtual machine whose idle cores halt, the wake of a
    halted core is most of it."""
    times = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        echo = subprocess.Popen(
            [sys.executable, "-c", _ECHO, str(listener.fileno())], pass_fds=(listener.fileno(),)
        )
        try:
            with socket.create_connection(listener.getsockname()) as conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for _ in range(rounds):
                    began = time.perf_counter()
                    conn.sendall(b"x" * 64)
                    received = 0
                    while received < 64:
                        data = conn.recv(64 - received)
                        if not data:
                            raise OSError("the echoing process for the wake measurement ended")
                        received += len(data)
                    times.append(time.perf_counter() - began)
        finally:
            echo.kill()
            echo.wait()
    times.sort()
    return {
        "rtt_p50_us": round(statistics.median(times) * 1e6, 1),
        "rtt_p90_us": round(times[int(len(times) * 0.9)] * 1e6, 1),
        "halt_poll_ns": _halt_poll_ns(),
    }


def _halt_poll_ns() -> int | None:
    """How long an idle core of a guest polls before it halts (None: not
    a guest with the haltpoll idle driver)."""
    try:
        return int(Path("/sys/module/haltpoll/parameters/guest_halt_poll_ns").read_text())
    except (OSError, ValueError):
        return None


def machine_info(data_dir: Path) -> dict[str, object]:
    """The facts a reader needs to compare two runs of the bench."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "fsync": fsync_latency_ms(data_dir),
        "wake": wake_latency_us(),
    }
