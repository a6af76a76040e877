"""What a nemesis run tells: the summary (also written as JSON with --report)
and the lines printed at its end."""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from nemesislib import checks

if TYPE_CHECKING:
    from nemesislib.runner import Run

OP_KINDS = ("read", "write", "cas", "seq", "eph-create", "eph-delete", "lock")
OUTCOMES = ("ok", "fail", "unknown")


def summary_of(run: Run) -> dict[str, Any]:
    """The run's counts, faults, anomalies' kinds and how to replay it."""
    s = run.settings
    ops: dict[str, Counter[str]] = {k: Counter() for k in OP_KINDS}
    for op in run.history.ops:
        ops[op.kind][op.outcome] += 1
    holds = run.history.holds
    return {
        "seed": s.seed,
        "size": s.size,
        "clients": s.clients,
        "duration_s": s.duration,
        "ops": {k: {o: c[o] for o in OUTCOMES} for k, c in ops.items()},
        "ops_total": len(run.history.ops),
        "faults": {k: run.injected[k] for k in sorted(run.injected)},
        "client_processes": len(run.every_worker),
        "sessions": len(run.history.sessions),
        "lock_holds": len(holds),
        "overlapping_holds": checks.overlapping_holds(holds),
        "lock_skipped": run.lock_skipped,
        "final_zxid": run.zxid,
        "anomalies": [a.kind for a in run.anomalies],
        "replay": s.replay,
    }


def report(run: Run, elapsed: float) -> None:
    """Print the summary, and the anomalies with how to replay the run."""
    summary = summary_of(run)
    print()
    print(
        f"nemesis seed {summary['seed']}: {summary['size']} members, {summary['clients']} "
        f"clients, {summary['duration_s']:.0f}s of faults, {elapsed:.0f}s in all"
    )
    faults = ", ".join(f"{k} {n}" for k, n in summary["faults"].items()) or "none"
    print(f"faults injected: {faults}")
    print(f"operations: {summary['ops_total']}")
    for kind, outcomes in summary["ops"].items():
        if any(outcomes.values()):
            print(f"  {kind:<11}" + "".join(f" {o} {n:<6}" for o, n in outcomes.items()))
    print(
        f"client processes {summary['client_processes']}, sessions {summary['sessions']}; "
        + (
            summary["lock_skipped"]
            or f"lock holds {summary['lock_holds']}, overlapping pairs (fenced) "
            f"{summary['overlapping_holds']}"
        )
    )
    print(f"members converged at zxid {summary['final_zxid']}")
    if run.settings.report:
        run.settings.report.write_text(json.dumps(summary, indent=2) + "\n")
    if not run.anomalies:
        print("anomalies: none")
        return
    kept, more = checks.shown(run.anomalies)
    print(f"ANOMALIES: {len(run.anomalies)}")
    for anomaly in kept:
        print(anomaly.describe())
    if more:
        print(f"... and {more} more of the same kinds")
    print(f"seed {run.settings.seed}; replay the schedule with:\n  {run.settings.replay}")
    print(f"histories and logs kept in {run.workdir}")
