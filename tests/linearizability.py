"""Linearizability checker for per-key versioned registers (znode data + version).

Porcupine's algorithm: Wing & Gong's search with Lowe's just-in-time
linearization over a doubly linked list of call/return entries, memoized on
(bitset of linearized ops, model state), run per key (P-compositionality: a
history is linearizable iff every key's sub-history is).

An op whose outcome is unknown (connection loss, timeout) has `ret=None`: it
may take effect at any point after its call, or never. A read of unknown
outcome changes nothing, so it is dropped; any other such op keeps its call
time, has no return entry (it returns at +infinity) and matches any result, so
the search may linearize it anywhere after its call, or leave it out.

When a key fails, its ops are cut down to a short witness, using only cuts
that keep "the witness is not linearizable" implying "the history is not": a
time cut (ops called after it are dropped, ops still running at it become
unknown), then dropping reads and ops that changed nothing (a refused create,
delete, write or cas). Dropping a write would be unsound: a later read could
then fail for a reason the real history does not have. So a witness keeps
every op that changed the state up to the failure; the report prints its end.

The search is exponential in the worst case. Measured on 2,000-op keys with
10 clients: about one configuration per op when every op completed, passing
or failing. But an unknown-outcome op stays pending for the rest of the
history, so a failing key with dozens of them, mixed with creates and deletes
that reset versions, can exhaust the budget (CheckInconclusive, never a pass).
Rotate keys, as Jepsen does, to keep each key's history short.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

KINDS = ("read", "write", "cas", "create", "delete")
# Results of writes, cas, creates and deletes that left the register unchanged.
NO_EFFECT_RESULTS = ("BadVersion", "NoNode", "NodeExists")
MAX_STATES = 300_000  # per key: configurations explored before giving up (a few seconds)
MINIMIZE_BUDGET = 100_000  # configurations plus ops searched while shortening a witness
UNSEEN = object()  # stands for every value that no completed read returned
WITNESS_LINES = 40  # a longer witness prints only its last ops

State = tuple[Hashable, int] | None  # (value, version), or None: no such key


@dataclass(frozen=True)
class Op:
    """One client operation on one key; times come from one monotonic clock.

    `ret is None` means the outcome is unknown, and `result` is then ignored.
    Values must be hashable once lists are made tuples (as JSON gives them).
    """

    client: int
    call: float
    ret: float | None
    kind: str
    key: str
    arg: object
    result: object


@dataclass(frozen=True)
class Result:
    """The verdict; when not ok, the first failing key and a short witness."""

    ok: bool
    key: str | None = None
    witness: tuple[Op, ...] = ()
    key_ops: int = 0  # how many ops the failing key had before minimizing

    def __str__(self) -> str:
        if self.ok:
            return "linearizable"
        ops = sorted(self.witness, key=lambda op: op.call)
        lines = [
            f"key {self.key!r} is not linearizable; witness: {len(ops)} "
            f"of its {self.key_ops} ops, by call time:"
        ]
        if len(ops) > WITNESS_LINES:
            lines.append(f"  ... {len(ops) - WITNESS_LINES} earlier ops, in Result.witness")
        lines += [f"  {format_op(op)}" for op in ops[-WITNESS_LINES:]]
        return "\n".join(lines)


class CheckInconclusive(Exception):
    """The search for one key exceeded its budget: neither a pass nor a failure."""

    def __init__(self, key: str, explored: int) -> None:
        super().__init__(
            f"key {key!r}: gave up after {explored} configurations; rotate keys sooner"
        )
        self.key = key
        self.explored = explored


def format_op(op: Op) -> str:
    """One readable line: client, [call, return], op and result."""
    ret = "?" if op.ret is None else f"{op.ret:.6f}"
    arg = "" if op.arg is None else f" {op.arg!r}"
    result = "unknown" if op.ret is None else repr(op.result)
    return f"client {op.client:>3} [{op.call:.6f}, {ret}] {op.kind}{arg} -> {result}"


def step(state: State, kind: str, arg: Any) -> tuple[object, State]:
    """The register model: (result, next state) of `kind(arg)` in `state`.

    ZooKeeper semantics: create starts at version 0; write and cas add one; a
    missing key refuses write, cas and delete with NoNode (before any version
    check, as ZooKeeper does).
    """
    if kind == "read":
        return state, state
    if kind == "create":
        return ("NodeExists", state) if state is not None else ("ok", (arg, 0))
    if state is None:
        return "NoNode", None
    if kind == "write":
        return state[1] + 1, (arg, state[1] + 1)
    if kind == "cas":
        expected, value = arg
        if expected != state[1]:
            return "BadVersion", state
        return state[1] + 1, (value, state[1] + 1)
    return "ok", None  # delete


def check(history: Sequence[Op], initial: State = None, max_states: int = MAX_STATES) -> Result:
    """Check every key independently against the register model.

    `initial` is every key's state before the history. Raises CheckInconclusive
    when a key needs more than `max_states` configurations of the search.
    """
    by_key: dict[str, list[Op]] = defaultdict(list)
    for op in history:
        _validate(op)
        by_key[op.key].append(op)
    for key, ops in by_key.items():
        outcome = _search(ops, initial, max_states)
        if outcome.verdict is None:
            raise CheckInconclusive(key, outcome.explored)
        if not outcome.verdict:
            witness = _minimize(ops, initial, outcome.furthest)
            return Result(ok=False, key=key, witness=witness, key_ops=len(ops))
    return Result(ok=True)


def _validate(op: Op) -> None:
    if op.kind not in KINDS:
        raise ValueError(f"unknown op kind {op.kind!r} in {op}")
    if op.ret is not None and op.ret < op.call:
        raise ValueError(f"op returns before its call: {op}")
    if op.kind == "cas" and not (isinstance(op.arg, list | tuple) and len(op.arg) == 2):
        raise ValueError(f"cas takes (expected_version, value): {op}")


def _freeze(value: Any) -> Any:
    """Lists to tuples, so results and states loaded from JSON compare and hash."""
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


class _Outcome(NamedTuple):
    verdict: bool | None  # None: the budget ran out
    explored: int  # configurations visited
    furthest: float  # a failed search linearized every op returning before this


def _search(ops: Sequence[Op], initial: State, max_states: int) -> _Outcome:
    """Lowe's memoized just-in-time linearization search over one key's ops.

    A completed op that fits and changes nothing (a read, a refused write...)
    is linearized at once, with no alternative tried: moving it to the front of
    any valid continuation keeps that valid. This avoids trying every order of
    concurrent reads. Three more reductions keep unknown-outcome ops from
    multiplying the configurations, sound as such an op may never take effect:
    * values no completed read returned are all replaced by UNSEEN: only reads
      look at values, so those states behave alike;
    * an unknown op is linearized only if it changes the state, and only after
      every earlier-called unknown op with the same (kind, argument): such ops
      are interchangeable, so which of them took effect does not matter;
    * the memo subsumes: a configuration is skipped when one with the same
      completed ops and state, and a subset of its unknown ops, was visited,
      as fewer unknown ops used leaves the same continuations and more. This
      also cuts cycles of unknown ops back to one state (create, delete...).
    A valid continuation of a skipped configuration is thus always one of a
    visited configuration, and a shorter one, so an exhausted search means
    that no linearization exists.
    """
    ops = [op for op in ops if not (op.ret is None and op.kind == "read")]
    n = len(ops)
    results = [_freeze(op.result) for op in ops]
    observed = {
        r[0]
        for op, r in zip(ops, results, strict=True)
        if op.kind == "read" and op.ret is not None and isinstance(r, tuple) and len(r) == 2
    }

    def canon(value: Hashable) -> Hashable:
        return value if value in observed else UNSEEN

    kinds = [op.kind for op in ops]
    args: list[Any] = []
    for op in ops:
        arg = _freeze(op.arg)
        if op.kind == "cas":
            arg = (arg[0], canon(arg[1]))
        elif op.kind in ("write", "create"):
            arg = canon(arg)
        args.append(arg)
    unknown = [op.ret is None for op in ops]

    # Entry k is op k's call, n + k its return; 2n is the list head, -1 its end.
    # Sort by time, calls before returns on ties (both ops may then go first).
    # Unknown ops return at +infinity: they have no return entry.
    events = sorted(
        [(op.call, 0, k) for k, op in enumerate(ops)]
        + [(op.ret, 1, n + k) for k, op in enumerate(ops) if op.ret is not None]
    )
    head = 2 * n
    nxt = [-1] * (2 * n + 1)
    prv = [-1] * (2 * n + 1)
    after = [-1] * n  # an unknown op's earlier-called twin, which must go first
    last_twin: dict[tuple[str, Any], int] = {}
    last = head
    for _, _, entry in events:
        nxt[last], prv[entry] = entry, last
        last = entry
        if entry < n and unknown[entry]:
            after[entry] = last_twin.get((kinds[entry], args[entry]), -1)
            last_twin[(kinds[entry], args[entry])] = entry

    def unlink(entry: int) -> None:
        nxt[prv[entry]] = nxt[entry]
        if nxt[entry] != -1:
            prv[nxt[entry]] = prv[entry]

    def relink(entry: int) -> None:
        nxt[prv[entry]] = entry
        if nxt[entry] != -1:
            prv[nxt[entry]] = entry

    state = initial if initial is None else (canon(_freeze(initial[0])), initial[1])
    done = 0  # bitset of the completed ops linearized
    took = 0  # bitset of the unknown ops linearized
    # (done, state) -> the `took` sets visited with it, none a subset of another
    seen: dict[tuple[int, State], list[int]] = {}
    explored = 0
    returns = [op.ret for op in ops]
    furthest = -math.inf
    stack: list[tuple[int, State, bool]] = []  # (op, state before it, forced)
    pending = n - sum(unknown)  # completed ops not linearized yet: their returns are listed
    forced = False
    cur = head  # head: a new configuration; -1: a dead end
    while pending:
        if cur == head:  # try first a completed op that fits and changes nothing
            cur = k = nxt[head]
            while k < n and (unknown[k] or step(state, kinds[k], args[k]) != (results[k], state)):
                k = nxt[k]
            forced = k < n
            if forced:
                cur = k
        if 0 <= cur < n:  # a call: try to linearize op `cur` now
            if unknown[cur]:
                fits = after[cur] < 0 or took >> after[cur] & 1
                if fits:
                    _, new_state = step(state, kinds[cur], args[cur])
                    fits = new_state != state
                new_done, new_took = done, took | 1 << cur
            else:
                result, new_state = step(state, kinds[cur], args[cur])
                fits = result == results[cur]
                new_done, new_took = done | 1 << cur, took
            if fits:
                tooks = seen.setdefault((new_done, new_state), [])
                if all(t & ~new_took for t in tooks):  # no visit with fewer unknown ops
                    if explored >= max_states:
                        return _Outcome(None, explored, furthest)
                    explored += 1
                    if tooks:
                        tooks[:] = [t for t in tooks if new_took & ~t]
                    tooks.append(new_took)
                    stack.append((cur, state, forced))
                    done, took, state = new_done, new_took, new_state
                    unlink(cur)
                    if not unknown[cur]:
                        unlink(n + cur)
                        pending -= 1
                    cur = head
                    continue
            cur = -1 if forced else nxt[cur]
            continue
        # A return of an op not linearized yet, or a dead end: undo the last
        # choice that had alternatives (a forced one had none).
        if cur >= n:  # the first return: every op returning earlier is linearized
            furthest = max(furthest, returns[cur - n])
        while True:
            if not stack:
                return _Outcome(False, explored, furthest)
            k, state, forced = stack.pop()
            if unknown[k]:
                took &= ~(1 << k)
            else:
                done &= ~(1 << k)
                relink(n + k)
                pending += 1
            relink(k)
            if not forced:
                break
        cur = nxt[k]
    return _Outcome(True, explored, furthest)


def _cut(ops: Sequence[Op], t: float) -> dict[int, Op]:
    """The history as seen at time t, by index into `ops`: later calls and
    reads still running at t dropped, other ops still running at t unknown."""
    return {
        i: op if op.ret is not None and op.ret <= t else replace(op, ret=None)
        for i, op in enumerate(ops)
        if op.call <= t and (op.kind != "read" or op.ret is not None and op.ret <= t)
    }


def _minimize(ops: Sequence[Op], initial: State, furthest: float) -> tuple[Op, ...]:
    """Shorten a failing key's ops to a witness with bounded effort (see module doc).

    Works on relaxed copies (from the time cut) and returns the original ops.
    """
    budget = MINIMIZE_BUDGET

    def fails(trial: dict[int, Op]) -> bool:
        """Known to fail; False also when the budget ran out (the cut is skipped)."""
        nonlocal budget
        outcome = _search(list(trial.values()), initial, budget)
        budget -= outcome.explored + len(trial)
        return outcome.verdict is False

    # The earliest failing time cut. Failure is monotone in the cut (an earlier
    # cut is a cut of a later one), and cuts before `furthest` pass, as the
    # search's path there linearizes them. Failing checks cost the most, so
    # probe forward from `furthest` in growing steps, then bisect.
    rets = sorted({op.ret for op in ops if op.ret is not None})
    lo, hi = bisect_left(rets, furthest), len(rets) - 1
    witness = _cut(ops, rets[hi])  # the whole history but for calls after every return
    gap = 1
    while lo < hi and budget > 0:
        mid = min(lo + gap - 1, (lo + hi) // 2)
        trial = _cut(ops, rets[mid])
        if fails(trial):
            hi, witness = mid, trial
        else:
            lo, gap = mid + 1, gap * 2

    # Drop completed no-effect ops: first all but the ones at the cut (often the
    # bad read itself), then ddmin-style in halves, quarters...; a chunk stays
    # when removing it makes the failure go.
    droppable = [
        i
        for i, op in witness.items()
        if op.ret is not None and (op.kind == "read" or op.result in NO_EFFECT_RESULTS)
    ]
    early = {i for i in droppable if witness[i].ret != rets[hi]}
    trial = {i: op for i, op in witness.items() if i not in early}
    if early and budget > 0 and fails(trial):
        witness, droppable = trial, [i for i in droppable if i not in early]
    chunk = max(1, len(droppable) // 2)
    while droppable and budget > 0:
        kept: list[int] = []
        for start in range(0, len(droppable), chunk):
            part = set(droppable[start : start + chunk])
            trial = {i: op for i, op in witness.items() if i not in part}
            if budget > 0 and fails(trial):
                witness = trial
            else:
                kept += part
        if chunk == 1:
            break
        droppable = sorted(kept)
        chunk = max(1, chunk // 2)
    return tuple(ops[i] for i in sorted(witness))
