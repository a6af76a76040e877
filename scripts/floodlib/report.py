"""The flood report: the normal load's figures per phase, the members' RSS
per phase and whether it levelled off, the goals, and a table."""

from __future__ import annotations

import base64
from array import array
from typing import Any

from benchlib.pool import RunResult
from rich.console import Console
from rich.table import Table

MIB = 1 << 20
PHASES = ("quiet", "flood", "after")
THROUGHPUT_GOAL = 0.5  # of the quiet phase's ops/s, at least
P99_GOAL = 3.0  # times the quiet phase's p99, at most
# RSS has levelled off when the flood's second half peaks at most this much
# above its first half (a fraction, and MiB on top for the allocator's steps).
LEVEL_FRACTION, LEVEL_SLACK_MIB = 0.10, 16


def decode(text: str) -> array:
    values = array("d")
    values.frombytes(base64.b64decode(text))
    return values


def phases(
    loads: list[dict[str, Any]], bounds: dict[str, tuple[float, float]]
) -> dict[str, dict[str, Any]]:
    """ops/s, p50/p99/max and errors of the normal load in each phase, by
    the time each request was answered."""
    timings = [decode(load["timings"]) for load in loads]
    failures = [t for load in loads for t in decode(load["failed_at"])]
    samples = []
    for load in loads:
        samples += load["error_samples"]
    figures = {}
    for name, (start, end) in bounds.items():
        latencies = array(
            "d",
            sorted(
                pairs[i + 1]
                for pairs in timings
                for i in range(0, len(pairs), 2)
                if start <= pairs[i] < end
            ),
        )
        errors = sum(start <= t < end for t in failures)
        result = RunResult(len(latencies), errors, samples[:5] if errors else [], end - start,
                           latencies)  # fmt: skip
        figures[name] = result.as_dict()
    return figures


def rss(
    samples: list[tuple[float, int, int]], bounds: dict[str, tuple[float, float]], bound_mib: int
) -> dict[str, Any]:
    """Per member: the peak RSS of each phase (MiB), the flood's two halves,
    whether it levelled off, and the curve (one point a second)."""
    members: dict[str, Any] = {}
    for member in sorted({m for _, m, _ in samples}):
        mine = [(t, b) for t, m, b in samples if m == member]

        def peak(start: float, end: float, mine=mine) -> float | None:
            inside = [b for t, b in mine if start <= t < end]
            return round(max(inside) / MIB, 1) if inside else None

        flood_start, flood_end = bounds["flood"]
        middle = (flood_start + flood_end) / 2
        first, second = peak(flood_start, middle), peak(middle, flood_end)
        levelled = (
            first is not None
            and second is not None
            and second <= first * (1 + LEVEL_FRACTION) + LEVEL_SLACK_MIB
        )
        curve, last = [], None
        for t, b in mine:
            if last is None or t - last >= 1.0:
                curve.append([round(t - bounds["quiet"][0], 1), round(b / MIB, 1)])
                last = t
        members[str(member)] = {
            "start_mib": round(mine[0][1] / MIB, 1) if mine else None,
            "peak_mib": {name: peak(*span) for name, span in bounds.items()},
            "flood_halves_mib": [first, second],
            "levelled_off": levelled,
            "max_mib": round(max(b for _, b in mine) / MIB, 1) if mine else None,
            "curve": curve,
        }
    peak_all = max((m["max_mib"] or 0 for m in members.values()), default=0)
    return {"bound_mib": bound_mib, "max_mib": peak_all, "members": members}


