"""The znode tree state machine against ZooKeeper's rules, one rule at a time.

Every test drives a fresh `Tree` through `apply` only, with consecutive zxids
and a clock that differs from the zxid (so a swapped Stat field shows), and
reads the outcome through the public queries, the results and the events.
"""

from __future__ import annotations

from collections import Counter

import pytest

from coord.outcome import Event, TreeError
from coord.tree import Tree
from coord.tree_state import MAX_NODES_TOUCHED
from coord.wire import log_pb2
from coord_api.wire import client_pb2 as pb
from tests.treekit import (
    CHANGED,
    CHILD,
    CREATED,
    DELETED,
    LIMIT,
    MIB,
    OPEN,
    Code,
    Run,
    changed,
    check,
    create,
    delete,
    error_code,
    multi,
    sequential,
    set_data,
    state,
    time_of,
)

# -------------------------------------------------------------------- paths

BAD_PATHS = [
    "",
    "a",
    "a/b",
    "/a/",
    "//a",
    "/a//b",
    "/.",
    "/a/.",
    "/a/..",
    "/../a",
    "/a\x00",
    "/a\x1fb",
    "/a\x7f",
    "/a\x85",
    "/a\ue000",
]
RESERVED_PATHS = ["/coord", "/coord/x", "/coord/x/y"]
WRITES = {
    "create": lambda path: create(path, b"x"),
    "create -p": lambda path: create(path, make_parents=True),
    "create -s": lambda path: create(path, sequential=True),
    "set": lambda path: set_data(path, b"x"),
    "delete": lambda path: delete(path),
    "delete -r": lambda path: delete(path, recursive=True),
}


@pytest.mark.parametrize("path", BAD_PATHS + RESERVED_PATHS)
@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_bad_or_reserved_path_is_refused(run: Run, write, path: str) -> None:
    """(Inside a multi too: see MULTI_FAILING.)"""
    run.ok(create("/a"))
    run.refused(write(path), Code.BAD_ARGUMENTS)


@pytest.mark.parametrize("path", BAD_PATHS)
def test_bad_path_is_refused_by_check_and_reads(run: Run, path: str) -> None:
    run.refused(check(path, 0), Code.BAD_ARGUMENTS)
    for query in (run.tree.get_data, run.tree.exists, run.tree.get_children):
        with pytest.raises(TreeError) as refusal:
            query(path)
        assert refusal.value.code == Code.BAD_ARGUMENTS


@pytest.mark.parametrize("path", ["/coordinator", "/coord0", "/a/coord", "/a/coord/x"])
def test_only_the_coord_subtree_is_reserved(run: Run, path: str) -> None:
    assert run.ok(create(path, make_parents=True)).path == path


# Refusals that need no session: each changes nothing at all.
REFUSALS = {
    "create root": ([], create("/"), Code.NODE_EXISTS),
    "delete root": ([create("/a")], delete("/"), Code.BAD_ARGUMENTS),
    "delete root -r": ([create("/a")], delete("/", recursive=True), Code.BAD_ARGUMENTS),
    "create existing": ([create("/a")], create("/a"), Code.NODE_EXISTS),
    "create -p existing": ([create("/a")], create("/a", make_parents=True), Code.NODE_EXISTS),
    "create, no parent": ([], create("/a/b"), Code.NO_NODE),
    "set, no node": ([], set_data("/a", b"x"), Code.NO_NODE),
    "delete, no node": ([], delete("/a"), Code.NO_NODE),
    "check, no node": ([], check("/a", 0), Code.NO_NODE),
    "delete non-empty": ([create("/a"), create("/a/b")], delete("/a"), Code.NOT_EMPTY),
    "ephemeral, no session": ([], create("/e", ephemeral=True), Code.BAD_ARGUMENTS),
    "sequential name taken": (
        [create("/p"), create("/p/n0000000001")],
        create("/p/n", sequential=True),
        Code.NODE_EXISTS,
    ),
}


@pytest.mark.parametrize("setup, request_, code", REFUSALS.values(), ids=REFUSALS.keys())
def test_refused_command_changes_nothing(run: Run, setup, request_, code: int) -> None:
    for step in setup:
        run.ok(step)
    run.refused(request_, code)


def test_command_without_an_operation_is_refused(run: Run) -> None:
    before = state(run.tree)
    applied = run.tree.apply(1, 0, log_pb2.Command())
    assert error_code(applied) == Code.BAD_ARGUMENTS
    assert (applied.events, state(run.tree)) == ([], before)


