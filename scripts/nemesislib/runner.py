"""One nemesis run: a cluster with fault injection on, client worker
processes recording their histories, the seeded schedule of faults, then
heal, converge and check.

The end of a run, in order (each step needs the one before):
1. every fault is healed: links and clocks cleared, paused members
   continued, killed ones restarted; the clients run on for `recovery` s;
2. the workers stop issuing operations and report the session they hold;
3. ephemerals of sessions no worker holds (killed workers, lost sessions)
   must vanish within a few session timeouts;
4. the members converge: equal state digests at equal zxids after a sync;
5. the final tree is read (linearizable reads), and each worker's session is
   confirmed alive after it (an ephemeral of such a session must be there);
6. the workers close their sessions: every ephemeral must go, and the
   members converge again;
7. the histories are checked against the final tree.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from coord.wire import admin_pb2, admin_pb2_grpc
from coord_client import Client
from nemesislib import checks, history, observe
from nemesislib.checks import Anomaly, Tree
from nemesislib.report import report
from nemesislib.schedule import Fault, MemberFaults, make_schedule, member_faults
from nemesislib.worker import (
    EPH_ROOT,
    HOLD,
    LOCK_PATH,
    LOCK_WAIT,
    OP_TIMEOUT,
    lock_factory,
    register_key,
    seq_parent,
)
from nemesislib.workers import WorkerProcess
from tests.servers import Cluster, ServerProcess

TICK = 0.05  # seconds between looks at the schedule
STOP_PATIENCE = OP_TIMEOUT + LOCK_WAIT + HOLD[1] + 15  # a worker's last operation, and more


@dataclass(frozen=True)
class Settings:
    seed: int
    size: int
    clients: int
    duration: float
    keys: int  # registers per generation
    parents: int  # parents of sequential creates
    generation_s: float  # registers are replaced by fresh ones this often
    heartbeat_ms: int
    election_timeout_ms: int
    session_timeout: float
    think_ms: float  # mean pause between a worker's operations
    recovery: float  # seconds the clients run on after the heal
    faults: tuple[str, ...]
    workdir: Path | None
    keep: bool
    report: Path | None
    replay: str  # the command that replays this run's schedule


class Run:
    """The cluster, the workers and the faults of one run, and what it found."""

    def __init__(self, settings: Settings, workdir: Path) -> None:
        s = self.settings = settings
        self.workdir = workdir
        self.schedule = make_schedule(
            s.seed,
            s.size,
            s.duration,
            s.clients,
            pause_floor=max(2 * s.election_timeout_ms / 1000, s.session_timeout),
            kinds=s.faults,
        )
        for sub in ("history", "logs"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        self.cluster = Cluster.create(
            workdir / "cluster",
            s.size,
            "--enable-fault-injection",
            "--min-session-timeout-ms",
            str(int(min(2000, s.session_timeout * 1000))),
            timeouts=[
                "--heartbeat-ms",
                str(s.heartbeat_ms),
                "--election-timeout-ms",
                str(s.election_timeout_ms),
            ],
        )
        self.anomalies: list[Anomaly] = []
        self.injected: Counter[str] = Counter()
        self.workers: dict[int, WorkerProcess] = {}  # slot -> its current process
        self.every_worker: list[WorkerProcess] = []
        self.config: dict[str, Any] = {}  # what every worker is started with
        self.lock_skipped = ""
        self.zxid = 0  # where the members converged
        self.history = history.History()
        self.down: set[int] = set()  # killed by the nemesis
        self.paused: set[int] = set()
        self.active: list[Fault] = []
        self.applied = {m: MemberFaults() for m in self.cluster.members}
        self.channels = {
            m: grpc.insecure_channel(p.address) for m, p in self.cluster.members.items()
        }
        self.nemesis_log = (workdir / "nemesis.log").open("w")
        self.t0 = 0.0
        self.healed_at = self.stopped_at = 0.0  # seconds into the run

    # ------------------------------------------------------------ the run

    def execute(self) -> None:
        s = self.settings
        self.log(f"schedule: {len(self.schedule)} faults")
        for fault in self.schedule:
            self.nemesis_log.write(f"planned {fault.describe()}\n")
        self.cluster.start()
        self.cluster.leader()
        generations = int((s.duration + s.recovery + STOP_PATIENCE) / s.generation_s) + 1
        self.prepare_tree(generations)
        self.t0 = time.monotonic()
        self.config = {
            "hosts": self.cluster.hosts,
            "seed": s.seed,
            "t0": self.t0,
            "keys": s.keys,
            "parents": s.parents,
            "generation_s": s.generation_s,
            "generations": generations,
            "session_timeout": s.session_timeout,
            "think_ms": s.think_ms,
            "locks": not self.lock_skipped,
        }
        for slot in range(s.clients):
            self.start_worker(slot, 0)
        self.inject_faults()
        self.heal()
        self.healed_at = time.monotonic() - self.t0
        self.log(f"healed; clients run on for {s.recovery:.0f}s")
        self.watch(until=time.monotonic() + s.recovery)
        self.finish()

    def prepare_tree(self, generations: int) -> None:
        """The registers of every generation, the parents, the lock's path."""
        client = Client(hosts=self.cluster.hosts, timeout=10.0)
        client.start(timeout=30)
        try:
            if lock_factory(client) is None:
                self.lock_skipped = (
                    "lock workload skipped: coord_client.recipes has no Lock recipe yet"
                )
            paths = [
                register_key(g, k) for g in range(generations) for k in range(self.settings.keys)
            ]
            futures = [client.create_async(p, b"init", makepath=True) for p in paths]
            futures += [
                client.create_async(seq_parent(i), makepath=True)
                for i in range(self.settings.parents)
            ]
            futures += [
                client.create_async(EPH_ROOT),
                client.create_async(LOCK_PATH, makepath=True),
            ]
            for future in futures:
                future.get(timeout=60)
        finally:
            client.stop()

    def start_worker(self, slot: int, incarnation: int) -> None:
        worker = WorkerProcess(slot, incarnation, self.config, self.workdir)
        self.workers[slot] = worker
        self.every_worker.append(worker)

    def inject_faults(self) -> None:
        """Follow the schedule until the run's duration is up."""
        pending = list(self.schedule)
        end = self.t0 + self.settings.duration
        while time.monotonic() < end:
            now = time.monotonic() - self.t0
            while pending and pending[0].start <= now:
                self.begin(pending.pop(0))
            for fault in [f for f in self.active if f.end <= now]:
                self.end(fault)
            self.reconcile()
            self.watch(until=min(time.monotonic() + TICK, end))

    def begin(self, fault: Fault) -> None:
        self.injected[fault.kind] += 1
        self.log(fault.describe())
        if fault.kind == "client-kill":
            worker = self.workers[fault.client]
            worker.kill()
            self.start_worker(worker.slot, worker.incarnation + 1)
            return
        if fault.kind == "kill":
            self.cluster.members[fault.members[0]].kill()
            self.down.add(fault.members[0])
        elif fault.kind == "pause":
            self.cluster.members[fault.members[0]].signal(signal.SIGSTOP)
            self.paused.add(fault.members[0])
        self.active.append(fault)

    def end(self, fault: Fault) -> None:
        self.active.remove(fault)
        if fault.kind == "kill":
            self.restart(fault.members[0])
        elif fault.kind == "pause":
            self.cluster.members[fault.members[0]].signal(signal.SIGCONT)
            self.paused.discard(fault.members[0])

    def restart(self, member_id: int) -> None:
        """Start a killed (or crashed) member again; a new process has no faults."""
        member = self.cluster.members[member_id]
        self.save_output(member_id, member)
        try:
            member.start()
        except RuntimeError as err:
            lines = tuple(str(err).splitlines()[-20:])
            self.anomalies.append(Anomaly("member failed to restart", f"member {member_id}", lines))
            time.sleep(1.0)
            member.start()
        self.down.discard(member_id)
        self.applied[member_id] = MemberFaults()

    def reconcile(self) -> bool:
        """Bring every reachable member's links and clock to what the faults in
        force say; True when every member is there."""
        wanted = member_faults(self.active, self.settings.size)
        settled = True
        for member_id, want in wanted.items():
            if self.applied[member_id] == want:
                continue
            settled = False
            if member_id in self.down or member_id in self.paused:
                continue  # a paused member would act on a stale call when continued
            faults = admin_pb2.Faults(
                links=[
                    admin_pb2.LinkFault(peer=peer, blocked=blocked, drop=drop, delay_ms=delay)
                    for peer, blocked, drop, delay in want.links
                ],
                clock_offset_s=want.clock_offset_s,
                clock_rate=want.clock_rate,
            )
            try:
                admin_pb2_grpc.AdminStub(self.channels[member_id]).SetFaults(
                    faults,
                    timeout=2,
                    metadata=self.cluster.members[member_id].admin_metadata("SetFaults"),
                )
            except grpc.RpcError:
                continue  # tried again on the next tick
            self.applied[member_id] = want
        return settled

    def watch(self, until: float) -> None:
        """Wait, noticing members and workers that died without being killed."""
        while True:
            for member_id, member in self.cluster.members.items():
                if member_id not in self.down and member.proc and member.proc.poll() is not None:
                    self.anomalies.append(
                        Anomaly(
                            "member exited by itself",
                            f"member {member_id}, exit code {member.proc.returncode}",
                            tuple(member.output[-20:]),
                        )
                    )
                    self.restart(member_id)
            for slot, worker in list(self.workers.items()):
                if worker.died_at is None and worker.proc.poll() is not None:
                    worker.died_at = time.monotonic()
                    self.anomalies.append(
                        Anomaly(
                            "client process died",
                            f"worker {worker.name}, exit code {worker.proc.returncode}",
                            worker.log_tail(),
                        )
                    )
                    self.start_worker(slot, worker.incarnation + 1)
            left = until - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(TICK, left))

    def heal(self) -> None:
        """Clear every fault: continue, restart, reset links and clocks."""
        for fault in list(self.active):
            self.end(fault)
        deadline = time.monotonic() + 30
        while not self.reconcile():
            if time.monotonic() > deadline:
                raise RuntimeError("could not clear the faults of every member")
            time.sleep(TICK)

    # ------------------------------------------------------------ the end

    def finish(self) -> None:
        s = self.settings
        self.stopped_at = time.monotonic() - self.t0
        for worker in self.workers.values():
            worker.send("stop")
        finals: dict[str, int] = {}
        deadline = time.monotonic() + STOP_PATIENCE
        for worker in self.workers.values():
            answer = self.answer(worker, "final", max(0.0, deadline - time.monotonic()))
            if answer is None:
                self.anomalies.append(
                    Anomaly(
                        "client did not stop",
                        f"worker {worker.name}: its last operation never returned; "
                        "its history ends with",
                        worker.history_tail(),
                    )
                )
                worker.kill()
            elif answer:
                finals[worker.name] = answer
        possibly_live = set(finals.values())
        patience = 4 * s.session_timeout + 20
        self.log("waiting for the sessions of killed clients to expire")
        self.wait_for_ephemerals(possibly_live, patience, "ephemerals of dead sessions remain")
        self.converge()
        final_call = time.monotonic() - self.t0
        tree = observe.read_tree(self.cluster.hosts)
        final_ret = time.monotonic() - self.t0
        surely_live = set()
        for worker in self.workers.values():
            if worker.name in finals:
                worker.send("check")
                answer = self.answer(worker, "alive", observe.RPC_TIMEOUT + 5)
                if answer:
                    surely_live.add(answer)
        for worker in self.workers.values():
            worker.close()
        self.log("every session closed; waiting for their ephemerals to go")
        self.wait_for_ephemerals(set(), patience, "ephemerals remain after every session closed")
        self.converge()
        self.check(tree, final_call, final_ret, possibly_live, surely_live)

    def answer(self, worker: WorkerProcess, word: str, timeout: float) -> int | None:
        """The session in the worker's "WORD SESSION" answer; 0 for any other
        answer, None for none in time."""
        line = worker.answer(timeout)
        if line is None:
            return None
        said, _, session = line.partition(" ")
        return int(session) if said == word and session.isdigit() else 0

    def wait_for_ephemerals(self, live: set[int], patience: float, problem: str) -> None:
        anomaly = observe.wait_for_ephemerals(self.cluster.hosts, live, patience, problem)
        if anomaly is not None:
            self.anomalies.append(anomaly)

    def converge(self) -> None:
        """Record where the members agree, or that they did not."""
        zxid, anomaly = observe.converge(self.cluster, self.channels)
        if anomaly is None:
            self.zxid = zxid
        else:
            self.anomalies.append(anomaly)

    def check(
        self,
        tree: Tree,
        final_call: float,
        final_ret: float,
        possibly_live: set[int],
        surely_live: set[int],
    ) -> None:
        deaths = {w.name: w.died_at for w in self.every_worker if w.died_at is not None}
        files = {w.name: w.history for w in self.every_worker if w.history.exists()}
        self.history = history.load(files, self.t0, deaths)
        ops = self.history.ops
        self.anomalies += checks.check_client_errors(ops)
        spanning = {w.name for w in self.workers.values() if w.name in files}
        self.anomalies += checks.check_progress(ops, spanning, self.healed_at, self.stopped_at)
        self.anomalies += checks.check_stuck_sessions(ops)
        self.anomalies += checks.check_registers(ops, tree, final_call, final_ret)
        self.anomalies += checks.check_sequential(ops, tree)
        self.anomalies += checks.check_ephemerals(ops, tree, possibly_live, surely_live)
        self.anomalies += checks.check_locks(self.history.holds)

    # ------------------------------------------------------------ output

    def log(self, line: str) -> None:
        stamp = f"[{time.monotonic() - self.t0:6.1f}s]" if self.t0 else "[ setup]"
        print(f"{stamp} {line}", flush=True)
        self.nemesis_log.write(f"{stamp} {line}\n")
        self.nemesis_log.flush()

    def save_output(self, member_id: int, member: ServerProcess) -> None:
        """A member's output so far: a restart starts a new one."""
        with (self.workdir / "logs" / f"member{member_id}.log").open("a") as out:
            out.writelines(line + "\n" for line in member.output)

    def cleanup(self) -> None:
        """Stop everything this run started, by PID."""
        for worker in self.every_worker:
            if worker.proc.poll() is None:
                worker.kill()
        for member_id, member in self.cluster.members.items():
            member.signal(signal.SIGCONT)
            member.stop()
            self.save_output(member_id, member)
        for channel in self.channels.values():
            channel.close()
        self.nemesis_log.close()


def run(settings: Settings) -> int:
    """The whole run; 0 when no anomaly was found, 1 otherwise."""
    workdir = settings.workdir or Path(tempfile.mkdtemp(prefix="nemesis-"))
    started = time.monotonic()
    nemesis = Run(settings, workdir)
    print(f"nemesis seed {settings.seed}: {settings.replay}", flush=True)
    try:
        nemesis.execute()
    finally:
        nemesis.cleanup()
    report(nemesis, time.monotonic() - started)
    if not nemesis.anomalies and not settings.keep and settings.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if nemesis.anomalies else 0
