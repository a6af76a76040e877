"""One flood run: a 3-member cluster on loopback, the normal load through
quiet, flood and after phases, the hostile clients during the flood, each
member's RSS sampled throughout, then every acknowledged write read back
from every member."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
from benchlib.procs import CpuMeter, machine_info, rss_bytes

from coord.member.limits import Limits
from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from coord_client import Client
from floodlib import report
from floodlib.hostile import KINDS
from tests.servers import Cluster

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PREFIX = "/flood"  # the hostile clients' nodes
NORMAL = "/normal"  # the normal load's
BUSY_NODES = 50
HOSTILE_GRACE = 15.0  # seconds past the flood a hostile process may take to report
NORMAL_GRACE = 90.0  # past the run, for the normal load's last replies and result
READ_BATCH = 256  # read-back requests in flight per member


@dataclass(frozen=True)
class Settings:
    quiet_s: float
    flood_s: float
    after_s: float
    normal_processes: int
    in_flight: int  # the normal load's, per process
    sessions: int  # the session opener's cap
    noread_streams: int
    noread_reads: int  # reads of the big node sent on each unread stream
    busy_writes_per_s: float
    watches: int  # the watch setter's cap, per member
    pipeline_requests: int  # per member
    round_s: float  # between rounds of oversized and nested requests
    big_bytes: int  # the node the unread streams and the pipeliner read
    session_timeout_ms: int  # the hostile sessions'
    sample_s: float  # between RSS samples
    rss_bound_mib: int
    limits: Limits = field(default_factory=Limits)
    server_args: tuple[str, ...] = ()
    kinds: tuple[str, ...] = tuple(KINDS)


class RssSampler:
    """Each member's RSS every `period` seconds, on a thread, until stopped."""

    def __init__(self, pids: dict[int, int], period: float) -> None:
        self.pids, self.period = pids, period
        self.samples: list[tuple[float, int, int]] = []  # (time, member, bytes)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            now = time.monotonic()
            for member, pid in self.pids.items():
                with contextlib.suppress(OSError):  # it died: reported by the run
                    self.samples.append((now, member, rss_bytes(pid)))
            self.done.wait(self.period)

    def stop(self) -> list[tuple[float, int, int]]:
        self.done.set()
        self.thread.join()
        return self.samples


