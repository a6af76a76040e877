"""The znode tree state machine against ZooKeeper's rules, continued: sessions and
their ephemerals, watch events, determinism, zxids, exactly-once retries and
what storage is told to write (the first rules are in test_tree_refusals.py,
test_tree_stat.py, test_tree_nodes.py and test_tree_multi.py).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from coord.outcome import Applied, Event
from coord.tree import REPLY_WINDOW, Tree
from coord.wire import log_pb2
from coord_api.wire import client_pb2 as pb
from tests.treekit import (
    CHANGED,
    CHILD,
    CLEAN,
    CLOSE,
    CREATED,
    DELETED,
    EXPIRE,
    LIMIT,
    OPEN,
    Code,
    Run,
    check,
    command,
    create,
    delete,
    multi,
    sequential,
    set_data,
    state,
    time_of,
)

# ----------------------------------------------------------------- sessions


def test_open_session_is_named_by_its_zxid(run: Run) -> None:
    run.ok(create("/a"))
    result = run.ok(OPEN)
    assert result == pb.OpenSessionResponse(
        session_id=2, password=b"secret", timeout_ms=10_000, zxid=2
    )
    assert run.tree.sessions.keys() == {2}


@pytest.mark.parametrize("timeout_ms", [0, -1])
def test_open_session_needs_a_timeout(run: Run, timeout_ms: int) -> None:
    run.refused(log_pb2.OpenSession(timeout_ms=timeout_ms), Code.BAD_ARGUMENTS)


@pytest.mark.parametrize("end", [CLOSE, EXPIRE], ids=["close", "expire"])
def test_ending_a_session_deletes_its_ephemerals_in_the_same_change(run: Run, end) -> None:
    mine, theirs = run.ok(OPEN).session_id, run.ok(OPEN).session_id
    run.ok(create("/p"))
    for path in ("/p/e1", "/e2"):
        run.ok(create(path, ephemeral=True), mine)
    run.ok(create("/p/persistent"), mine)
    run.ok(create("/theirs", ephemeral=True), theirs)
    applied = run(end, mine)
    zxid = run.tree.zxid
    assert applied.result == pb.CloseSessionResponse(zxid=zxid)
    assert Counter(applied.events) == Counter(
        [Event(DELETED, "/p/e1"), Event(CHILD, "/p"), Event(DELETED, "/e2"), Event(CHILD, "/")]
    )
    assert run.gone("/p/e1") and run.gone("/e2")
    assert run.tree.get_children("/p").children == ["persistent"]
    assert run.stat("/theirs").ephemeral_owner == theirs
    assert run.stat("/p").pzxid == run.stat("/").pzxid == zxid
    assert run.tree.sessions.keys() == {theirs}


UNKNOWN_SESSION_REQUESTS = {
    "create": create("/x"),
    "create -e": create("/x", ephemeral=True),
    "set": set_data("/a", b"x"),
    "delete": delete("/a"),
    "check": check("/a", 0),
    "multi": multi(create("/x")),
    "close": CLOSE,
    "expire": EXPIRE,
}


@pytest.mark.parametrize("closed", [True, False], ids=["closed", "never opened"])
@pytest.mark.parametrize(
    "request_", UNKNOWN_SESSION_REQUESTS.values(), ids=UNKNOWN_SESSION_REQUESTS.keys()
)
def test_command_from_an_unknown_session_is_refused(run: Run, request_, closed: bool) -> None:
    dead = run.ok(OPEN).session_id
    run.ok(CLOSE, dead)
    run.ok(create("/a"))
    run.refused(request_, Code.SESSION_EXPIRED, dead if closed else 12345)


@pytest.mark.parametrize("end", [CLOSE, EXPIRE], ids=["close", "expire"])
def test_ending_no_session_is_refused(run: Run, end) -> None:
    run.refused(end, Code.BAD_ARGUMENTS)


# ------------------------------------------------------------------- events

EVENTS = {
    "create": (create("/a/new"), [Event(CREATED, "/a/new"), Event(CHILD, "/a")]),
    "create at root": (create("/new"), [Event(CREATED, "/new"), Event(CHILD, "/")]),
    "set": (set_data("/a/b", b"x"), [Event(CHANGED, "/a/b")]),
    "delete": (delete("/a/b"), [Event(DELETED, "/a/b"), Event(CHILD, "/a")]),
    "check": (check("/a", 0), []),
    "refused": (create("/a"), []),
    "open session": (OPEN, []),
}


@pytest.mark.parametrize("request_, events", EVENTS.values(), ids=EVENTS.keys())
def test_events_each_command_reports(run: Run, request_, events: list[Event]) -> None:
    run.ok(create("/a"))
    run.ok(create("/a/b"))
    assert run(request_).events == events


# ------------------------------------------------------------ determinism

# Sessions are named by the zxid that opened them: 1 and 2. Wide fan-outs
# make any dependence on set order show in the order of events.
SCRIPT = [
    command(OPEN),
    command(OPEN),
    command(create("/app", b"cfg"), 1),
    command(create("/app/locks/l-", ephemeral=True, sequential=True, make_parents=True), 1),
    command(create("/app/locks/l-", ephemeral=True, sequential=True), 2, xid=1),
    command(create("/app/locks/l-", ephemeral=True, sequential=True), 2, xid=1),
    *[command(create(f"/eph/{name}", ephemeral=True, make_parents=True), 1) for name in "qwerty"],
    *[command(create(f"/fan/{name}/x", make_parents=True)) for name in "asdfgh"],
    command(set_data("/app", b"v1", version=0)),
    command(set_data("/app", b"v2", version=0)),
    command(delete("/app")),
    command(multi(create("/t1"), create("/t1/a"), set_data("/app", b"v3", version=1)), 2, xid=2),
    command(multi(create("/t2"), create("/app"), create("/t3")), 2, xid=3, prev_xid=2),
    command(create("/t4"), 2, xid=5, prev_xid=4),
    command(delete("/app/locks/l-0000000000")),
    command(create("/app/locks/l-", sequential=True)),
    command(delete("/fan", recursive=True)),
    command(CLOSE, 1),
    command(create("/app/q", b"x"), 1),
    command(EXPIRE, 2),
]


def transcript() -> str:
    """Every result and event of SCRIPT, then the final tree, as text that
    does not depend on the process (set order, hash seed)."""
    tree = Tree(max_data_bytes=LIMIT)
    lines = []
    for zxid, cmd in enumerate(SCRIPT, start=1):
        applied = tree.apply(zxid, time_of(zxid), cmd)
        lines.append(f"{applied.result} {applied.events}")
    for path in sorted(tree.nodes):
        lines.append(f"{path} {tree.get_data(path)} {tree.get_children(path).children}")
    for session_id, session in sorted(tree.sessions.items()):
        lines.append(f"{session_id} {sorted(session.ephemerals)}")
    return "\n".join(lines)


def test_members_fed_the_same_commands_agree() -> None:
    """Members are separate processes with different hash seeds: the
    outcome must not depend on the order Python iterates a set."""
    root = Path(__file__).resolve().parents[1]
    code = "from tests.test_tree_sessions import transcript; print(transcript(), end='')"
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]
    assert outputs == [transcript()] * 2


def test_two_trees_fed_the_same_commands_end_identical() -> None:
    trees = [Tree(max_data_bytes=LIMIT) for _ in range(2)]
    results = [
        [tree.apply(zxid, time_of(zxid), cmd) for zxid, cmd in enumerate(SCRIPT, start=1)]
        for tree in trees
    ]
    assert results[0] == results[1]
    assert state(trees[0]) == state(trees[1])


# --------------------------------------------------------------------- zxid


@pytest.mark.parametrize("stale", [0, 4, 5])
def test_stale_zxid_is_a_programming_error(stale: int) -> None:
    tree = Tree()
    tree.apply(5, time_of(5), command(create("/a")))
    before = state(tree)
    with pytest.raises(ValueError):
        tree.apply(stale, time_of(stale), command(create("/b")))
    assert (tree.zxid, state(tree)) == (5, before)


def test_zxids_may_skip_ahead() -> None:
    tree = Tree()
    tree.apply(1, 0, command(create("/a")))
    assert tree.apply(100, 0, command(create("/b"))).result.zxid == tree.zxid == 100


# ------------------------------------------------------------------ retries


RETRIED = {
    "create": create("/a/new"),
    "create -s -e": create("/a/n-", ephemeral=True, sequential=True),
    "refused": create("/missing/x"),
    "delete": delete("/a/b"),
    "multi": multi(create("/m"), set_data("/a", b"x", version=0)),
    "failed multi": multi(create("/m"), create("/a")),
}


@pytest.mark.parametrize("request_", RETRIED.values(), ids=RETRIED.keys())
def test_retried_write_gets_its_first_reply_and_changes_nothing(
    run: Run, session: int, request_
) -> None:
    """A write retried (same session and xid) is applied at most once."""
    run.ok(create("/a"))
    run.ok(create("/a/b"))
    first = run(request_, session, xid=1)
    before = state(run.tree)
    run.tree.take_dirty()
    assert run(request_, session, xid=1) == Applied(first.result, [])
    assert state(run.tree) == before
    assert run.tree.take_dirty() == CLEAN


@pytest.mark.parametrize(
    "touch",
    [create("/e", ephemeral=True), delete("/mine"), create("/p")],
    ids=["creates an ephemeral", "deletes an ephemeral", "persistent only"],
)
def test_failed_multi_still_takes_its_place_in_the_sessions_writes(
    run: Run, session: int, touch
) -> None:
    """A rolled-back multi was still applied: its retry gets its reply, and
    the session's next write, which names it as its predecessor, goes in."""
    run.ok(create("/mine", ephemeral=True), session)
    failed = run(multi(touch, create("/missing/x")), session, xid=1)
    assert [r.error.code for r in failed.result.results] == [Code.ROLLED_BACK, Code.NO_NODE]
    run.ok(create("/next"), session, xid=2, prev_xid=1)
    run.tree.take_dirty()
    assert run(multi(touch, create("/missing/x")), session, xid=1) == Applied(failed.result, [])
    assert run.tree.take_dirty() == CLEAN