# --------------------------------------------------------------------- data

DATA_WRITES = {
    "create": lambda data: create("/new", data),
    "create -p": lambda data: create("/new/deep", data, make_parents=True),
    "set": lambda data: set_data("/a", data),
}
LIMITS = {"configured": LIMIT, "default 1 MiB": None}


@pytest.mark.parametrize("limit", LIMITS.values(), ids=LIMITS.keys())
@pytest.mark.parametrize("write", DATA_WRITES.values(), ids=DATA_WRITES.keys())
def test_data_over_the_limit_is_refused(write, limit: int | None) -> None:
    run = Run(Tree(max_data_bytes=limit) if limit else Tree())
    run.ok(create("/a"))
    run.refused(write(bytes((limit or MIB) + 1)), Code.DATA_TOO_LARGE)


@pytest.mark.parametrize("limit", LIMITS.values(), ids=LIMITS.keys())
@pytest.mark.parametrize("write", DATA_WRITES.values(), ids=DATA_WRITES.keys())
def test_data_of_exactly_the_limit_is_stored(write, limit: int | None) -> None:
    run = Run(Tree(max_data_bytes=limit) if limit else Tree())
    run.ok(create("/a"))
    request = write(b"z" * (limit or MIB))
    run.ok(request)
    assert run.tree.get_data(request.path).data == request.data


# --------------------------------------------------------------------- stat


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


# --------------------------------------------------------------- sequential


def test_sequential_suffix_is_ten_zero_padded_digits(run: Run) -> None:
    run.ok(create("/p"))
    assert sequential(run, "/p/n-", 3) == [f"/p/n-{i:010d}" for i in range(3)]


def every_kind_of_create(parent: str) -> list:
    """A create of each kind of node under `parent`, as test parameters."""
    return [
        pytest.param(create(f"{parent}/c"), id="persistent"),
        pytest.param(create(f"{parent}/c", ephemeral=True), id="ephemeral"),
        pytest.param(create(f"{parent}/c-", sequential=True), id="sequential"),
        pytest.param(create(f"{parent}/c/d", make_parents=True), id="make parents"),
    ]


@pytest.mark.parametrize("other", every_kind_of_create("/p"))
def test_every_kind_of_child_counts_toward_the_suffix(run: Run, session: int, other) -> None:
    run.ok(create("/p"))
    sequential(run, "/p/n-")
    run.ok(other, session)
    assert sequential(run, "/p/n-") == ["/p/n-0000000002"]


def test_suffix_counts_creations_while_cversion_counts_deletions_too(run: Run) -> None:
    """ZooKeeper 3.8: create x4, delete one, the next suffix is 4 while cversion is 5."""
    run.ok(create("/p"))
    created = sequential(run, "/p/n-", 4)
    run.ok(delete(created[3]))
    assert run.stat("/p").cversion == 5
    assert sequential(run, "/p/n-") == ["/p/n-0000000004"]
    assert run.stat("/p").cversion == 6


def test_each_parent_incarnation_counts_its_own_children(run: Run) -> None:
    run.ok(create("/a"))
    run.ok(create("/b"))
    sequential(run, "/a/n-", 2)
    assert sequential(run, "/b/n-") == ["/b/n-0000000000"]
    assert sequential(run, "/s-") == ["/s-0000000002"]
    run.ok(delete("/a", recursive=True))
    run.ok(create("/a"))
    assert sequential(run, "/a/n-") == ["/a/n-0000000000"]


def test_sequential_under_made_parents_starts_at_zero(run: Run) -> None:
    result = run.ok(create("/x/y/n-", sequential=True, make_parents=True))
    assert result.path == "/x/y/n-0000000000"


# --------------------------------------------------------------- ephemerals


def test_ephemeral_is_in_its_sessions_set_until_deleted(run: Run, session: int) -> None:
    run.ok(create("/p"))
    path = run.ok(create("/p/e-", ephemeral=True, sequential=True), session).path
    run.ok(create("/p/mine"), session)
    assert run.tree.sessions[session].ephemerals == {path}
    run.ok(delete(path))
    assert run.tree.sessions[session].ephemerals == set()


@pytest.mark.parametrize("child", every_kind_of_create("/e"))
def test_ephemeral_cannot_have_children(run: Run, session: int, child) -> None:
    run.ok(create("/e", ephemeral=True), session)
    run.refused(child, Code.NO_CHILDREN_FOR_EPHEMERALS, session)


