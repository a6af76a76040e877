"""The znode tree's Stat fields as ZooKeeper moves them, and versions: a
wrong one refused, compare-and-set.

Every test drives a fresh `Tree` through `apply` only and reads the outcome
through the public queries, the results and the events (tests/treekit.py).
"""

from __future__ import annotations

import pytest

from coord_api.wire import client_pb2 as pb
from tests.treekit import (
    Code,
    Run,
    changed,
    check,
    create,
    delete,
    set_data,
    time_of,
)


def test_created_node_has_zookeeper_stat(run: Run) -> None:
    run.ok(create("/other"))
    result = run.ok(create("/a", b"hello"))
    want = pb.Stat(
        czxid=2,
        mzxid=2,
        pzxid=2,
        ctime=time_of(2),
        mtime=time_of(2),
        version=0,
        cversion=0,
        aversion=0,
        ephemeral_owner=0,
        data_length=5,
        num_children=0,
    )
    assert (result.path, result.zxid, result.stat) == ("/a", 2, want)
    assert run.stat("/a") == run.tree.exists("/a").stat == want


def test_ephemeral_owner_is_the_creating_session(run: Run, session: int) -> None:
    assert run.ok(create("/e", ephemeral=True), session).stat.ephemeral_owner == session
    assert run.ok(create("/p"), session).stat.ephemeral_owner == 0


def test_set_data_moves_only_mzxid_mtime_version_and_length(run: Run) -> None:
    run.ok(create("/a", b"x"))
    run.ok(create("/a/kid"))
    before = run.stat("/a")
    result = run.ok(set_data("/a", b"four"))
    want = changed(before, mzxid=3, mtime=time_of(3), version=1, data_length=4)
    assert result.stat == run.stat("/a") == want
    assert run.ok(set_data("/a", b"")).stat.version == 2


CHILD_CHANGES = {
    "create": (create("/p/new"), +1),
    "create -s": (create("/p/s-", sequential=True), +1),
    "create -e": (create("/p/e", ephemeral=True), +1),
    "create -p": (create("/p/q/r", make_parents=True), +1),
    "delete": (delete("/p/old"), -1),
    "delete -r": (delete("/p/old", recursive=True), -1),
}


@pytest.mark.parametrize("request_, delta", CHILD_CHANGES.values(), ids=CHILD_CHANGES.keys())
def test_child_change_moves_only_pzxid_cversion_and_num_children(
    run: Run, session: int, request_, delta: int
) -> None:
    run.ok(create("/p", b"data"))
    run.ok(create("/p/old"))
    before = run.stat("/p")
    run.ok(request_, session)
    want = changed(
        before,
        pzxid=run.tree.zxid,
        cversion=before.cversion + 1,
        num_children=before.num_children + delta,
    )
    assert run.stat("/p") == want


@pytest.mark.parametrize(
    "request_",
    [set_data("/p/kid", b"x"), create("/p/kid/grandchild"), check("/p", 0)],
    ids=["child data", "grandchild", "check"],
)
def test_parent_stat_ignores_what_is_not_its_own_child_list(run: Run, request_) -> None:
    run.ok(create("/p"))
    run.ok(create("/p/kid"))
    before = run.stat("/p")
    run.ok(request_)
    assert run.stat("/p") == before


# ------------------------------------------------------------ versions, CAS

VERSIONED = {
    "set": lambda version: set_data("/a", b"new", version),
    "delete": lambda version: delete("/a", version),
    "delete -r": lambda version: delete("/a", version, recursive=True),
    "check": lambda version: check("/a", version),
}


@pytest.mark.parametrize("version", [0, 2, -2])
@pytest.mark.parametrize("write", VERSIONED.values(), ids=VERSIONED.keys())
def test_wrong_version_is_refused(run: Run, write, version: int) -> None:
    """The node is at version 1: 0 is a version like any other, only -1 is 'any'."""
    run.ok(create("/a"))
    run.ok(set_data("/a", b"v1"))
    run.refused(write(version), Code.BAD_VERSION)


@pytest.mark.parametrize(
    "write, version",
    [
        pytest.param(write, version, id=f"{name}-{label}")
        for name, write in VERSIONED.items()
        for label, version in {"absent": None, "any": -1, "right": 1}.items()
        if not (name == "check" and version is None)  # a check always names its version
    ],
)
def test_matching_or_absent_version_is_accepted(run: Run, write, version: int | None) -> None:
    run.ok(create("/a"))
    run.ok(set_data("/a", b"v1"))
    run.ok(write(version))


def test_compare_and_set_lets_one_of_two_writers_win(run: Run) -> None:
    run.ok(create("/a", b"start"))
    assert run.ok(set_data("/a", b"first", version=0)).stat.version == 1
    run.refused(set_data("/a", b"second", version=0), Code.BAD_VERSION)
    assert run.tree.get_data("/a").data == b"first"
