"""scripts/nemesis: a short run against a real cluster must find nothing, and
its checkers must find what is planted in small hand-made histories (a
checker that cannot fail proves nothing)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))

from nemesislib import checks, history  # noqa: E402
from nemesislib.checks import Node  # noqa: E402
from nemesislib.history import ClientOp, Hold  # noqa: E402
from nemesislib.schedule import (  # noqa: E402
    FAULT_KINDS,
    PROCESS_KINDS,
    MemberFaults,
    make_schedule,
    member_faults,
)

# CI's run: every fault kind is in this seed's first minute (see the schedule test).
CI_SEED = int(os.environ.get("COORD_NEMESIS_SEED", "6"))
CI_DURATION = os.environ.get("COORD_NEMESIS_DURATION", "60")


@pytest.mark.timeout(400)
def test_a_short_run_under_every_kind_of_fault_finds_nothing(tmp_path):
    report = tmp_path / "report.json"
    command = [
        sys.executable, str(SCRIPTS / "nemesis"),
        "--seed", str(CI_SEED), "--duration", CI_DURATION, "--size", "3", "--clients", "4",
        "--workdir", str(tmp_path / "run"), "--report", str(report),
    ]  # fmt: skip
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    with subprocess.Popen(command, **pipes) as run:
        try:
            output, _ = run.communicate(timeout=380)
        except subprocess.TimeoutExpired:
            run.terminate()  # the run then stops every process it started
            output, _ = run.communicate(timeout=60)
    assert run.returncode == 0, output
    summary = json.loads(report.read_text())
    assert summary["anomalies"] == []
    completed = sum(o["ok"] + o["fail"] for o in summary["ops"].values())
    assert completed > 500, output
    if CI_DURATION == "60":
        assert set(summary["faults"]) == set(FAULT_KINDS), output


# ------------------------------------------------------------ the schedule


def test_a_seed_gives_one_schedule_and_every_kind_within_a_minute():
    first = make_schedule(CI_SEED, 3, 60, 4, pause_floor=3.0)
    assert first == make_schedule(CI_SEED, 3, 60, 4, pause_floor=3.0)
    assert first != make_schedule(CI_SEED + 1, 3, 60, 4, pause_floor=3.0)
    assert {f.kind for f in first} == set(FAULT_KINDS)


@pytest.mark.parametrize("size", [3, 5])
def test_at_most_a_minority_is_down_and_pauses_outlast_the_timeouts(size):
    for seed in range(50):
        schedule = make_schedule(seed, size, 300, 4, pause_floor=3.0)
        process = [f for f in schedule if f.kind in PROCESS_KINDS]
        for fault in process:
            down = {m for f in process if f.start <= fault.start < f.end for m in f.members}
            assert len(down) <= (size - 1) // 2
        for pause in (f for f in schedule if f.kind == "pause" and f.end < 300):
            assert pause.end - pause.start > 3.0
        assert all(0 <= f.start <= f.end <= 300 for f in schedule)


def test_faults_in_force_compose_per_member():
    schedule = make_schedule(3, 5, 600, 4, pause_floor=3.0, kinds=["partition", "delay"])
    partition = next(f for f in schedule if f.kind == "partition")
    delay = next(f for f in schedule if f.kind == "delay")
    settings = member_faults([partition, delay], 5)
    for src, dst in partition.links:  # blocked, whatever the delay says
        assert (dst, True) in {(peer, blocked) for peer, blocked, _, _ in settings[src].links}
    for src, dst in set(delay.links) - set(partition.links):
        assert (dst, False, 0.0, delay.delay_ms) in settings[src].links
    assert member_faults([], 5) == {m: MemberFaults() for m in range(1, 6)}


# ------------------------------------------------------------- the history


def test_a_killed_worker_leaves_unknown_ops_and_unknowns_change_the_logical_client(tmp_path):
    invoke = {"t": "invoke", "session": 7}
    lines = [
        {"t": "session", "id": 7, "time": 10.0},
        {**invoke, "op": 0, "kind": "write", "key": "/k", "arg": "a", "time": 10.1},
        {"t": "info", "op": 0, "error": "ConnectionLoss()", "time": 10.2},
        {**invoke, "op": 1, "kind": "lock", "key": "/l", "arg": None, "time": 10.3},
        {"t": "acquired", "op": 1, "token": 5, "time": 10.4},
    ]
    path = tmp_path / "0.0.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    loaded = history.load({"0.0": path}, t0=10.0, deaths={"0.0": 11.0})
    write, lock = sorted(loaded.ops, key=lambda op: op.call)
    assert write.outcome == lock.outcome == "unknown" and write.ret is None
    assert write.client != lock.client
    [held] = loaded.holds  # killed while holding: the hold ends at the kill
    assert (held.token, held.confirmed) == (5, None)
    assert held.releasing == pytest.approx(1.0)
    assert loaded.sessions == {7: "0.0"}


# ------------------------------------------------------------ the checkers


def op(kind: str, key: str, arg, call: float, ret: float | None, result=None, **kw) -> ClientOp:
    outcome = kw.pop("outcome", "ok" if ret is not None else "unknown")
    return ClientOp(kw.pop("worker", "0.0"), kw.pop("client", 0), kind, key, arg,
                    kw.pop("session", 1), call, ret, outcome, result, **kw)  # fmt: skip


KEY = "/reg/g0000/k0"


def test_registers_a_lost_acknowledged_write_is_found_by_the_final_read():
    ops = [op("write", KEY, "a", 1.0, 2.0, 1), op("read", KEY, None, 3.0, 4.0, ["a", 1])]
    final = {KEY: Node("a", 1, 0)}
    assert checks.check_registers(ops, final, 5.0, 6.0) == []
    lost = checks.check_registers(ops, {KEY: Node("init", 0, 0)}, 5.0, 6.0)
    assert [a.kind for a in lost] == ["not linearizable"]
    assert any("write 'a'" in line for line in lost[0].witness)
    unknown = [op("write", KEY, "a", 1.0, None)]  # possibly applied: either end is fine
    assert checks.check_registers(unknown, {KEY: Node("init", 0, 0)}, 5.0, 6.0) == []
    assert checks.check_registers(unknown, final, 5.0, 6.0) == []


def seq(value: str, call: float, ret: float | None, number: int | None, parent="/seq/p0"):
    result = None if number is None else f"{parent}/n-{number:010d}"
    return op("seq", parent, value, call, ret, result)


def seq_tree(*entries: tuple[int, str]) -> dict[str, Node]:
    return {f"/seq/p0/n-{n:010d}": Node(v, 0, 0) for n, v in entries}


def kinds(anomalies) -> list[str]:
    return sorted(a.kind for a in anomalies)


def test_sequential_creates_clean_history_passes():
    ops = [seq("a", 1, 2, 0), seq("b", 3, 4, 1), seq("c", 3.5, None, None)]
    assert checks.check_sequential(ops, seq_tree((0, "a"), (1, "b"), (2, "c"))) == []
    assert checks.check_sequential(ops, seq_tree((0, "a"), (1, "b"))) == []


def test_sequential_creates_planted_anomalies_are_found():
    ops = [seq("a", 1, 2, 0), seq("b", 3, 4, 1)]
    assert kinds(checks.check_sequential(ops, seq_tree((0, "a")))) == ["acknowledged create lost"]
    twice = [seq("a", 1, 2, 0), seq("b", 3, 4, 0)]
    assert "sequential name given twice" in kinds(checks.check_sequential(twice, seq_tree()))
    backwards = [seq("a", 1, 2, 5), seq("b", 3, 4, 4)]
    assert kinds(checks.check_sequential(backwards, seq_tree((5, "a"), (4, "b")))) == [
        "sequence numbers out of real-time order"
    ]
    late_unknown = [seq("a", 1, 2, 5), seq("c", 3, None, None)]  # applied, numbered too low
    assert kinds(checks.check_sequential(late_unknown, seq_tree((5, "a"), (2, "c")))) == [
        "sequence numbers out of real-time order"
    ]
    duplicated = seq_tree((0, "a"), (1, "b"), (2, "b"))
    assert kinds(checks.check_sequential(ops, duplicated)) == ["one create applied twice"]
    phantom = seq_tree((0, "a"), (1, "b"), (2, "zzz"))
    assert kinds(checks.check_sequential(ops, phantom)) == ["node no client created"]


def eph(path: str, call: float, ret: float | None, result=None, session: int = 1) -> ClientOp:
    return op("eph-create", path, path, call, ret, result, session=session)


def test_ephemerals_clean_history_passes():
    ops = [
        eph("/eph/a", 1, 2, "/eph/a"),
        eph("/eph/b", 1, 2, "/eph/b", session=2),  # its session died: gone
        eph("/eph/c", 3, None),
        op("eph-delete", "/eph/a", None, 3, 4, True),
    ]
    tree = {"/eph/c": Node("/eph/c", 0, 1)}
    assert checks.check_ephemerals(ops, tree, possibly_live={1}, surely_live={1}) == []


def test_ephemerals_planted_anomalies_are_found():
    ops = [eph("/eph/a", 1, 2, "/eph/a"), eph("/eph/b", 1, 2, "/eph/b", session=2)]
    orphan = {"/eph/a": Node("/eph/a", 0, 1), "/eph/b": Node("/eph/b", 0, 2)}
    assert kinds(checks.check_ephemerals(ops, orphan, {1}, {1})) == ["ephemeral of a dead session"]
    assert kinds(checks.check_ephemerals(ops, {}, {1}, {1})) == ["acknowledged ephemeral lost"]
    assert checks.check_ephemerals(ops, {}, {1}, set()) == []  # the session may have gone since
    stolen = {"/eph/a": Node("/eph/a", 0, 3)}
    assert kinds(checks.check_ephemerals(ops, stolen, {1, 3}, {1, 3})) == [
        "ephemeral owned by another session"
    ]
    back = [*ops, op("eph-delete", "/eph/a", None, 3, 4, True)]
    assert kinds(checks.check_ephemerals(back, {"/eph/a": Node("/eph/a", 0, 1)}, {1}, {1})) == [
        "deleted ephemeral came back"
    ]
    vanished = [*ops, op("eph-delete", "/eph/a", None, 3, 4, "NoNode")]
    assert kinds(checks.check_ephemerals(vanished, {}, {1}, {1})) == [
        "acknowledged ephemeral gone before its owner deleted it"
    ]
    exists = [eph("/eph/a", 1, 2, "NodeExists")]
    assert kinds(checks.check_ephemerals(exists, {"/eph/a": Node("/eph/a", 0, 1)}, {1}, set())) == [
        "create of a fresh name answered NodeExists"
    ]


def hold(token, invoked: float, acquired: float, releasing: float, confirmed=None) -> Hold:
    return Hold("0.0", token, invoked, acquired, releasing, confirmed)


def test_locks_fenced_overlap_passes_and_planted_anomalies_are_found():
    fenced = [hold(10, 0, 1, 9), hold(20, 2, 5, 6, confirmed=5.9)]  # the first lost its session
    assert checks.check_locks(fenced) == []
    assert checks.overlapping_holds(fenced) == 1
    assert checks.check_locks([hold(None, 0, 1, 2), hold(10, 3, 4, 5)]) == []
    twice = [hold(10, 0, 1, 2), hold(10, 0.5, 4, 5)]  # concurrent acquires
    assert kinds(checks.check_locks(twice)) == ["fencing token given twice"]
    backwards = [hold(20, 0, 1, 2), hold(10, 3, 4, 5)]
    assert kinds(checks.check_locks(backwards)) == ["fencing tokens out of acquisition order"]
    at_once = [hold(10, 0, 1, 3, confirmed=2.5), hold(20, 0.5, 2, 4)]
    assert kinds(checks.check_locks(at_once)) == ["two holders at once"]
    assert kinds(checks.check_locks([hold("x", 0, 1, 2)])) == ["fencing token not an integer"]


def test_order_violations_compare_only_ops_that_did_not_overlap():
    items = [(0.0, 1.0, 5), (0.5, 2.0, 3), (1.5, None, 4), (3.0, 4.0, 4)]
    # (0.5, 2.0, 3) overlaps the first; (1.5, ...) came after the first returned
    # and has 4 < 5; (3.0, ...) came after both and has 4 < 5.
    assert checks.order_violations(items) == [(0, 2), (0, 3)]
    assert checks.order_violations([(0.0, math.inf, 1)]) == []


def test_progress_after_the_heal_is_required():
    healthy = [op("read", KEY, None, 9, 11, ["init", 0]), op("write", KEY, "a", 12, 13, 1)]
    assert checks.check_progress(healthy, ["0.0"], healed=10, stopped=20) == []
    stuck = [op("lock", "/locks/l0", None, 9, None)]
    assert kinds(checks.check_progress(stuck, ["0.0"], 10, 20)) == ["no progress after the heal"]
    refused = [
        op("read", KEY, None, 11, 12, ["init", 0]),
        op("write", KEY, "a", 12, None, error="ConnectionLoss('... it was not applied')"),
    ]
    assert kinds(checks.check_progress(refused, ["0.0"], 10, 20)) == [
        "writes refused after the heal"
    ]


def test_a_session_whose_writes_keep_failing_while_others_succeed_is_stuck():
    refused = [op("write", KEY, str(i), i, None, error="ConnectionLoss()") for i in range(5)]
    other = op("write", KEY, "x", 2, 2.5, 1, worker="1.0")
    assert kinds(checks.check_stuck_sessions([*refused, other])) == [
        "a session's writes kept failing while others' succeeded"
    ]
    assert checks.check_stuck_sessions(refused) == []  # nobody could write: no quorum
    assert checks.check_stuck_sessions([*refused[:4], other]) == []
