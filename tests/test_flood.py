"""scripts/flood end to end, its short run: a well-formed report, nothing
acknowledged to the normal clients lost, the members' RSS under a generous
bound, every hostile client stopping by itself, and no process left behind,
Ctrl-C included. No latency or throughput figure is checked against a
threshold: those depend on the machine, not on the code."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.test_bench import number, processes_using

FLOOD = Path(__file__).resolve().parent.parent / "scripts" / "flood"
KINDS = {"sessions", "noread", "oversized", "nested", "watches", "pipeline"}
PHASES = ("quiet", "flood", "after")
# Generous: a member starts near 55 MiB; the short flood may leave it a
# few times that on a build without limits, never near this.
RSS_BOUND_MIB = 1024


def flood(tmp_path: Path, *flags: str) -> subprocess.Popen:
    command = [sys.executable, str(FLOOD), "--tiny", "--work-dir", str(tmp_path), *flags]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_tiny_flood(tmp_path: Path) -> None:
    proc = flood(tmp_path, "--json", "--rss-bound-mib", str(RSS_BOUND_MIB))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert processes_using(tmp_path) == []
    assert list(tmp_path.iterdir()) == []  # the data and logs removed
    report = json.loads(out)
    assert report["command"].startswith("scripts/flood --tiny")
    for name in PHASES:
        phase = report["phases"][name]
        assert phase["ops"] > 0, f"the normal load did nothing in the {name} phase"
        assert all(number(phase[k]) for k in ("ops_per_s", "p50_ms", "p99_ms", "max_ms"))
        assert all(number(v) for v in report["cpu"][name].values())
    for name in ("flood", "after"):
        assert number(report["goals"][name]["throughput_ratio"])
        assert number(report["goals"][name]["p99_ratio"])
    assert set(report["hostile"]) == KINDS
    for kind, hostile in report["hostile"].items():
        assert hostile["ended"] == "by itself", kind
        assert hostile["outcomes"].get("session opened", 0) > 0, kind
    acknowledged = report["acknowledged"]
    assert acknowledged["creates"] > 0 and acknowledged["keys_set"] > 0
    lost = report["lost"]
    assert lost["checked"] == acknowledged["creates"] + acknowledged["keys_set"]
    assert {m: v["count"] for m, v in lost["by_member"].items()} == {"1": 0, "2": 0, "3": 0}
    assert report["goals"]["nothing_lost"] is True
    rss = report["rss"]
    assert rss["bound_mib"] == RSS_BOUND_MIB and report["goals"]["rss_under_bound"] is True
    assert set(rss["members"]) == {"1", "2", "3"}
    for member in rss["members"].values():
        assert all(number(member["peak_mib"][name]) for name in PHASES)
        assert 0 < member["max_mib"] <= RSS_BOUND_MIB
        assert len(member["curve"]) > 5


def test_interrupt_stops_everything(tmp_path: Path) -> None:
    proc = flood(tmp_path)
    assert proc.stderr is not None
    for line in proc.stderr:  # interrupt once the hostile clients run
        if "flood phase" in line:
            break
    assert processes_using(tmp_path), "the members should be running now"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    left = (proc.returncode, processes_using(tmp_path), list(tmp_path.iterdir()))
    assert left == (130, [], []), "exit code 130, no process, the directory removed"