# ------------------------------------------------------- delete, make parents


def test_recursive_delete_removes_the_subtree_in_one_change(run: Run, session: int) -> None:
    subtree = ["/a", "/a/b", "/a/b/c", "/a/d"]
    for path in [*subtree, "/x"]:
        run.ok(create(path))
    run.ok(create("/a/d/e", ephemeral=True), session)
    subtree.append("/a/d/e")
    root_before = run.stat("/")
    applied = run(delete("/a", recursive=True))
    zxid = run.tree.zxid
    assert applied.result == pb.DeleteResponse(zxid=zxid)
    assert all(run.gone(path) for path in subtree)
    assert run.tree.get_children("/").children == ["x"]
    assert run.stat("/") == changed(
        root_before, pzxid=zxid, cversion=root_before.cversion + 1, num_children=1
    )
    assert run.tree.sessions[session].ephemerals == set()
    parent = {"/a": "/", "/a/b": "/a", "/a/b/c": "/a/b", "/a/d": "/a", "/a/d/e": "/a/d"}
    want = [Event(DELETED, p) for p in subtree] + [Event(CHILD, parent[p]) for p in subtree]
    assert Counter(applied.events) == Counter(want)
    deleted = [event.path for event in applied.events if event.type == DELETED]
    for i, path in enumerate(deleted):
        assert not any(later.startswith(path + "/") for later in deleted[i + 1 :])


def test_make_parents_creates_the_missing_ancestors_in_one_change(run: Run) -> None:
    run.ok(create("/a"))
    applied = run(create("/a/b/c/d", b"leaf", make_parents=True))
    zxid = run.tree.zxid
    assert applied.result.path == "/a/b/c/d"
    for path in ("/a/b", "/a/b/c"):
        got = run.tree.get_data(path)
        assert (got.data, got.stat.czxid, got.stat.ephemeral_owner) == (b"", zxid, 0)
        assert got.stat.num_children == 1
    assert run.tree.get_data("/a/b/c/d").data == b"leaf"
    assert applied.events == [
        Event(CREATED, "/a/b"),
        Event(CHILD, "/a"),
        Event(CREATED, "/a/b/c"),
        Event(CHILD, "/a/b"),
        Event(CREATED, "/a/b/c/d"),
        Event(CHILD, "/a/b/c"),
    ]


def test_made_parents_of_an_ephemeral_are_persistent(run: Run, session: int) -> None:
    run.ok(create("/a/b/e", ephemeral=True, make_parents=True), session)
    assert run.stat("/a").ephemeral_owner == run.stat("/a/b").ephemeral_owner == 0
    assert run.stat("/a/b/e").ephemeral_owner == session


# -------------------------------------------------------------------- multi


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


def test_one_create_makes_and_one_delete_removes_at_most_a_fixed_number_of_nodes(run: Run):
    """The same constant on every member, whatever its flags (the door's
    limits are flags: they never reach the log)."""
    deep = "/d" * (MAX_NODES_TOUCHED + 1)
    run.refused(create(deep, make_parents=True), Code.LIMIT_EXCEEDED)
    run.ok(create(deep[2:], make_parents=True))  # one node fewer: allowed
    run.ok(create("/wide"))
    for index in range(MAX_NODES_TOUCHED):
        run.ok(create(f"/wide/{index}"))
    run.refused(delete("/wide", recursive=True), Code.LIMIT_EXCEEDED)
    run.ok(delete("/wide/0"))
    run.ok(delete("/wide", recursive=True))


def test_one_transaction_shares_the_cap_on_nodes_made_or_removed(run: Run):
    """Ops that each stay under the cap cannot add up past it: a request
    costs a bounded multiple of its own size."""
    half = MAX_NODES_TOUCHED // 2
    for name in ("a", "b", "c"):
        run.ok(create(f"/{name}"))
        for index in range(half):
            run.ok(create(f"/{name}/{index}"))
    whole = [delete(f"/{name}", recursive=True) for name in ("a", "b", "c")]
    result = run.ok(multi(*whole))  # a refused transaction is an answer
    codes = [r.error.code for r in result.results]
    assert codes == [Code.ROLLED_BACK, Code.LIMIT_EXCEEDED, Code.RUNTIME_INCONSISTENCY]
    assert all(path in run.tree.nodes for path in ("/a/0", "/b/0", "/c/0"))
    run.ok(multi(delete("/a", recursive=True)))  # one at a time is allowed
