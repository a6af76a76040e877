"""The report: one row per figure, coord beside ZooKeeper (and etcd, when
run) with the ratios and each side's CPU split, then coord's traffic per
workload (what its members counted), then one request at a time (each
workload with the client on the leader's member and on a follower's), then,
when run, the cost of coord's TLS and ACL variants (each beside plain coord
and ZooKeeper), as rich tables or as Markdown for BENCHMARKS.md."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from benchlib import latency
from benchlib.worker import WORKLOADS

OTHERS = {"zookeeper": "ZooKeeper", "etcd": "etcd"}  # each compared with coord
DETAIL = ["p50 / p99 / max ms", "CPU srv / cli / other %"]
CAPTION = (
    "coord / ZK above 1 favours coord for ops/s, below 1 for the other rows; "
    "CPU in % of one core: servers / load generators / rest of the machine"
)


def others(results: dict[str, Any]) -> list[str]:
    """The systems beside coord in the table: ZooKeeper always (its columns
    say "-" when it was not run), etcd when it was run."""
    return ["zookeeper", *(["etcd"] if "etcd" in results else [])]


def headers(results: dict[str, Any]) -> list[str]:
    names = others(results)
    cells = ["figure", "coord", *DETAIL]
    for name in names:
        cells += [OTHERS[name], *DETAIL]
    return cells + [f"coord / {'ZK' if n == 'zookeeper' else n}" for n in names]


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


def ratios(results: dict[str, Any], other: str = "zookeeper") -> dict[str, float]:
    """coord's figure divided by `other`'s, for every figure both have."""
    if "coord" not in results or other not in results:
        return {}
    coord, theirs = _figures(results["coord"]), _figures(results[other])
    return {k: round(coord[k][0] / theirs[k][0], 3) for k in coord if k in theirs and theirs[k][0]}


def rows(results: dict[str, Any], znodes: int) -> list[list[str]]:
    """The table's cells: throughput rows, then fail-over, memory, restart."""
    labels = {name: f"{name} ops/s" for name in WORKLOADS}
    labels |= {
        "failover": "write gap after leader SIGKILL, median ms",
        "memory": f"RSS per znode, bytes ({znodes:,} znodes)",
        "restart": f"follower restart with {znodes:,} znodes, s",
    }
    systems = ["coord", *others(results)]
    per_system = {name: _figures(results[name]) for name in systems if name in results}
    ratio = {name: ratios(results, name) for name in others(results)}
    table = []
    for key, label in labels.items():
        row = [label]
        for name in systems:
            if key not in per_system.get(name, {}):
                skipped = key in results.get(name, {}).get("skipped", {})
                row += ["skipped" if skipped else "-", "", ""]
                continue
            value, detail, cpu = per_system[name][key]
            number = f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"
            split = f"{cpu['server_pct']:.0f} / {cpu['client_pct']:.0f} / {cpu['other_pct']:.0f}"
            row += [number, detail, split]
        row += [f"{ratio[n][key]:.2f}" if key in ratio[n] else "-" for n in others(results)]
        table.append(row)
    return table


def title(results: dict[str, Any]) -> str:
    beside = " and ".join(["Apache ZooKeeper", *(["etcd"] if "etcd" in results else [])])
    return f"coord vs {beside}, 3 members each"


def caption(results: dict[str, Any]) -> str:
    if "etcd" not in results:
        return CAPTION
    return CAPTION.replace("coord / ZK", "coord / ZK and coord / etcd", 1)


TRAFFIC = {
    "requests_per_client_frame": "requests per client frame",
    "requests_per_frame_back": "requests per frame back",
    "commands_per_slot": "commands per log slot",
    "peer_frames_per_request": "peer frames per request",
    "syncs_per_request": "fsyncs per request",
}
TRAFFIC_CAPTION = "summed over coord's three members, from their counters (coordctl status)"


def traffic_rows(results: dict[str, Any]) -> list[list[str]]:
    """coord's counters per workload, one row per ratio (none if not taken)."""
    workloads = results.get("coord", {}).get("workloads", {})
    taken = [name for name in WORKLOADS if "traffic" in workloads.get(name, {})]
    if not taken:
        return []
    return [
        [label, *(f"{workloads[name]['traffic'][key]:,.3g}" for name in taken)]
        for key, label in TRAFFIC.items()
    ] + [["(workload)", *taken]]


def throughput_taken(results: dict[str, Any]) -> bool:
    """False after --latency: the first table would be all dashes."""
    return any("workloads" in system for system in results.values())