def child_env() -> dict[str, str]:
    """The repository and scripts/ first, as scripts/flood imports them."""
    paths = [str(ROOT), str(ROOT / "scripts"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def stop_process(proc: subprocess.Popen, patience: float) -> bool:
    """Wait for it; SIGKILL by PID if it takes longer. True if it ended by itself."""
    try:
        proc.wait(max(0.0, patience))
        return True
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return False


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait for the block's end: a child started in it is
    recorded before the run unwinds, so it is stopped with the rest."""
    caught: list[int] = []
    kept = {
        signum: signal.signal(signum, lambda signum, _frame: caught.append(signum))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in kept.items():
            signal.signal(signum, handler)
    for signum in caught:
        signal.raise_signal(signum)  # to the handler it was meant for


def wait_for_output(procs: list[subprocess.Popen], until: float) -> None:
    """Until each process has printed something (or ended), or `until`."""
    with selectors.DefaultSelector() as selector:
        for proc in procs:
            selector.register(proc.stdout, selectors.EVENT_READ)
        while selector.get_map() and (left := until - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                selector.unregister(key.fileobj)


class FloodRun:
    """The cluster and the processes of one run; `stop` ends all of them."""

    def __init__(self, settings: Settings, workdir: Path, log: Callable[[str], None]) -> None:
        self.settings, self.workdir, self.log = settings, workdir, log
        self.cluster = Cluster.create(workdir / "cluster", 3, *settings.server_args, timeouts=[])
        self.procs: list[subprocess.Popen] = []

    def spawn(self, args: list[str], name: str, **kwargs: Any) -> subprocess.Popen:
        with signals_deferred(), open(self.workdir / f"{name}.log", "w") as log:
            proc = subprocess.Popen(
                [sys.executable, *args], stdout=subprocess.PIPE, stderr=log, text=True,
                env=child_env(), **kwargs,
            )  # fmt: skip
            self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        self.cluster.stop()

    def hosts(self) -> list[str]:
        return [m.address for m in self.cluster.members.values()]

    def prepare(self) -> None:
        s = self.settings
        client = Client(hosts=",".join(self.hosts()), timeout=10.0)
        client.start(timeout=30)
        try:
            client.create(f"{PREFIX}/big", b"b" * s.big_bytes, makepath=True)
            for sub in ("over", "deep", "w"):
                client.create(f"{PREFIX}/{sub}")
            for i in range(BUSY_NODES):
                client.create(f"{PREFIX}/busy/n{i:02d}", b"", makepath=True)
            client.create(NORMAL)
        finally:
            client.stop()
            client.close()

    def execute(self) -> dict[str, Any]:
        s = self.settings
        began = time.monotonic()
        self.log("starting a 3-member cluster")
        self.cluster.start()
        self.cluster.leader()
        self.prepare()
        pids = {i: m.pid for i, m in self.cluster.members.items()}
        sampler = RssSampler(pids, s.sample_s)
        results_dir = self.workdir / "normal"
        results_dir.mkdir()
        normal = []
        for i in range(s.normal_processes):
            config = {
                "name": f"n{i}", "hosts": self.hosts(), "prefix": NORMAL,
                "in_flight": s.in_flight, "out": str(results_dir / f"n{i}.json"),
            }  # fmt: skip
            normal.append(
                self.spawn([str(HERE / "normal.py"), json.dumps(config)], f"normal{i}",
                           stdin=subprocess.PIPE)
            )  # fmt: skip
        for proc in normal:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a normal load process did not start (see its log)")
        t0 = time.monotonic() + 0.2
        bounds = {
            "quiet": (t0, t0 + s.quiet_s),
            "flood": (t0 + s.quiet_s, t0 + s.quiet_s + s.flood_s),
            "after": (t0 + s.quiet_s + s.flood_s, t0 + s.quiet_s + s.flood_s + s.after_s),
        }
        schedule = json.dumps({"start_at": t0, "until": bounds["after"][1]})
        for proc in normal:
            assert proc.stdin is not None
            proc.stdin.write(schedule + "\n")
            proc.stdin.close()
        self.log(f"quiet phase: {s.quiet_s:g}s of the normal load alone")
        meter = CpuMeter(lambda: pids.values(), self.client_pids)
        cpu = {"quiet": self.metered(meter, t0, bounds["flood"][0])}
        self.log(f"flood phase: {s.flood_s:g}s, hostile clients: {', '.join(s.kinds)}")
        meter.start()
        end = bounds["flood"][1]
        hostile = {kind: self.start_hostile(kind, end) for kind in s.kinds if kind != "sessions"}
        wait_for_output(list(hostile.values()), end)
        if "sessions" in s.kinds:  # the rest have their sessions: now take all there are
            hostile["sessions"] = self.start_hostile("sessions", end)
        time.sleep(max(0.0, end - time.monotonic()))
        cpu["flood"] = meter.stop().as_dict()
        self.log(f"after phase: {s.after_s:g}s of the normal load alone")
        meter.start()
        hostile_reports = self.collect_hostile(hostile, end)
        cpu["after"] = self.metered(meter, None, bounds["after"][1])
        clean = [stop_process(p, bounds["after"][1] + NORMAL_GRACE - time.monotonic())
                 for p in normal]  # fmt: skip
        samples = sampler.stop()
        if not all(clean):
            raise RuntimeError("a normal load process did not finish (see its log)")
        loads = [json.loads((results_dir / f"n{i}.json").read_text()) for i in range(len(normal))]
        self.log("reading every acknowledged write back from every member")
        lost = self.read_back(loads)
        return {
            "settings": asdict(s),
            "phases": report.phases(loads, bounds),
            "cpu": cpu,
            "rss": report.rss(samples, bounds, s.rss_bound_mib),
            "hostile": hostile_reports,
            "members": self.member_status(),
            "acknowledged": report.acknowledged(loads),
            "lost": lost,
            "seconds": round(time.monotonic() - began, 1),
        }

    def client_pids(self) -> list[int]:
        """The normal load's and the hostile clients' processes now running."""
        return [proc.pid for proc in self.procs if proc.poll() is None]

    @staticmethod
    def metered(meter: CpuMeter, start: float | None, end: float) -> dict[str, float]:
        """The CPU split from `start` (None: started already) to `end`, time.monotonic."""
        if start is not None:
            time.sleep(max(0.0, start - time.monotonic()))
            meter.start()
        time.sleep(max(0.0, end - time.monotonic()))
        return meter.stop().as_dict()

    def start_hostile(self, kind: str, until: float) -> subprocess.Popen:
        s = self.settings
        config = {
            "hosts": self.hosts(), "until": until, "prefix": PREFIX,
            "session_timeout_ms": s.session_timeout_ms, "limits": asdict(s.limits),
            **{k: getattr(s, k) for k in (
                "sessions", "noread_streams", "noread_reads", "busy_writes_per_s",
                "watches", "pipeline_requests", "round_s",
            )},
        }  # fmt: skip
        return self.spawn([str(HERE / "hostile.py"), kind, json.dumps(config)], f"hostile-{kind}")

    def collect_hostile(
        self, hostile: dict[str, subprocess.Popen], until: float
    ) -> dict[str, dict[str, Any]]:
        """Each hostile process's report; one that has not reported by the
        end of the flood and a grace period is SIGKILLed and said to be."""
        reports = {}
        for kind, proc in hostile.items():
            by_itself = stop_process(proc, until + HOSTILE_GRACE - time.monotonic())
            assert proc.stdout is not None
            lines = [line for line in proc.stdout.read().splitlines() if line != "armed"]
            reports[kind] = json.loads(lines[-1]) if lines else {"kind": kind}
            reports[kind]["ended"] = "by itself" if by_itself else "SIGKILLed at the deadline"
        return reports

    def read_back(self, loads: list[dict[str, Any]]) -> dict[str, Any]:
        """Every acknowledged create (its value) and set (its value or a later
        one) on every member, read there once it has applied all the leader
        had applied; what is missing or wrong, per member."""
        expected: list[tuple[str, Callable[[bytes], bool]]] = []
        for load in loads:
            for path, value in load["created"].items():
                expected.append((path, lambda data, v=value: data.decode() == v))
            for path, value in load["set_to"].items():
                expected.append((path, lambda data, v=value: int(data.decode()) >= v))
        leader = self.cluster.leader()
        zxid = self.cluster.own_status(leader).applied_zxid
        lost: dict[str, Any] = {}
        for member_id, member in self.cluster.members.items():
            missing: list[str] = []
            with grpc.insecure_channel(member.address) as channel:
                stub = client_pb2_grpc.CoordStub(channel)
                for start in range(0, len(expected), READ_BATCH):
                    batch = expected[start : start + READ_BATCH]
                    futures = [
                        stub.GetData.future(pb.GetDataRequest(path=p, min_zxid=zxid), timeout=30)
                        for p, _ in batch
                    ]
                    for (path, fits), future in zip(batch, futures, strict=True):
                        try:
                            if not fits(future.result().data):
                                missing.append(f"{path}: another value")
                        except grpc.RpcError as exc:
                            missing.append(f"{path}: {exc.code().name} {exc.details()}")
            lost[str(member_id)] = {"count": len(missing), "samples": missing[:5]}
        return {"checked": len(expected), "at_zxid": zxid, "by_member": lost}

    def member_status(self) -> dict[str, dict[str, Any]]:
        """Each member's own counters at the end (a field this build lacks is left out)."""
        fields = ("sessions", "znodes", "applied_zxid", "most_in_flight", "unread_streams_cut")
        status = {}
        for member_id in self.cluster.members:
            own = self.cluster.own_status(member_id)
            status[str(member_id)] = {
                f: getattr(own, f) for f in fields if f in pb.MemberStatus.DESCRIPTOR.fields_by_name
            }
        return status


def run(settings: Settings, workdir: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """The whole run and its report; every process started is stopped by PID."""
    machine = machine_info(workdir)
    flood = FloodRun(settings, workdir, log)
    try:
        result = flood.execute()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup short
        flood.stop()
    machine["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    result["machine"] = machine
    result["goals"] = report.goals(result)
    return result
