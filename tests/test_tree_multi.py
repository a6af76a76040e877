"""The znode tree's transactions: ops see each other's effects, and a failed
multi changes nothing.

Every test drives a fresh `Tree` through `apply` only and reads the outcome
through the public queries, the results and the events (tests/treekit.py).
"""

from __future__ import annotations

import pytest

from coord.outcome import Event
from coord.tree import Tree
from coord_api.wire import client_pb2 as pb
from tests.treekit import (
    CHANGED,
    CHILD,
    CREATED,
    DELETED,
    LIMIT,
    OPEN,
    Code,
    Run,
    check,
    create,
    delete,
    multi,
    sequential,
    set_data,
    state,
)


def test_multi_ops_see_each_others_effects(run: Run, session: int) -> None:
    applied = run(
        multi(
            create("/m", b"0"),
            create("/m/e", ephemeral=True),
            create("/m/s-", sequential=True),
            set_data("/m", b"1", version=0),
            check("/m", 1),
            delete("/m/e", version=0),
        ),
        session,
    )
    zxid = run.tree.zxid
    response = applied.result
    assert response.zxid == zxid
    kinds = [result.WhichOneof("result") for result in response.results]
    assert kinds == ["create", "create", "create", "set_data", "check", "delete"]
    assert response.results[2].create.path == "/m/s-0000000001"
    assert response.results[3].set_data.stat.version == 1
    assert run.tree.get_children("/m").children == ["s-0000000001"]
    stat = run.stat("/m")
    assert (stat.czxid, stat.mzxid, stat.pzxid) == (zxid, zxid, zxid)
    assert (stat.version, stat.cversion) == (1, 3)
    assert run.tree.sessions[session].ephemerals == set()
    assert applied.events == [
        Event(CREATED, "/m"),
        Event(CHILD, "/"),
        Event(CREATED, "/m/e"),
        Event(CHILD, "/m"),
        Event(CREATED, "/m/s-0000000001"),
        Event(CHILD, "/m"),
        Event(CHANGED, "/m"),
        Event(DELETED, "/m/e"),
        Event(CHILD, "/m"),
    ]


# Ops that succeed on their own and touch every kind of state: sequence
# counters, cversions, data, ephemeral sets, made parents.
MULTI_BEFORE = [
    create("/p/n-", sequential=True, ephemeral=True),
    set_data("/a", b"changed"),
    delete("/a/kid"),
    delete("/gone"),
    create("/new/deep", make_parents=True),
]
MULTI_FAILING = {
    "no node": (set_data("/missing", b"x"), Code.NO_NODE),
    "node exists": (create("/a"), Code.NODE_EXISTS),
    "bad version": (set_data("/a", b"x", version=7), Code.BAD_VERSION),
    "check": (check("/a", 7), Code.BAD_VERSION),
    "not empty": (delete("/p"), Code.NOT_EMPTY),
    "ephemeral parent": (create("/e/c"), Code.NO_CHILDREN_FOR_EPHEMERALS),
    "bad path": (create("/a/"), Code.BAD_ARGUMENTS),
    "reserved": (create("/coord"), Code.BAD_ARGUMENTS),
    "too large": (set_data("/a", bytes(LIMIT + 1)), Code.DATA_TOO_LARGE),
    "empty op": (pb.Op(), Code.BAD_ARGUMENTS),
}


@pytest.mark.parametrize("position", [0, 2, len(MULTI_BEFORE)])
@pytest.mark.parametrize("failing, code", MULTI_FAILING.values(), ids=MULTI_FAILING.keys())
def test_failed_multi_changes_nothing(failing, code: int, position: int) -> None:
    run = Run(Tree(max_data_bytes=LIMIT))
    owner = run.ok(OPEN).session_id
    for path in ("/a", "/a/kid", "/p"):
        run.ok(create(path))
    sequential(run, "/p/n-", 2)
    for path in ("/e", "/gone"):
        run.ok(create(path, ephemeral=True), owner)
    before = state(run.tree)
    applied = run(multi(*MULTI_BEFORE[:position], failing, create("/after")), owner)
    codes = [result.error.code for result in applied.result.results]
    assert codes == [Code.ROLLED_BACK] * position + [code, Code.RUNTIME_INCONSISTENCY]
    assert applied.events == []
    assert state(run.tree) == before
    assert sequential(run, "/p/n-") == ["/p/n-0000000002"]
