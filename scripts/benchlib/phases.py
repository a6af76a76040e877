"""The measurements, run the same way on each system: the four workloads,
one request at a time (benchlib/latency.py), the write gap after the leader
is SIGKILLed, RSS per znode, and the time a member holding those znodes takes
to serve again after a restart (etcd, the optional third system, gets the
four workloads only)."""

from __future__ import annotations

import functools
import itertools
import os
import statistics
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib import latency
from benchlib.pool import WorkerPool
from benchlib.procs import CpuMeter, rss_bytes
from benchlib.systems import System, wait_for
from benchlib.worker import VALUE, WORKLOADS

KEYS = 1000  # set, get and mix pick uniformly among this many 100-byte znodes
FANOUT = 1000  # created znodes are spread over this many parents, as a real tree is
KV_DIR, CREATE_DIR, MEM_DIR, FAILOVER_DIR = "/bench-kv", "/bench-new", "/bench-mem", "/bench-fo"
WRITERS = 3  # fail-over writer sessions: the gap is the pause in the writes of them all
Log = Callable[[str], None]
ONLY_COORD_AND_ZK = "measured on coord and ZooKeeper only"
ONE_AT_A_TIME = (
    "measured on coord (session port, gRPC stream), its ZooKeeper door and ZooKeeper only"
)


@dataclass
class Settings:
    ops: int  # per workload, over all processes
    processes: int
    sessions: int  # per process
    in_flight: int  # per process
    znodes: int  # for the memory and restart figures
    failover_tries: int
    latency_ops: int | None = None  # rounds of each one-at-a-time workload; None: skipped
    latency_only: bool = False  # --latency: nothing else


def create_all(client: Any, paths: list[str], value: bytes = b"") -> None:
    """Create many znodes from one session, a few hundred requests in flight."""
    for i in range(0, len(paths), 256):
        for result in [client.create_async(p, value) for p in paths[i : i + 256]]:
            result.get(timeout=60)


def started_client(system: System) -> Any:
    client = system.client(system.addresses())
    client.start(timeout=30)
    return client


def stopped(client: Any) -> None:
    client.stop()
    client.close()