def acknowledged(loads: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "creates": sum(len(load["created"]) for load in loads),
        "keys_set": sum(len(load["set_to"]) for load in loads),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def goals(result: dict[str, Any]) -> dict[str, Any]:
    """The figures against the goals: throughput and p99 in the flood (and
    after) against the quiet run, RSS under its bound and levelled off,
    nothing acknowledged lost."""
    quiet = result["phases"]["quiet"]
    out: dict[str, Any] = {}
    for name in ("flood", "after"):
        phase = result["phases"][name]
        throughput = ratio(phase["ops_per_s"], quiet["ops_per_s"])
        p99 = ratio(phase["p99_ms"], quiet["p99_ms"])
        out[name] = {
            "throughput_ratio": throughput,
            "throughput_met": throughput is not None and throughput >= THROUGHPUT_GOAL,
            "p99_ratio": p99,
            "p99_met": p99 is not None and p99 <= P99_GOAL,
        }
    members = result["rss"]["members"].values()
    out["rss_under_bound"] = result["rss"]["max_mib"] <= result["rss"]["bound_mib"]
    out["rss_levelled_off"] = all(m["levelled_off"] for m in members)
    out["nothing_lost"] = all(m["count"] == 0 for m in result["lost"]["by_member"].values())
    return out


def yes(flag: bool) -> str:
    return "[green]yes[/green]" if flag else "[red]NO[/red]"


def print_table(result: dict[str, Any], console: Console) -> None:
    load = Table(
        title="normal clients, per phase (CPU: % of one core; clients: the normal and hostile ones)"
    )
    for column in ("phase", "ops/s", "p50 ms", "p99 ms", "max ms", "errors", "ops/s vs quiet",
                   "p99 vs quiet", "CPU %: members", "clients", "others"):  # fmt: skip
        load.add_column(column, justify="right")
    for name in PHASES:
        phase = result["phases"][name]
        goal = result["goals"].get(name, {})
        load.add_row(
            name, f"{phase['ops_per_s']:,.0f}", str(phase["p50_ms"]), str(phase["p99_ms"]),
            str(phase["max_ms"]), str(phase["errors"]),
            f"{goal['throughput_ratio']} (>= {THROUGHPUT_GOAL})" if goal else "",
            f"{goal['p99_ratio']} (<= {P99_GOAL})" if goal else "",
            *(str(result["cpu"][name][k]) for k in ("server_pct", "client_pct", "other_pct")),
        )  # fmt: skip
    console.print(load)
    memory = Table(title=f"members' RSS, MiB (bound {result['rss']['bound_mib']})")
    for column in ("member", "start", *PHASES, "flood 1st half", "2nd half", "levelled off"):
        memory.add_column(column, justify="right")
    for member, m in result["rss"]["members"].items():
        memory.add_row(
            member, str(m["start_mib"]), *(str(m["peak_mib"][p]) for p in PHASES),
            *(str(h) for h in m["flood_halves_mib"]), yes(m["levelled_off"]),
        )  # fmt: skip
    console.print(memory)
    hostile = Table(title="hostile clients (during the flood)")
    for column in ("kind", "sent", "answers", "ended"):
        hostile.add_column(column)
    for kind, h in result["hostile"].items():
        answers = ", ".join(f"{k} {v:,}" for k, v in sorted(h.get("outcomes", {}).items()))
        hostile.add_row(kind, f"{h.get('sent', 0):,}", answers, h["ended"])
    console.print(hostile)
    lost, goals_ = result["lost"], result["goals"]
    console.print(
        f"acknowledged to the normal clients: {result['acknowledged']['creates']:,} creates, "
        f"{result['acknowledged']['keys_set']:,} keys set; read back from every member at zxid "
        f"{lost['at_zxid']}: "
        + ", ".join(f"member {m}: {v['count']} missing" for m, v in lost["by_member"].items())
    )
    console.print(
        f"goals: flood throughput {yes(goals_['flood']['throughput_met'])}, "
        f"flood p99 {yes(goals_['flood']['p99_met'])}, "
        f"RSS under {result['rss']['bound_mib']} MiB {yes(goals_['rss_under_bound'])}, "
        f"RSS levelled off {yes(goals_['rss_levelled_off'])}, "
        f"nothing lost {yes(goals_['nothing_lost'])}"
    )
    machine = result["machine"]
    console.print(
        f"machine: {machine['cores']} cores, load average {machine['load_average_at_start']} "
        f"at the start, {machine['load_average_at_end']} at the end"
    )
