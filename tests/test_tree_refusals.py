"""The znode tree refuses, and changes nothing: bad and reserved paths, commands
that cannot apply, data over the limit (and takes data of exactly the limit).

Every test drives a fresh `Tree` through `apply` only and reads the outcome
through the public queries, the results and the events (tests/treekit.py).
"""

from __future__ import annotations

import pytest

from coord.outcome import TreeError
from coord.tree import Tree
from coord.wire import log_pb2
from tests.treekit import (
    LIMIT,
    MIB,
    Code,
    Run,
    check,
    create,
    delete,
    error_code,
    set_data,
    state,
)

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
    """(Inside a multi too: see MULTI_FAILING in test_tree_multi.py.)"""
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
