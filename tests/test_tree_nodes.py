"""The znode tree's nodes made and removed: sequential suffixes, ephemerals,
recursive delete, made parents, and the cap on nodes one request touches.

Every test drives a fresh `Tree` through `apply` only and reads the outcome
through the public queries, the results and the events (tests/treekit.py).
"""

from __future__ import annotations

from collections import Counter

import pytest

from coord.outcome import Event
from coord.tree_state import MAX_NODES_TOUCHED
from coord_api.wire import client_pb2 as pb
from tests.treekit import (
    CHILD,
    CREATED,
    DELETED,
    Code,
    Run,
    changed,
    create,
    delete,
    multi,
    sequential,
)


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


# ----------------------------------------------- nodes touched by one request


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