LATENCY_LABELS = {
    "set": "set",
    "get": "get",
    "create_delete": "create + delete",
    "sync_get": "sync + get",
    "lock": "Lock acquire + release",
    "election": "Election hand-over",
    "config": "config change seen by a DataWatch",
}
QUANTILES = ("p50_ms", "p99_ms", "max_ms")
# coord's ways in measured one at a time: its SDK (on the session port, and on
# the gRPC stream), and kazoo on its ZooKeeper door
ONE_AT_A_TIME = {
    "coord": "coord",
    "coord-grpc": "coord on gRPC",
    "coord-zk": "kazoo on coord-zk",
}
LATENCY_CAPTION = (
    "one client, one request in flight, every session on the member named (the leader's or "
    "a follower's); below 1 favours coord; an Election hand-over runs from the leader's "
    "session close to the next contender's function, a config change from the set to a "
    "DataWatch in another session seeing it; coord: its SDK on the members' session ports; coord "
    "on gRPC: the same SDK on the gRPC Session stream (use_session_port=False); coord-zk: "
    "kazoo, ZooKeeper's own client, through coord's ZooKeeper door (--zk-listen)"
)


def latency_of(results: dict[str, Any], system: str, placement: str) -> dict[str, Any]:
    """One system's one-at-a-time figures by workload ({} if not taken)."""
    return results.get(system, {}).get("latency", {}).get(placement, {}).get("workloads", {})


def latency_ratios(
    results: dict[str, Any], system: str = "coord"
) -> dict[str, dict[str, dict[str, float]]]:
    """`system`'s p50, p99 and max divided by ZooKeeper's, per placement and
    workload: {"leader": {"set": {"p50_ms": 2.1, ...}, ...}, ...}."""
    out = {}
    for placement in latency.PLACEMENTS:
        ours, theirs = (latency_of(results, s, placement) for s in (system, "zookeeper"))
        pairs = {n: (w, theirs[n]) for n, w in ours.items() if n in theirs}
        divided = {
            n: {q: round(a[q] / b[q], 3) for q in QUANTILES}
            for n, (a, b) in pairs.items()
            if all(b[q] for q in QUANTILES)
        }
        if divided:
            out[placement] = divided
    return out


def latency_systems(results: dict[str, Any]) -> list[str]:
    """Those of coord's ways in that were measured one at a time."""
    return [s for s in ONE_AT_A_TIME if any(latency_of(results, s, p) for p in latency.PLACEMENTS)]


def latency_headers(results: dict[str, Any]) -> list[str]:
    ours = latency_systems(results) or ["coord"]
    headers = ["one at a time", "client on"]
    headers += [f"{ONE_AT_A_TIME[s]} p50 / p99 / max ms" for s in ours]
    headers += ["ZooKeeper p50 / p99 / max ms"]
    return headers + [f"{ONE_AT_A_TIME[s]} / ZK p50 / p99 / max" for s in ours]


def latency_rows(results: dict[str, Any]) -> list[list[str]]:
    """workload x placement: coord (and kazoo on its ZooKeeper door, if
    measured) and ZooKeeper, with the ratios (none if not taken)."""
    ours = latency_systems(results) or ["coord"]
    ratios = {s: latency_ratios(results, s) for s in ours}

    def cell(figures: dict[str, float] | None) -> str:
        return " / ".join(f"{figures[q]:.2f}" for q in QUANTILES) if figures else "-"

    table = []
    for name, label in LATENCY_LABELS.items():
        for placement in latency.PLACEMENTS:
            taken = [latency_of(results, s, placement).get(name) for s in (*ours, "zookeeper")]
            if any(taken):
                divided = [ratios[s].get(placement, {}).get(name) for s in ours]
                table.append([label, placement, *map(cell, taken), *map(cell, divided)])
    return table


def print_table(results: dict[str, Any], znodes: int, console: Console) -> None:
    if throughput_taken(results):
        table = Table(*headers(results), title=title(results), caption=caption(results))
        for row in rows(results, znodes):
            table.add_row(*row)
        console.print(table)
    traffic = traffic_rows(results)
    if traffic:
        table = Table("coord", *traffic[-1][1:], title="coord's traffic", caption=TRAFFIC_CAPTION)
        for row in traffic[:-1]:
            table.add_row(*row)
        console.print(table)
    if body := latency_rows(results):
        table = Table(
            *latency_headers(results), title="one request at a time", caption=LATENCY_CAPTION
        )
        for row in body:
            table.add_row(*row)
        console.print(table)
    print_costs(results, console)