def workloads(system: System, s: Settings, work_dir: Path, log: Log) -> dict[str, Any]:
    """create, set, get and the 90/10 get/set mix, each with its CPU split."""
    client = started_client(system)
    try:
        for parent in (KV_DIR, CREATE_DIR):
            client.create(parent)
        create_all(client, [f"{KV_DIR}/k{k:04d}" for k in range(KEYS)], VALUE)
        create_all(client, [f"{CREATE_DIR}/d{d:03d}" for d in range(FANOUT)])
    finally:
        stopped(client)
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        pool = WorkerPool(s.processes, work_dir)
        stack.callback(pool.close)
        pool.connect(system.kind, system.addresses(), s.sessions, system.client_options())
        meter = CpuMeter(system.server_pids, pool.pids)
        log(f"{system.name}: warm-up ({max(1, s.ops // 10)} mixed ops)")
        pool.run("mix", max(1, s.ops // 10), s.in_flight, prefix=KV_DIR, keys=KEYS)
        for workload in WORKLOADS:
            params: dict[str, Any] = {"prefix": KV_DIR, "keys": KEYS}
            if workload == "create":
                params = {"prefix": CREATE_DIR, "fanout": FANOUT}
            before = system.counters()
            run = pool.run(workload, s.ops, s.in_flight, started=meter.start, **params)
            cpu = meter.stop()
            results[workload] = {**run.as_dict(), "cpu": cpu.as_dict() | cpu.per_op(run.ops)}
            log(f"{system.name}: {workload} {describe(results[workload])}")
            if before is not None:
                results[workload]["traffic"] = traffic(before, system.counters(), run.ops)
                log(f"{system.name}: {workload} {describe_traffic(results[workload]['traffic'])}")
    return results


def describe(figure: dict[str, Any]) -> str:
    """One progress line for a workload's result."""
    cpu = figure["cpu"]
    errors = f" ({figure['error_samples'][0]}, ...)" if figure["errors"] else ""
    return (
        f"{figure['ops_per_s']:,.0f} ops/s, p50 {figure['p50_ms']:.1f} ms, "
        f"p99 {figure['p99_ms']:.1f} ms, max {figure['max_ms']:.1f} ms, "
        f"{figure['errors']} errors{errors}; CPU server {cpu['server_pct']:.0f}% "
        f"client {cpu['client_pct']:.0f}% other {cpu['other_pct']:.0f}% of a core"
    )


def traffic(before: dict[str, int], after: dict[str, int], ops: int) -> dict[str, float]:
    """What the members' counters say about a run: how many requests share a
    frame each way, how many commands share a log slot, and how many peer
    frames and disk syncs each request costs (summed over the members). A
    frame, not a request, is what costs gRPC its tens of microseconds."""
    grew = {name: after[name] - before[name] for name in after}
    return {
        "requests_per_client_frame": round(grew["requests"] / max(grew["client_frames_in"], 1), 2),
        "requests_per_frame_back": round(ops / max(grew["client_frames_out"], 1), 2),
        "commands_per_slot": round(grew["commands_applied"] / max(grew["slots_applied"], 1), 2),
        "peer_frames_per_request": round(grew["peer_frames_out"] / max(ops, 1), 4),
        "syncs_per_request": round(grew["disk_syncs"] / max(ops, 1), 4),
    }


def describe_traffic(traffic: dict[str, float]) -> str:
    return (
        f"{traffic['requests_per_client_frame']:.1f} requests per client frame, "
        f"{traffic['requests_per_frame_back']:.1f} per frame back, "
        f"{traffic['commands_per_slot']:.1f} commands per slot, "
        f"{traffic['peer_frames_per_request']:.3f} peer frames and "
        f"{traffic['syncs_per_request']:.3f} syncs per request"
    )


def write_loop(client: Any, path: str, acks: list[float], stop: threading.Event) -> None:
    """One write at a time; the time of every acknowledgement."""
    n = 0
    while not stop.is_set():
        n += 1
        try:
            client.set_async(path, str(n).encode()).get(timeout=10)
        except Exception:  # connection loss, timeouts: the gap is what we measure
            time.sleep(0.005)
            continue
        acks.append(time.monotonic())


def acked_since(acks: list[float], moment: float) -> bool:
    return bool(acks) and acks[-1] > moment


def longest_pause(acks: list[float], since: float) -> float:
    """The longest time without any acknowledgement from `since` on: replies
    to writes committed just before the kill may still arrive after it, so
    the first ack after the kill does not mark the end of the pause."""
    times = sorted(a for a in acks if a >= since)
    return max(b - a for a, b in itertools.pairwise(times))


def failover(system: System, tries: int, log: Log) -> dict[str, Any]:
    """The pause in acknowledged writes of three sessions (each connected to
    any member) when the leader is SIGKILLed, measured on the writes of all
    three: the service's unavailability, not one client's reconnect luck. The
    killed member is restarted before the next try."""
    meter = CpuMeter(system.server_pids, lambda: [os.getpid()])
    meter.start()
    gaps: list[float] = []
    clients = [started_client(system) for _ in range(WRITERS)]
    try:
        clients[0].create(FAILOVER_DIR)
        create_all(clients[0], [f"{FAILOVER_DIR}/w{i}" for i in range(WRITERS)])
        for attempt in range(1, tries + 1):
            acks: list[float] = []
            stop = threading.Event()
            writers = [
                threading.Thread(target=write_loop, args=(c, f"{FAILOVER_DIR}/w{i}", acks, stop))
                for i, c in enumerate(clients)
            ]
            for writer in writers:
                writer.start()
            try:
                time.sleep(1.0)
                leader = system.leader()
                killed_at = time.monotonic()
                system.kill(leader)
                system.leader()  # the survivors agree on a new one
                resumed = functools.partial(acked_since, acks, time.monotonic())
                wait_for(resumed, 120, "writes did not resume after a new leader was elected")
                time.sleep(0.5)
            finally:
                stop.set()
                for writer in writers:
                    writer.join()
            gap = longest_pause(acks, killed_at - 0.5)
            gaps.append(gap)
            log(
                f"{system.name}: fail-over {attempt}/{tries}: leader {leader} killed, "
                f"writes paused {gap * 1000:.0f} ms"
            )
            system.restart(leader)
    finally:
        for client in clients:
            stopped(client)
    return {
        "tries": tries,
        "gaps_ms": [round(g * 1000, 1) for g in gaps],
        "median_ms": round(statistics.median(gaps) * 1000, 1),
        "cpu": meter.stop().as_dict(),
    }


def steady_rss(system: System) -> list[int]:
    """Each member's RSS once it has stopped moving for a second (at most
    10 s): after a full GC the JVM hands memory back to the OS gradually."""
    last = [rss_bytes(pid) for pid in system.server_pids()]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = [rss_bytes(pid) for pid in system.server_pids()]
        if all(abs(a - b) < 2**20 for a, b in zip(now, last, strict=True)):
            return now
        last = now
    return last


def memory(system: System, s: Settings, work_dir: Path, log: Log) -> dict[str, Any]:
    """RSS of every member before and after `s.znodes` creates of 100 bytes,
    spread over FANOUT parents; MEM_DIR/last is written after all of them.
    Both RSS samples follow a full GC on the JVMs (the live-heap figure needs
    one), so neither side counts garbage not yet collected. A few failed
    creates (a loaded machine times some out) are tolerated and left out of
    the count; more than 1% fail the phase."""
    client = started_client(system)
    try:
        client.create(MEM_DIR)
        create_all(client, [f"{MEM_DIR}/d{d:03d}" for d in range(FANOUT)])
        heap_before = system.live_heap_bytes()
        before = steady_rss(system)
        with ExitStack() as stack:
            pool = WorkerPool(s.processes, work_dir)
            stack.callback(pool.close)
            pool.connect(system.kind, system.addresses(), s.sessions, system.client_options())
            meter = CpuMeter(system.server_pids, pool.pids)
            chunks = 10 if s.znodes >= 100_000 else 1  # progress lines on long fills
            created = failed = 0
            seconds = 0.0
            samples: list[str] = []
            for k in range(chunks):
                count = s.znodes // chunks + (k < s.znodes % chunks)
                params = {"prefix": MEM_DIR, "fanout": FANOUT, "offset": k * s.znodes}
                started = meter.start if k == 0 else None
                run = pool.run("create", count, s.in_flight, started=started, **params)
                created += run.ops
                failed += run.errors
                seconds += run.seconds
                samples = (samples + run.error_samples)[:5]
                log(f"{system.name}: {created:,}/{s.znodes:,} znodes created, {failed} failed")
                if failed > s.znodes // 100:
                    raise RuntimeError(f"{failed} creates failed filling the tree: {samples}")
            cpu = meter.stop().as_dict()
        client.create(f"{MEM_DIR}/last", VALUE)
        heap_after = system.live_heap_bytes()
        after = steady_rss(system)
    finally:
        stopped(client)
    per_znode = (sum(after) - sum(before)) / (len(after) * created)
    log(f"{system.name}: RSS {per_znode:,.0f} bytes per znode per member")
    figures = {
        "znodes": created,  # acknowledged; a failed create may still have applied
        "failed_creates": failed,
        "failed_samples": samples,
        "rss_before_mib": [round(b / 2**20, 1) for b in before],
        "rss_after_mib": [round(a / 2**20, 1) for a in after],
        "bytes_per_znode": round(per_znode, 1),
        "create_ops_per_s": round(created / seconds, 1),
        "cpu": cpu,
    }
    if heap_before and heap_after:
        live = (sum(heap_after) - sum(heap_before)) / (len(heap_after) * created)
        figures["live_heap_bytes_per_znode"] = round(live, 1)
        log(f"{system.name}: live Java heap {live:,.0f} bytes per znode per member")
    return figures


def restart(system: System, znodes: int, log: Log) -> dict[str, Any]:
    """SIGKILL a follower holding the tree, then time it from exec until it
    answers a read of the last znode written."""
    leader = system.leader()
    member = next(m for m in (1, 2, 3) if m != leader)
    system.kill(member)
    meter = CpuMeter(system.server_pids, lambda: [os.getpid()])
    meter.start()
    ready, seconds = system.restart_until_serving(member, f"{MEM_DIR}/last", timeout=1800)
    cpu = meter.stop().as_dict()
    log(
        f"{system.name}: member {member} with {znodes:,} znodes ready after {ready:.2f} s, "
        f"served a read after {seconds:.2f} s"
    )
    return {
        "znodes": znodes,
        "member": member,
        "ready_s": round(ready, 3),
        "seconds": round(seconds, 3),
        "cpu": cpu,
    }


def measure(system: System, s: Settings, work_dir: Path, log: Log, figures: dict) -> None:
    """Every figure for one running system, into `figures` as each is taken
    (a phase that fails keeps the earlier ones), in an order where no
    measurement disturbs the next: sessions are closed before members are killed."""
    figures["version"] = system.version
    skipped = figures.setdefault("skipped", {})
    if s.latency_only:
        skipped["workloads"] = "--latency"
    else:
        figures["workloads"] = workloads(system, s, work_dir, log)
    if not system.one_at_a_time or s.latency_ops is None:
        skipped["latency"] = ONE_AT_A_TIME if not system.one_at_a_time else "--no-latency"
    else:
        figures["latency"] = latency.measure(system, s.latency_ops, log)
    rest = "--latency" if s.latency_only else ONLY_COORD_AND_ZK if system.only_workloads else ""
    if rest:
        skipped |= dict.fromkeys(("failover", "memory", "restart"), rest)
        return
    figures["failover"] = failover(system, s.failover_tries, log)
    figures["memory"] = memory(system, s, work_dir, log)
    figures["restart"] = restart(system, s.znodes, log)
