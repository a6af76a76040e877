"""The report: one row per figure, coord beside ZooKeeper with the ratio and
each side's CPU split, as a rich table or as Markdown for BENCHMARKS.md."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from benchlib.worker import WORKLOADS

SYSTEMS = ("coord", "zookeeper")
HEADERS = [
    "figure",
    "coord",
    "p50 / p99 / max ms",
    "CPU srv / cli / other %",
    "ZooKeeper",
    "p50 / p99 / max ms",
    "CPU srv / cli / other %",
    "coord / ZK",
]
CAPTION = (
    "coord / ZK above 1 favours coord for ops/s, below 1 for the other rows; "
    "CPU in % of one core: servers / load generators / rest of the machine"
)


def _figures(system: dict[str, Any]) -> dict[str, tuple[float, str, dict[str, Any]]]:
    """Each figure of one system that was taken: (value, detail, cpu)."""
    out: dict[str, tuple[float, str, dict[str, Any]]] = {}
    for name, w in system.get("workloads", {}).items():
        latency = f"{w['p50_ms']:.1f} / {w['p99_ms']:.1f} / {w['max_ms']:.0f}"
        out[name] = (w["ops_per_s"], latency, w["cpu"])
    if f := system.get("failover"):
        gaps = "gaps " + ", ".join(f"{g:.0f}" for g in f["gaps_ms"])
        out["failover"] = (f["median_ms"], gaps, f["cpu"])
    if m := system.get("memory"):
        rss = "RSS MiB " + ", ".join(f"{r:.0f}" for r in m["rss_after_mib"])
        if "live_heap_bytes_per_znode" in m:
            rss += f"; live heap {m['live_heap_bytes_per_znode']:,.0f} B/znode"
        out["memory"] = (m["bytes_per_znode"], rss, m["cpu"])
    if r := system.get("restart"):
        ready = f"member {r['member']}, ready after {r['ready_s']:.2f}"
        out["restart"] = (r["seconds"], ready, r["cpu"])
    return out


def ratios(results: dict[str, Any]) -> dict[str, float]:
    """coord's figure divided by ZooKeeper's, for every figure both have."""
    if not all(name in results for name in SYSTEMS):
        return {}
    coord, zk = _figures(results["coord"]), _figures(results["zookeeper"])
    return {k: round(coord[k][0] / zk[k][0], 3) for k in coord if k in zk and zk[k][0]}


def rows(results: dict[str, Any], znodes: int) -> list[list[str]]:
    """The table's cells: throughput rows, then fail-over, memory, restart."""
    labels = {name: f"{name} ops/s" for name in WORKLOADS}
    labels |= {
        "failover": "write gap after leader SIGKILL, median ms",
        "memory": f"RSS per znode, bytes ({znodes:,} znodes)",
        "restart": f"follower restart with {znodes:,} znodes, s",
    }
    per_system = {name: _figures(results[name]) for name in SYSTEMS if name in results}
    ratio = ratios(results)
    table = []
    for key, label in labels.items():
        row = [label]
        for name in SYSTEMS:
            if key not in per_system.get(name, {}):
                row += ["-", "", ""]
                continue
            value, detail, cpu = per_system[name][key]
            number = f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"
            split = f"{cpu['server_pct']:.0f} / {cpu['client_pct']:.0f} / {cpu['other_pct']:.0f}"
            row += [number, detail, split]
        row.append(f"{ratio[key]:.2f}" if key in ratio else "-")
        table.append(row)
    return table


def print_table(results: dict[str, Any], znodes: int, console: Console) -> None:
    table = Table(*HEADERS, title="coord vs Apache ZooKeeper, 3 members each", caption=CAPTION)
    for row in rows(results, znodes):
        table.add_row(*row)
    console.print(table)


def markdown(results: dict[str, Any], znodes: int) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + " --- |" * len(HEADERS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results, znodes)]
    return "\n".join([*lines, "", CAPTION])
