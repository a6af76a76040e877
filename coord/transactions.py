"""A multi: its ops applied all or nothing, under one cap on the nodes the
whole transaction may make or remove.

On the first failure the tree puts back every node and session the earlier
ops touched (TreeState keeps their copies meanwhile) and the quotas' usage,
and the result names the op that failed.
"""

from __future__ import annotations

from coord.op_checks import Caller
from coord.outcome import NODE_EVENTS, Code, Event, TreeError
from coord.tree_state import MAX_NODES_TOUCHED, TreeState
from coord.wire import log_pb2
from coord.writes import run_op
from coord_api.wire import client_pb2 as pb


def multi(
    tree: TreeState,
    zxid: int,
    time_ms: int,
    command: log_pb2.Command,
    caller: Caller,
    events: list[Event],
) -> pb.MultiResponse:
    """All or nothing: on the first failure undo what the earlier ops did."""
    ops = command.multi.ops
    tree.begin_undo()
    usage = tree.quotas.usage()
    results: list[pb.OpResult] = []
    nodes_touched = 0  # made or removed: the whole transaction shares one cap
    try:
        for index, op in enumerate(ops):
            kind = op.WhichOneof("op")
            try:
                if kind is None:
                    raise TreeError(Code.BAD_ARGUMENTS, f"op {index} has no operation")
                before = len(events)
                response = run_op(
                    tree, kind, getattr(op, kind), zxid, time_ms, command.session_id, caller, events
                )
                nodes_touched += sum(e.type in NODE_EVENTS for e in events[before:])
                if nodes_touched > MAX_NODES_TOUCHED:
                    raise TreeError(
                        Code.LIMIT_EXCEEDED,
                        f"the transaction makes or removes over {MAX_NODES_TOUCHED} nodes,"
                        " more than one request may: split it",
                    )
            except TreeError as err:
                tree.rollback()
                tree.quotas.restore(usage)
                events.clear()
                return pb.MultiResponse(results=_failed_results(index, err, len(ops)))
            results.append(pb.OpResult(**{kind: response}))
        return pb.MultiResponse(results=results, zxid=zxid)
    finally:
        tree.end_undo()


def _failed_results(failed: int, err: TreeError, count: int) -> list[pb.OpResult]:
    rolled_back = pb.Error(code=Code.ROLLED_BACK, message="rolled back")
    later = pb.Error(code=Code.RUNTIME_INCONSISTENCY, message="not attempted")
    errors = [rolled_back] * failed + [err.to_wire()] + [later] * (count - failed - 1)
    return [pb.OpResult(error=error) for error in errors]
