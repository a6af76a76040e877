"""The workers' history files read back as operations and lock holds.

Each worker writes JSON lines: "invoke" before an operation is sent, then
"ok" (it happened, with its result), "fail" (it definitely did not) or "info"
(unknown). An invoke with no completion is an operation in flight when the
worker was SIGKILLed: unknown too. Jepsen's rule holds: after an unknown
outcome the worker continues as a new logical client, since its old request
may still take effect while it issues the next one.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ClientOp:
    """One operation; times are seconds since the run's start, on the
    machine's monotonic clock (shared by every process)."""

    worker: str  # "slot.incarnation"
    client: int  # logical client
    kind: str
    key: str
    arg: Any
    session: int
    call: float
    ret: float | None  # None: the outcome is unknown
    outcome: str  # "ok", "fail" or "unknown"
    result: Any = None  # the answer when ok; a refusal ("BadVersion", ...) is an answer too
    error: str = ""  # why it failed or is unknown
    unexpected: bool = False  # the SDK raised something it should not have

    def describe(self) -> str:
        ret = "?" if self.ret is None else f"{self.ret:.3f}"
        arg = "" if self.arg is None else f" {self.arg!r}"
        what = {"ok": repr(self.result), "fail": f"fail {self.error}"}.get(
            self.outcome, f"unknown ({self.error or 'in flight when killed'})"
        )
        return (
            f"worker {self.worker:>5} client {self.client:>4} [{self.call:.3f}, {ret}] "
            f"{self.kind} {self.key}{arg} -> {what}"
        )


@dataclass(frozen=True)
class Hold:
    """One lock holder: from acquire's call and return to release's call
    (or the worker's death), with its fencing token."""

    worker: str
    token: Any  # None: the session was lost before the token was read
    invoked: float
    acquired: float
    releasing: float  # when it stopped acting as holder; inf if never known
    confirmed: float | None  # a read called then found its lock node still there

    def describe(self) -> str:
        end = "never" if math.isinf(self.releasing) else f"{self.releasing:.3f}"
        proof = "" if self.confirmed is None else f", its node seen at {self.confirmed:.3f}"
        return (
            f"worker {self.worker:>5} token {self.token!r}: acquire called {self.invoked:.3f}, "
            f"held from {self.acquired:.3f} to {end}{proof}"
        )


@dataclass
class History:
    ops: list[ClientOp] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    sessions: dict[int, str] = field(default_factory=dict)  # session -> worker


def load(files: dict[str, Path], t0: float, deaths: dict[str, float]) -> History:
    """Every worker's history file (by worker name); `deaths` are the times
    the run SIGKILLed workers, which end any hold they had."""
    history = History()
    logical = itertools.count()
    for worker, path in sorted(files.items()):
        client = next(logical)
        invokes: dict[int, dict[str, Any]] = {}
        acquired: dict[int, dict[str, Any]] = {}
        confirmed: dict[int, float] = {}
        releasing: dict[int, float] = {}
        done: set[int] = set()
        for line in path.read_text().splitlines():
            record = json.loads(line)
            kind, at = record["t"], record["time"] - t0
            if kind == "session":
                history.sessions[record["id"]] = worker
            elif kind == "invoke":
                invokes[record["op"]] = {**record, "time": at, "client": client}
            elif kind == "acquired":
                acquired[record["op"]] = {**record, "time": at}
            elif kind == "confirmed":
                confirmed[record["op"]] = record["called"] - t0
            elif kind == "releasing":
                releasing[record["op"]] = at
            elif kind in ("ok", "fail", "info"):
                op = record["op"]
                done.add(op)
                invoke = invokes[op]
                history.ops.append(_op(worker, invoke, record, at))
                if kind == "info":
                    client = next(logical)
                if op in acquired:
                    end = releasing.get(op, math.inf)
                    history.holds.append(
                        _hold(worker, invoke, acquired[op], end, confirmed.get(op))
                    )
        death = deaths.get(worker, math.inf) - t0
        for op, invoke in invokes.items():
            if op not in done:  # in flight when the worker was killed
                history.ops.append(_op(worker, invoke, None, None))
                if op in acquired:
                    end = releasing.get(op, death)
                    history.holds.append(
                        _hold(worker, invoke, acquired[op], end, confirmed.get(op))
                    )
    return history


def _op(
    worker: str, invoke: dict[str, Any], end: dict[str, Any] | None, at: float | None
) -> ClientOp:
    outcome = {"ok": "ok", "fail": "fail"}.get(end["t"] if end else "", "unknown")
    return ClientOp(
        worker=worker,
        client=invoke["client"],
        kind=invoke["kind"],
        key=invoke["key"],
        arg=invoke["arg"],
        session=invoke["session"],
        call=invoke["time"],
        ret=at if outcome != "unknown" else None,
        outcome=outcome,
        result=end.get("result") if end else None,
        error=end.get("error", "") if end else "",
        unexpected=bool(end and end.get("unexpected")),
    )


def _hold(
    worker: str,
    invoke: dict[str, Any],
    acquired: dict[str, Any],
    releasing: float,
    confirmed: float | None,
) -> Hold:
    return Hold(
        worker=worker,
        token=acquired["token"],
        invoked=invoke["time"],
        acquired=acquired["time"],
        releasing=releasing,
        confirmed=confirmed,
    )