def test_writes_without_an_xid_are_never_deduplicated(run: Run, session: int) -> None:
    for _ in range(2):
        run.ok(create("/n-", sequential=True), session)
    assert run.tree.get_children("/").children == ["n-0000000000", "n-0000000001"]


def test_write_whose_predecessor_was_lost_is_refused(run: Run, session: int) -> None:
    run.ok(create("/a"), session, xid=1)
    run.refused(create("/c"), Code.CONNECTION_LOSS, session, xid=3, prev_xid=2)
    run.ok(create("/b"), session, xid=2, prev_xid=1)
    run.ok(create("/c"), session, xid=3, prev_xid=2)


def test_retry_older_than_the_reply_window_is_refused(run: Run, session: int) -> None:
    for xid in range(1, REPLY_WINDOW + 2):
        run.ok(check("/", -1), session, xid=xid)
    assert run.tree.take_dirty()[2] >= {(session, 1), (session, REPLY_WINDOW + 1)}
    run.refused(check("/", -1), Code.RUNTIME_INCONSISTENCY, session, xid=1)
    assert run(check("/", 0), session, xid=2).ok


# ------------------------------------------------------------------ storage

# After: session 1 open, /a, /a/b, and /eph owned by session 1.
DIRTY = {
    "create": (create("/a/c"), {"/a", "/a/c"}, set()),
    "create -p": (create("/a/x/y", make_parents=True), {"/a", "/a/x", "/a/x/y"}, set()),
    "create -e": (create("/a/e", ephemeral=True), {"/a", "/a/e"}, {1}),
    "set": (set_data("/a/b", b"x"), {"/a/b"}, set()),
    "delete": (delete("/a/b"), {"/a", "/a/b"}, set()),
    "delete -r": (delete("/a", recursive=True), {"/", "/a", "/a/b"}, set()),
    "delete ephemeral": (delete("/eph"), {"/", "/eph"}, {1}),
    "multi": (multi(create("/m"), set_data("/a", b"x")), {"/", "/m", "/a"}, set()),
    "close": (CLOSE, {"/", "/eph"}, {1}),
    "check": (check("/a", 0), set(), set()),
    "refused": (create("/a"), set(), set()),
}


