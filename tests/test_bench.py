"""scripts/bench end to end with a tiny load: it runs, writes a well-formed
report and leaves no process behind, Ctrl-C included; its TLS and ACL
variants are what they say; one request at a time runs every workload with
the client on the leader's member and on a follower's. No figure is checked against a threshold:
timing depends on the machine, not on the code."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from coord_client import Client
from coord_client.exceptions import NoAuthError
from coord_client.security import make_digest_acl

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
BENCH = SCRIPTS / "bench"
sys.path.insert(0, str(SCRIPTS))

from benchlib import latency  # noqa: E402
from benchlib.security import DIGEST_PASSWORD, DIGEST_USER, Security, make_tls  # noqa: E402
from benchlib.systems import CoordSystem  # noqa: E402
from benchlib.worker import make_client  # noqa: E402

WORKLOADS = ("create", "set", "get", "mix")
TRAFFIC = {
    "requests_per_client_frame",
    "requests_per_frame_back",
    "commands_per_slot",
    "peer_frames_per_request",
    "syncs_per_request",
}
CPU_KEYS = {"wall_s", "server_cpu_s", "client_cpu_s", "other_cpu_s"}
CPU_KEYS |= {"server_pct", "client_pct", "other_pct"}
ZOOKEEPER_READY = (
    Path("/usr/share/java/zookeeper.jar").exists() and importlib.util.find_spec("kazoo") is not None
)
ETCD_READY = Path("/usr/bin/etcd").exists() and importlib.util.find_spec("grpc_tools") is not None


def number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def processes_using(path: Path) -> list[int]:
    """PIDs whose command line or stderr names `path`: the members (their
    data dirs), the ZooKeeper JVMs (their config) and the load generators
    (their log files)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            seen = (entry / "cmdline").read_bytes().decode(errors="replace")
            seen += os.readlink(entry / "fd" / "2")
        except OSError:
            continue
        if str(path) in seen:
            found.append(int(entry.name))
    return found


def bench(tmp_path: Path, *flags: str) -> subprocess.Popen:
    command = [sys.executable, str(BENCH), "--tiny", "--work-dir", str(tmp_path), *flags]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def check_workloads(figures: dict) -> None:
    for name in WORKLOADS:
        workload = figures["workloads"][name]
        assert workload["ops"] > 0 and workload["errors"] == 0
        for key in ("seconds", "ops_per_s", "p50_ms", "p99_ms", "max_ms"):
            assert number(workload[key]) and workload[key] > 0, (name, key)
        assert workload["p50_ms"] <= workload["p99_ms"] <= workload["max_ms"]
        cpu = workload["cpu"]
        assert set(cpu) == CPU_KEYS | {"server_us_per_op", "client_us_per_op"}
        assert all(map(number, cpu.values()))


def check_traffic(figures: dict) -> None:
    """coord's counters over each workload: every request came in some frame;
    the writes went through the log and the disk."""
    for name in WORKLOADS:
        traffic = figures["workloads"][name]["traffic"]
        assert set(traffic) == set(TRAFFIC)
        assert all(number(v) and v >= 0 for v in traffic.values())
        assert traffic["requests_per_client_frame"] >= 1 and traffic["requests_per_frame_back"] > 0
    for name in ("create", "set"):
        traffic = figures["workloads"][name]["traffic"]
        assert traffic["commands_per_slot"] >= 1 and traffic["syncs_per_request"] > 0


def check_latency(figures: dict) -> None:
    """Every one-at-a-time workload ran without an error on both placements,
    each a different member; the figures are numbers, in order."""
    placed = figures["latency"]
    assert placed["leader"]["member"] != placed["follower"]["member"]
    assert placed["leader_after"] == placed["leader"]["member"]  # a quiet cluster keeps it
    for placement in latency.PLACEMENTS:
        workloads = placed[placement]["workloads"]
        assert set(workloads) == set(latency.WORKLOADS)
        for name, w in workloads.items():
            assert w["ops"] > 0 and w["errors"] == 0, (placement, name)
            assert all(number(w[k]) and w[k] > 0 for k in ("p50_ms", "p99_ms", "max_ms"))
            assert w["p50_ms"] <= w["p99_ms"] <= w["max_ms"]


def check_figures(figures: dict) -> None:
    check_workloads(figures)
    check_latency(figures)
    failover = figures["failover"]
    assert len(failover["gaps_ms"]) == failover["tries"] == 1
    assert number(failover["median_ms"]) and failover["median_ms"] > 0
    memory = figures["memory"]
    assert memory["znodes"] > 0 and number(memory["bytes_per_znode"])
    assert len(memory["rss_before_mib"]) == len(memory["rss_after_mib"]) == 3
    assert number(figures["restart"]["seconds"]) and figures["restart"]["seconds"] > 0
    for phase in ("failover", "memory", "restart"):
        assert set(figures[phase]["cpu"]) == CPU_KEYS