def _markdown_table(cells: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(cells) + " |", "|" + " --- |" * len(cells)]
    return lines + ["| " + " | ".join(row) + " |" for row in body]


def markdown(results: dict[str, Any], znodes: int) -> str:
    lines = []
    if throughput_taken(results):
        lines += [*_markdown_table(headers(results), rows(results, znodes)), "", caption(results)]
    traffic = traffic_rows(results)
    if traffic:
        cells = ["coord's traffic", *traffic[-1][1:]]
        lines += ["", *_markdown_table(cells, traffic[:-1]), "", TRAFFIC_CAPTION]
    if body := latency_rows(results):
        lines += ["", *_markdown_table(latency_headers(results), body), "", LATENCY_CAPTION]
    if costs := markdown_costs(results):
        lines += ["", costs]
    return "\n".join(lines).strip("\n")


VARIANTS = {
    "coord-tls": "coord TLS",
    "coord-acl": "coord ACL",
    "coord-grpc": "coord on gRPC",
    "coord-zk": "coord-zk (kazoo)",
}
BASELINES = {"coord": "coord", "zookeeper": "ZooKeeper"}  # what each variant is divided by
COSTED = ("ops_per_s", "p50_ms", "p99_ms")
COST_CAPTION = (
    "each variant's ops/s, p50 and p99 divided by plain coord's (its cost: ops/s below 1, "
    "latency above 1) and by ZooKeeper's (no TLS, no ACLs); CPU in microseconds per request, "
    "the three servers together / the load generators together; other CPU: the rest of the "
    "machine meanwhile, in % of one core (a busy machine makes the ratios noise)"
)


def variant_ratios(results: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """For each variant run and each baseline run, the variant's ops/s, p50
    and p99 divided by the baseline's, per workload: {"coord-tls / coord":
    {"set": {"ops_per_s": 0.9, "p50_ms": 1.1, "p99_ms": 1.05}, ...}, ...}."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for variant in VARIANTS:
        for baseline in BASELINES:
            mine = results.get(variant, {}).get("workloads", {})
            theirs = results.get(baseline, {}).get("workloads", {})
            both = [name for name in WORKLOADS if name in mine and name in theirs]
            if both:
                out[f"{variant} / {baseline}"] = {
                    name: {k: round(mine[name][k] / theirs[name][k], 3) for k in COSTED}
                    for name in both
                }
    return out


def cost_rows(results: dict[str, Any]) -> list[list[str]]:
    """Per workload, plain coord, each variant and ZooKeeper, with the
    variants' ratios to plain coord and to ZooKeeper (none if no variant ran)."""
    if not any(v in results for v in VARIANTS):
        return []
    ratio = variant_ratios(results)
    names = {"coord": "coord", **VARIANTS, "zookeeper": "ZooKeeper"}
    table = []
    for workload in WORKLOADS:
        for system, label in names.items():
            w = results.get(system, {}).get("workloads", {}).get(workload)
            if w is None:
                continue
            cpu = f"{w['cpu']['server_us_per_op']:,.0f} / {w['cpu']['client_us_per_op']:,.0f}"
            row = [workload, label, f"{w['ops_per_s']:,.0f}", f"{w['p50_ms']:.1f}"]
            row += [f"{w['p99_ms']:.1f}", cpu, f"{w['cpu']['other_pct']:.0f}"]
            for baseline in BASELINES:
                r = ratio.get(f"{system} / {baseline}", {}).get(workload)
                row.append(" / ".join(f"{r[k]:.2f}" for k in COSTED) if r else "-")
            table.append(row)
    return table


COST_HEADERS = ["workload", "system", "ops/s", "p50 ms", "p99 ms", "CPU us/op srv / cli"]
COST_HEADERS += ["other CPU %"]
COST_HEADERS += [f"ops/s, p50, p99 / {label}" for label in BASELINES.values()]


def print_costs(results: dict[str, Any], console: Console) -> None:
    body = cost_rows(results)
    if body:
        title = "coord's variants: TLS, ACLs, kazoo on its ZooKeeper door"
        table = Table(*COST_HEADERS, title=title, caption=COST_CAPTION)
        for row in body:
            table.add_row(*row)
        console.print(table)


def markdown_costs(results: dict[str, Any]) -> str:
    body = cost_rows(results)
    return "\n".join([*_markdown_table(COST_HEADERS, body), "", COST_CAPTION]) if body else ""