@pytest.mark.parametrize("xid", [0, 7], ids=["no xid", "xid"])
@pytest.mark.parametrize("request_, nodes, sessions", DIRTY.values(), ids=DIRTY.keys())
def test_take_dirty_reports_exactly_what_changed(
    run: Run, session: int, request_, nodes: set[str], sessions: set[int], xid: int
) -> None:
    """A write with an xid also changes its session: the reply it keeps."""
    for path in ("/a", "/a/b"):
        run.ok(create(path))
    run.ok(create("/eph", ephemeral=True), session)
    run.tree.take_dirty()
    run(request_, session, xid=xid)
    if xid and request_ is not CLOSE:
        sessions, replies = sessions | {session}, {(session, xid)}
    else:
        replies = set()
    assert run.tree.take_dirty() == (nodes, sessions, replies)
    assert run.tree.take_dirty() == CLEAN


@pytest.mark.parametrize("end", [CLOSE, EXPIRE], ids=["close", "expire"])
def test_opening_and_ending_a_session_are_dirty(run: Run, end) -> None:
    session = run.ok(OPEN).session_id
    assert run.tree.take_dirty() == (set(), {session}, set())
    run.ok(end, session)
    assert run.tree.take_dirty() == (set(), {session}, set())


def test_load_rebuilds_children_and_ephemeral_sets(run: Run, session: int) -> None:
    """Storage keeps nodes and sessions (replies included) without the
    derived sets; the loaded tree goes on exactly as the original."""
    idle = run.ok(OPEN).session_id
    for path in ("/a", "/a/b", "/a/b/c"):
        run.ok(create(path, path.encode()))
    first, _ = sequential(run, "/a/s-", 2)
    run.ok(delete(first))
    for xid, path in enumerate(("/e", "/a/e"), start=1):
        run.ok(create(path, ephemeral=True), session, xid=xid)
    nodes = {p: dataclasses.replace(n, children=set()) for p, n in state(run.tree)[0].items()}
    sessions = {s: dataclasses.replace(v, ephemerals=set()) for s, v in state(run.tree)[1].items()}
    loaded = Run()
    loaded.ok(create("/stale"))
    loaded.tree.load(nodes, sessions, run.tree.zxid)
    assert state(loaded.tree) == state(run.tree)
    assert loaded.tree.zxid == run.tree.zxid
    assert loaded.tree.take_dirty() == CLEAN
    then = [
        command(create("/a/s-", sequential=True)),
        command(create("/a/e", ephemeral=True), session, xid=2),
        command(CLOSE, session),
        command(EXPIRE, idle),
    ]
    for zxid, cmd in enumerate(then, start=run.tree.zxid + 1):
        assert loaded.tree.apply(zxid, 0, cmd) == run.tree.apply(zxid, 0, cmd)
    assert state(loaded.tree) == state(run.tree)