def run_to_end(tmp_path: Path, *flags: str, timeout: float = 110) -> dict:
    out = tmp_path / "report.json"
    proc = bench(tmp_path, "--out", str(out), *flags)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)  # it stops what it started and says where it was
        stderr = proc.communicate(timeout=60)[1]
        last = "\n".join(stderr.splitlines()[-150:])
        pytest.fail(f"the bench did not end within {timeout:.0f}s; its last words:\n{last}")
    assert proc.returncode == 0, stderr
    throughput = "--latency" not in flags
    assert ("create ops/s" in stdout) == ("commands per log slot" in stdout) == throughput
    assert "Election hand-over" in stdout  # the one-at-a-time table
    variants = bool({"--tls", "--acl", "--grpc-stream", "--zk-door"} & set(flags))
    assert ("coord's variants" in stdout) == (variants and throughput)
    assert processes_using(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # data dirs removed
    report = json.loads(out.read_text())
    assert report["errors"] == {}
    assert report["mode"] == "tiny" and report["machine"]["cores"] >= 1
    assert number(report["machine"]["fsync"]["median_ms"])
    assert number(report["machine"]["fsync"]["cpu_us"])
    assert number(report["machine"]["wake"]["rtt_p50_us"])
    return report


def test_coord_alone(tmp_path: Path) -> None:
    report = run_to_end(tmp_path, "--no-zookeeper")
    assert set(report["results"]) == {"coord"}
    assert "zookeeper" in report["skipped"] and report["ratios"] == {}
    assert "etcd" in report["skipped"] and "ratios_etcd" not in report
    assert report["ratios_latency"] == {}
    check_figures(report["results"]["coord"])
    check_traffic(report["results"]["coord"])


def check_latency_ratios(report: dict, key: str = "ratios_latency") -> None:
    """coord / ZooKeeper (or, by `key`, kazoo on coord's ZooKeeper door /
    ZooKeeper) for p50, p99 and max of every workload and placement."""
    ratios = report[key]
    assert set(ratios) == set(latency.PLACEMENTS)
    for workloads in ratios.values():
        assert set(workloads) == set(latency.WORKLOADS)
        for r in workloads.values():
            assert set(r) == {"p50_ms", "p99_ms", "max_ms"}
            assert all(number(v) and v > 0 for v in r.values())


def test_latency_only(tmp_path: Path) -> None:
    """--latency takes that table and nothing else, for coord_client (on
    the session ports and on the gRPC stream) and kazoo on coord's
    ZooKeeper door (beside ZooKeeper when installed)."""
    alone = () if ZOOKEEPER_READY else ("--no-zookeeper",)
    flags = ("--latency", "--latency-ops", "5", "--markdown", "--zk-door", "--grpc-stream", *alone)
    report = run_to_end(tmp_path, *flags)
    systems = {"coord", "coord-grpc", "coord-zk", *(["zookeeper"] if ZOOKEEPER_READY else [])}
    assert set(report["results"]) == systems
    for figures in report["results"].values():
        assert set(figures["skipped"]) == {"workloads", "failover", "memory", "restart"}
        assert not {"workloads", "failover", "memory", "restart"} & set(figures)
        check_latency(figures)
        counts = {w["ops"] for w in figures["latency"]["leader"]["workloads"].values()}
        assert counts == {5, 3}  # the election: a tenth, at least 3
    if ZOOKEEPER_READY:
        check_latency_ratios(report)
        check_latency_ratios(report, "ratios_latency_zk_door")
        check_latency_ratios(report, "ratios_latency_grpc")


@pytest.mark.skipif(not ETCD_READY, reason="needs Debian's etcd-server package and grpcio-tools")
def test_beside_etcd(tmp_path: Path) -> None:
    report = run_to_end(tmp_path, "--no-zookeeper", "--etcd")
    assert set(report["results"]) == {"coord", "etcd"}
    check_figures(report["results"]["coord"])
    etcd = report["results"]["etcd"]
    assert etcd["version"].startswith("3.4")
    check_workloads(etcd)
    assert set(etcd["skipped"]) == {"latency", "failover", "memory", "restart"}
    assert not {"latency", "failover", "memory", "restart"} & set(etcd)
    assert "etcd" not in report["skipped"] and report["ratios"] == {}
    assert set(report["ratios_etcd"]) == set(WORKLOADS)
    assert all(map(number, report["ratios_etcd"].values()))


def check_variants(report: dict, baselines: set[str], names: tuple[str, ...]) -> None:
    """The variants ran the four workloads (kazoo on the ZooKeeper door and
    the SDK on the gRPC stream one at a time as well), and each is divided
    by every baseline that ran."""
    for name in names:
        figures = report["results"][name]
        check_workloads(figures)
        check_traffic(figures)
        skipped = {"failover", "memory", "restart"}
        if name in ("coord-zk", "coord-grpc"):
            check_latency(figures)
        else:
            skipped.add("latency")
        assert set(figures["skipped"]) == skipped
    variants = report["ratios_variants"]
    assert set(variants) == {f"{v} / {b}" for v in names for b in baselines}
    for ratios in variants.values():
        assert set(ratios) == set(WORKLOADS)
        for workload in ratios.values():
            assert set(workload) == {"ops_per_s", "p50_ms", "p99_ms"}
            assert all(number(v) and v > 0 for v in workload.values())


@pytest.mark.timeout(280)  # five clusters in turn
def test_tls_acl_grpc_and_zk_door_variants(tmp_path: Path) -> None:
    flags = ("--no-zookeeper", "--tls", "--acl", "--grpc-stream", "--zk-door")
    report = run_to_end(tmp_path, *flags, timeout=250)
    assert set(report["results"]) == {"coord", "coord-tls", "coord-acl", "coord-grpc", "coord-zk"}
    assert report["coord_peer_ports"] is True  # in every coord cluster, as TLS needs
    check_figures(report["results"]["coord"])
    check_variants(report, {"coord"}, ("coord-tls", "coord-acl", "coord-grpc", "coord-zk"))


@pytest.mark.skipif(not ZOOKEEPER_READY, reason="needs Debian's zookeeper package and kazoo")
@pytest.mark.timeout(300)  # four clusters in turn, on a shared machine
def test_variants_beside_zookeeper(tmp_path: Path) -> None:
    """coord and ZooKeeper with every figure and their ratios, and the
    TLS and ACL variants divided by both."""
    report = run_to_end(tmp_path, "--tls", "--acl", timeout=280)
    assert set(report["results"]) == {"coord", "coord-tls", "coord-acl", "zookeeper"}
    for name in ("coord", "zookeeper"):
        check_figures(report["results"][name])
    assert set(report["ratios"]) == {*WORKLOADS, "failover", "memory", "restart"}
    assert all(map(number, report["ratios"].values()))
    check_latency_ratios(report)
    check_variants(report, {"coord", "zookeeper"}, ("coord-tls", "coord-acl"))


def status(channel: grpc.Channel) -> None:
    client_pb2_grpc.CoordStub(channel).Status(pb.StatusRequest(local_only=True), timeout=10)


def test_tls_variant_serves_only_tls(tmp_path: Path) -> None:
    """Its members refuse plaintext; the bench's probes and load generators
    (and nothing else) get through, trusting the run's CA."""
    tls = Security("coord-tls", tls=make_tls(tmp_path / "tls"))
    system = CoordSystem(tmp_path, tls, peer_ports=True)
    try:
        system.start()
        address = system.addresses()[0]
        with grpc.insecure_channel(address) as channel, pytest.raises(grpc.RpcError):
            status(channel)
        with system.security.channel(address) as channel:
            status(channel)
        session = make_client("coord", address, system.client_options())
        session.start(timeout=30)
        try:
            assert session.create("/tls", b"v") == "/tls"
        finally:
            session.stop()
            session.close()
    finally:
        system.stop()


def test_acl_variant_guards_every_znode(tmp_path: Path) -> None:
    """The load generators' sessions authenticate and create znodes under
    the bench's digest ACL: a session without the credential is refused."""
    system = CoordSystem(tmp_path, Security("coord-acl", acl=True))
    outsider = Client(hosts=",".join(system.addresses()), timeout=10.0)
    try:
        system.start()
        session = make_client("coord", system.addresses()[0], system.client_options())
        session.start(timeout=30)
        try:
            session.create("/acl", b"v")
            acls, _ = session.get_acls("/acl")
            assert acls == [make_digest_acl(DIGEST_USER, DIGEST_PASSWORD, all=True)]
            outsider.start(timeout=30)
            with pytest.raises(NoAuthError):
                outsider.get("/acl")
            assert session.get("/acl")[0] == b"v"
        finally:
            session.stop()
            session.close()
    finally:
        outsider.stop()
        outsider.close()
        system.stop()


def test_interrupt_stops_everything(tmp_path: Path) -> None:
    proc = bench(tmp_path, "--no-zookeeper", "--out", str(tmp_path / "report.json"))
    assert proc.stderr is not None
    for line in proc.stderr:  # interrupt once members and load generators run
        if "warm-up" in line:
            break
    assert processes_using(tmp_path), "the members should be running now"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert processes_using(tmp_path) == []
    assert list(tmp_path.iterdir()) == []  # no report, data removed
