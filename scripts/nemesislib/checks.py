"""The end-of-run checks over the history and the final tree.

Each returns anomalies, each with the few operations that show it (the
witness). An unknown outcome always counts as possibly applied: it never
makes an anomaly on its own, and it explains what it could have done.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from nemesislib.history import ClientOp, Hold
from nemesislib.worker import EPH_ROOT, REG_ROOT, SEQ_ROOT
from tests.linearizability import CheckInconclusive, Op, check

REGISTER_KINDS = ("read", "write", "cas")
WRITE_KINDS = ("write", "cas", "seq", "eph-create", "eph-delete")
INITIAL = ("init", 0)  # every register before the run
SHOWN_PER_KIND = 5  # anomalies of one kind printed in full; the rest are counted
STUCK_WRITES = 5  # unknown writes in a row, while other clients' succeed, that make a stuck session


@dataclass(frozen=True)
class Node:
    """A znode at the end of the run."""

    data: str
    version: int
    owner: int  # the session owning an ephemeral, 0 for a persistent node


@dataclass(frozen=True)
class Anomaly:
    kind: str
    detail: str
    witness: tuple[str, ...] = ()

    def describe(self) -> str:
        return "\n".join([f"{self.kind}: {self.detail}", *(f"    {w}" for w in self.witness)])


Tree = dict[str, Node]


def _under(path: str, root: str) -> bool:
    """`path` is a grandchild of `root` (a register, a sequential node)."""
    return path.startswith(root + "/") and path.count("/") == root.count("/") + 2


def check_registers(
    ops: Sequence[ClientOp], tree: Tree, final_call: float, final_ret: float
) -> list[Anomaly]:
    """Each register's history, ended by the final read of the tree, is
    linearizable: this also finds an acknowledged write that was lost."""
    by_key: dict[str, list[Op]] = defaultdict(list)
    for op in ops:
        if op.kind in REGISTER_KINDS:
            result = None if op.result == "NoNode" and op.kind == "read" else op.result
            by_key[op.key].append(Op(op.client, op.call, op.ret, op.kind, op.key, op.arg, result))
    anomalies = []
    for key in sorted(set(by_key) | {p for p in tree if _under(p, REG_ROOT)}):
        node = tree.get(key)
        final = None if node is None else (node.data, node.version)
        history = [*by_key[key], Op(-1, final_call, final_ret, "read", key, None, final)]
        try:
            result = check(history, initial=INITIAL)
        except CheckInconclusive as exc:
            anomalies.append(Anomaly("linearizability check inconclusive", str(exc)))
            continue
        if not result.ok:
            lines = str(result).splitlines()
            anomalies.append(Anomaly("not linearizable", lines[0], tuple(lines[1:])))
    return anomalies


def order_violations(items: Sequence[tuple[float, float | None, int]]) -> list[tuple[int, int]]:
    """Items are (call, return or None, number). Whenever one returned before
    another was called, its number must be the smaller: the pairs (by index)
    where it is not."""
    returned = sorted((ret, i) for i, (_, ret, _) in enumerate(items) if ret is not None)
    best: int | None = None  # the highest-numbered item returned so far
    violations = []
    j = 0
    for i in sorted(range(len(items)), key=lambda i: items[i][0]):
        call, _, number = items[i]
        while j < len(returned) and returned[j][0] < call:
            k = returned[j][1]
            if best is None or items[k][2] > items[best][2]:
                best = k
            j += 1
        if best is not None and number <= items[best][2]:
            violations.append((best, i))
    return violations


def check_sequential(ops: Sequence[ClientOp], tree: Tree) -> list[Anomaly]:
    """Sequential creates: every acknowledged name exists with its value, no
    name was given twice, no create applied twice or out of nowhere, and
    numbers grow in real-time order (so in each client's acknowledgment order)."""
    seq_ops = [op for op in ops if op.kind == "seq"]
    by_value = {op.arg: op for op in seq_ops}
    anomalies = []
    named: dict[str, list[ClientOp]] = defaultdict(list)
    numbered: list[tuple[ClientOp, int]] = []  # creates that took effect, and their numbers
    for op in seq_ops:
        if op.outcome != "ok":
            continue
        named[op.result].append(op)
        match = re.fullmatch(re.escape(op.key) + r"/n-(\d{10})", str(op.result))
        if match is None:
            anomalies.append(Anomaly("malformed sequential name", op.result, (op.describe(),)))
            continue
        numbered.append((op, int(match[1])))
        node = tree.get(op.result)
        if node is None:
            anomalies.append(Anomaly("acknowledged create lost", op.result, (op.describe(),)))
        elif node.data != op.arg:
            anomalies.append(
                Anomaly(
                    "acknowledged name holds another value",
                    f"{op.result} holds {node.data!r}",
                    _describe([op, by_value.get(node.data)]),
                )
            )
    for name, acked in named.items():
        if len(acked) > 1:
            anomalies.append(Anomaly("sequential name given twice", name, _describe(acked)))
    places: dict[str, list[str]] = defaultdict(list)
    for path, node in sorted(tree.items()):
        if not _under(path, SEQ_ROOT):
            continue
        places[node.data].append(path)
        op = by_value.get(node.data)
        if op is None:
            anomalies.append(Anomaly("node no client created", f"{path} holds {node.data!r}"))
        elif op.outcome == "unknown" and op.key == path.rsplit("/", 1)[0]:
            numbered.append((op, int(path[-10:])))
    for value, paths in places.items():
        if len(paths) > 1:
            anomalies.append(
                Anomaly(
                    "one create applied twice",
                    f"value {value!r} under {', '.join(paths)}",
                    _describe([by_value.get(value)]),
                )
            )
    by_parent: dict[str, list[tuple[ClientOp, int]]] = defaultdict(list)
    for op, number in numbered:
        by_parent[op.key].append((op, number))
    for parent, created in sorted(by_parent.items()):
        items = [(op.call, op.ret, number) for op, number in created]
        for earlier, later in order_violations(items):
            anomalies.append(
                Anomaly(
                    "sequence numbers out of real-time order",
                    f"under {parent}: the first create returned before the second was called",
                    _describe([created[earlier][0], created[later][0]]),
                )
            )
    return anomalies


def check_ephemerals(
    ops: Sequence[ClientOp], tree: Tree, possibly_live: set[int], surely_live: set[int]
) -> list[Anomaly]:
    """Every ephemeral at the end belongs to a session that may be alive (the
    sessions the workers held when told to stop) and to the session that
    created it; every acknowledged ephemeral of a session alive after the
    final read is there unless a delete explains it; a delete acknowledged
    stays deleted; a fresh name is never answered NodeExists."""
    creates = {op.key: op for op in ops if op.kind == "eph-create"}
    deletes: dict[str, list[ClientOp]] = defaultdict(list)
    for op in ops:
        if op.kind == "eph-delete":
            deletes[op.key].append(op)
    anomalies = []
    for path, node in sorted(tree.items()):
        create = creates.get(path)
        if node.owner and node.owner not in possibly_live:
            anomalies.append(
                Anomaly(
                    "ephemeral of a dead session",
                    f"{path} is owned by session {node.owner}",
                    _describe([create]),
                )
            )
        if not path.startswith(EPH_ROOT + "/"):
            continue
        if create is None:
            anomalies.append(Anomaly("node no client created", path))
        elif node.owner != create.session:
            anomalies.append(
                Anomaly(
                    "ephemeral owned by another session",
                    f"{path} is owned by {node.owner}, created by session {create.session}",
                    _describe([create]),
                )
            )
        gone = [d for d in deletes[path] if d.outcome == "ok" and d.result is True]
        if gone:
            anomalies.append(
                Anomaly("deleted ephemeral came back", path, _describe([create, *gone]))
            )
    for path, op in sorted(creates.items()):
        if op.outcome != "ok":
            continue
        if op.result == "NodeExists":
            anomalies.append(
                Anomaly("create of a fresh name answered NodeExists", path, (op.describe(),))
            )
        elif op.session in surely_live and not deletes[path] and path not in tree:
            anomalies.append(Anomaly("acknowledged ephemeral lost", path, (op.describe(),)))
    for path, ops_on in sorted(deletes.items()):
        for op in ops_on:
            if op.outcome == "ok" and op.result == "NoNode":
                anomalies.append(
                    Anomaly(
                        "acknowledged ephemeral gone before its owner deleted it",
                        path,
                        _describe([creates.get(path), op]),
                    )
                )
    return anomalies


def check_locks(holds: Sequence[Hold]) -> list[Anomaly]:
    """Fencing tokens are integers, unique, and greater for every holder whose
    acquire was called after another's had returned. And mutual exclusion where
    it is provable: a holder whose lock node a linearizable read called at time
    c still found held the lock until c (its node existed, and a later
    contender, with a greater token, waits for that node to go), so no holder
    with a greater token may have acquired before c.

    A holder without a token lost its session before it read one (the recipe
    then says None): it is left out."""
    anomalies = []
    valid = []
    for hold in holds:
        if isinstance(hold.token, int) and not isinstance(hold.token, bool):
            valid.append(hold)
        elif hold.token is not None:
            anomalies.append(Anomaly("fencing token not an integer", repr(hold.token)))
    by_token: dict[int, list[Hold]] = defaultdict(list)
    for hold in valid:
        by_token[hold.token].append(hold)
    for token, same in sorted(by_token.items()):
        if len(same) > 1:
            anomalies.append(
                Anomaly("fencing token given twice", str(token), tuple(h.describe() for h in same))
            )
    items = [(h.invoked, h.acquired, h.token) for h in valid]
    for earlier, later in order_violations(items):
        anomalies.append(
            Anomaly(
                "fencing tokens out of acquisition order",
                "the first holder had acquired before the second called acquire",
                (valid[earlier].describe(), valid[later].describe()),
            )
        )
    for first in valid:
        if first.confirmed is None:
            continue
        for second in valid:
            if second.token > first.token and second.acquired < first.confirmed:
                anomalies.append(
                    Anomaly(
                        "two holders at once",
                        "the second acquired while the first's lock node still stood",
                        (first.describe(), second.describe()),
                    )
                )
    return anomalies


def overlapping_holds(holds: Sequence[Hold]) -> int:
    """Pairs of holders whose [acquired, releasing] overlap: not an anomaly
    when the fencing tokens order them (a fenced resource then refuses the
    older holder), but worth counting."""
    ordered = sorted(holds, key=lambda h: h.acquired)
    return sum(
        1
        for i, first in enumerate(ordered)
        for second in ordered[i + 1 :]
        if second.acquired < first.releasing
    )


def check_progress(
    ops: Sequence[ClientOp], workers: Iterable[str], healed: float, stopped: float
) -> list[Anomaly]:
    """Liveness once everything is healed: each worker that ran from the heal
    to the stop completed an operation then, and not all its writes failed."""
    anomalies = []
    for worker in sorted(workers):
        mine = sorted((op for op in ops if op.worker == worker), key=lambda op: op.call)
        done = [op for op in mine if op.ret is not None and healed <= op.ret <= stopped]
        writes = [op for op in mine if op.kind in WRITE_KINDS and healed <= op.call <= stopped]
        window = f"between the heal ({healed:.1f}s) and the stop ({stopped:.1f}s)"
        if not done:
            anomalies.append(
                Anomaly(
                    "no progress after the heal",
                    f"worker {worker} completed no operation {window}; its last ones:",
                    _describe(mine[-3:]),
                )
            )
        elif writes and all(op.outcome != "ok" for op in writes):
            anomalies.append(
                Anomaly(
                    "writes refused after the heal",
                    f"worker {worker}: none of its {len(writes)} writes {window} succeeded",
                    _describe(writes[-3:]),
                )
            )
    return anomalies


def check_stuck_sessions(ops: Sequence[ClientOp]) -> list[Anomaly]:
    """Liveness during the run: a worker whose writes keep ending unknown
    (STUCK_WRITES in a row) while other workers' writes are acknowledged has
    a session the cluster no longer serves. Each such write either waited
    out the server's request timeout or was refused at once; a fault that
    cuts one member off lasts too short for that many timeouts."""
    anomalies = []
    acked = sorted(op.ret for op in ops if op.kind in WRITE_KINDS and op.outcome == "ok")
    by_worker: dict[str, list[ClientOp]] = defaultdict(list)
    for op in sorted(ops, key=lambda op: op.call):
        if op.kind in WRITE_KINDS:
            by_worker[op.worker].append(op)
    for worker, writes in sorted(by_worker.items()):
        run: list[ClientOp] = []
        for op in [*writes, None]:
            if op is not None and op.outcome == "unknown":
                run.append(op)
                continue
            if len(run) >= STUCK_WRITES:
                first, last = run[0].call, run[-1].call
                others = bisect_right(acked, last) - bisect_left(acked, first)
                if others:
                    anomalies.append(
                        Anomaly(
                            "a session's writes kept failing while others' succeeded",
                            f"worker {worker}: {len(run)} writes in a row from {first:.1f}s "
                            f"to {last:.1f}s, while {others} writes of others were acknowledged",
                            _describe([*run[:3], run[-1]]),
                        )
                    )
            run = []
    return anomalies


def check_client_errors(ops: Iterable[ClientOp]) -> list[Anomaly]:
    """The SDK raised something other than its own errors."""
    return [
        Anomaly("SDK raised an unexpected exception", op.error, (op.describe(),))
        for op in ops
        if op.unexpected
    ]


def _describe(ops: Iterable[Any]) -> tuple[str, ...]:
    return tuple(op.describe() for op in ops if op is not None)


def shown(anomalies: Sequence[Anomaly]) -> tuple[list[Anomaly], int]:
    """The anomalies to print in full (a few of each kind), and how many are not."""
    seen: dict[str, int] = defaultdict(int)
    kept = []
    for anomaly in anomalies:
        seen[anomaly.kind] += 1
        if seen[anomaly.kind] <= SHOWN_PER_KIND:
            kept.append(anomaly)
    return kept, len(anomalies) - len(kept)
