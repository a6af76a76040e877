"""The tree's ACL checks on writes, as ZooKeeper 3.9's PrepRequestProcessor
orders them: each write is decided at apply from the ids the command
carries, so every member decides the same."""

from __future__ import annotations

import pytest

from coord import acl
from coord.acl import ADMIN, ALL, CREATE, DELETE, OPEN_ACL, READ, SUPER, WRITE
from coord.records import REPLY_TAG
from coord.session import ops
from coord.storage import Storage
from coord.tree import Event, Tree
from coord_api.wire import client_pb2 as pb
from tests.treekit import (
    CHANGED,
    CHILD,
    CREATED,
    DELETED,
    Code,
    Run,
    check,
    create,
    delete,
    error_code,
    multi,
    set_data,
    state,
)

BOB_ID = ("digest", acl.digest_id("bob:pw"))
EVE_ID = ("digest", acl.digest_id("eve:pw"))
BOB = [BOB_ID]
EVE = [EVE_ID]


def entry(perms: int, scheme: str, found: str) -> pb.ACL:
    return pb.ACL(perms=perms, id=pb.Id(scheme=scheme, id=found))


def only(ident, perms: int = ALL) -> list[pb.ACL]:
    return [entry(perms, *ident)]


def world(perms: int) -> pb.ACL:
    return entry(perms, "world", "anyone")


def set_acl(path: str, entries, version: int | None = None) -> pb.SetAclRequest:
    return pb.SetAclRequest(path=path, acl=entries, version=version)


def acl_of(run: Run, path: str) -> tuple:
    return run.tree.nodes[path].acl


# ------------------------------------------------------------------ create


def test_a_create_without_an_acl_is_open_and_shares_the_open_acl(run: Run) -> None:
    run.ok(create("/a"))
    assert acl_of(run, "/a") is OPEN_ACL
    assert acl_of(run, "/") is OPEN_ACL


def test_create_keeps_the_acl_and_equal_acls_share_one_tuple(run: Run) -> None:
    run.ok(create("/a", acl=only(BOB_ID)))
    run.ok(create("/b", acl=only(BOB_ID)))
    assert acl_of(run, "/a") == ((ALL, *BOB_ID),)
    assert acl_of(run, "/a") is acl_of(run, "/b")


def test_create_needs_create_on_the_parent(run: Run) -> None:
    run.ok(create("/p", acl=[*only(BOB_ID, CREATE), world(ALL & ~CREATE)]))
    run.refused(create("/p/c"), Code.NO_AUTH, auth=EVE)
    run.ok(create("/p/c"), auth=BOB)


def test_create_refusal_comes_before_node_exists(run: Run) -> None:
    run.ok(create("/p"))
    run.ok(create("/p/c"))
    run.ok(set_acl("/p", only(BOB_ID)), auth=[])
    run.refused(create("/p/c"), Code.NO_AUTH, auth=EVE)
    run.refused(create("/p/c"), Code.NODE_EXISTS, auth=BOB)


def test_create_refusal_comes_before_ephemeral_parent(run: Run, session: int) -> None:
    run.ok(create("/e", ephemeral=True, acl=only(BOB_ID)), session, auth=BOB)
    run.refused(create("/e/c"), Code.NO_AUTH, auth=EVE)
    run.refused(create("/e/c"), Code.NO_CHILDREN_FOR_EPHEMERALS, auth=BOB)


def test_a_missing_parent_is_no_node_before_any_acl(run: Run) -> None:
    run.refused(create("/missing/c"), Code.NO_NODE, auth=EVE)


def test_an_invalid_acl_comes_first(run: Run) -> None:
    run.ok(create("/p", acl=only(BOB_ID)))
    bad = [entry(READ, "world", "somebody")]
    run.refused(create("/p/c", acl=bad), Code.INVALID_ACL, auth=EVE)
    run.refused(create("/missing/c", acl=bad), Code.INVALID_ACL)
    run.refused(create("/c", acl=[entry(ALL, "auth", "")]), Code.INVALID_ACL, auth=[("ip", "::1")])


def test_auth_expands_to_the_senders_ids(run: Run) -> None:
    run.ok(create("/a", acl=[entry(ALL, "auth", "")]), auth=[("ip", "127.0.0.1"), *BOB])
    assert acl_of(run, "/a") == ((ALL, *BOB_ID),)


def test_an_acl_over_the_limit_is_refused(run: Run) -> None:
    many = [entry(READ, "digest", f"u{index}:x") for index in range(acl.MAX_ENTRIES + 1)]
    run.refused(create("/a", acl=many), Code.BAD_ARGUMENTS)
    run.ok(create("/a", acl=many[: acl.MAX_ENTRIES]))


def test_make_parents_needs_create_where_it_starts_and_gives_the_acl(run: Run) -> None:
    run.ok(create("/p", acl=only(BOB_ID)))
    run.refused(create("/p/a/b/c", make_parents=True), Code.NO_AUTH, auth=EVE)
    mine = only(BOB_ID)
    run.ok(create("/p/a/b/c", make_parents=True, acl=mine), auth=BOB)
    for path in ("/p/a", "/p/a/b", "/p/a/b/c"):
        assert acl_of(run, path) == ((ALL, *BOB_ID),)


def test_make_parents_needs_create_under_the_parents_it_makes(run: Run) -> None:
    # Each made parent gets the new ACL: one without CREATE for the sender
    # refuses the creates under it, as kazoo's makepath would one by one.
    run.refused(create("/a/b", make_parents=True, acl=[world(READ)]), Code.NO_AUTH)
    run.ok(create("/a", make_parents=True, acl=[world(READ)]))  # nothing made under


# ------------------------------------------------------------------ delete


def test_delete_needs_delete_on_the_parent_not_the_node(run: Run) -> None:
    run.ok(create("/p", acl=[*only(BOB_ID, DELETE), world(ALL & ~DELETE)]))
    run.ok(create("/p/c", acl=only(EVE_ID, READ)))
    run.refused(delete("/p/c"), Code.NO_AUTH, auth=EVE)
    run.ok(delete("/p/c"), auth=BOB)


def test_delete_of_a_missing_node_is_no_auth_under_a_parent_that_refuses(run: Run) -> None:
    run.ok(create("/p", acl=only(BOB_ID)))
    run.refused(delete("/p/missing"), Code.NO_AUTH, auth=EVE)
    run.refused(delete("/p/missing"), Code.NO_NODE, auth=BOB)
    run.refused(delete("/missing/c"), Code.NO_NODE, auth=EVE)


def test_delete_refusal_comes_before_version_and_not_empty(run: Run) -> None:
    run.ok(create("/p", acl=[*only(BOB_ID), world(CREATE)]))
    run.ok(create("/p/c"))
    run.ok(create("/p/c/d"))
    run.refused(delete("/p/c", version=7), Code.NO_AUTH, auth=EVE)
    run.refused(delete("/p/c"), Code.NO_AUTH, auth=EVE)
    run.refused(delete("/p/c", version=7), Code.BAD_VERSION, auth=BOB)
    run.refused(delete("/p/c"), Code.NOT_EMPTY, auth=BOB)


def test_recursive_delete_needs_delete_on_every_node_it_empties(run: Run) -> None:
    run.ok(create("/p"))
    run.ok(create("/p/a"))
    run.ok(create("/p/a/b", acl=only(BOB_ID)))  # a leaf: its own ACL is not asked
    run.ok(create("/p/a/c"))
    run.ok(create("/p/a/c/d"))
    run.ok(set_acl("/p/a/c", [*only(BOB_ID), world(ALL & ~DELETE)]))
    run.refused(delete("/p/a", recursive=True), Code.NO_AUTH, auth=EVE)
    applied = run(delete("/p/a", recursive=True), auth=BOB)
    assert applied.ok, applied.result
    assert set(run.tree.nodes) == {"/", "/p"}


# ----------------------------------------------------------- set, check, acl


def test_set_needs_write_before_version(run: Run) -> None:
    run.ok(create("/a", acl=[*only(BOB_ID, WRITE), world(READ)]))
    run.refused(set_data("/a", b"x"), Code.NO_AUTH, auth=EVE)
    run.refused(set_data("/a", b"x", version=3), Code.NO_AUTH, auth=EVE)
    run.refused(set_data("/a", b"x", version=3), Code.BAD_VERSION, auth=BOB)
    run.ok(set_data("/a", b"x"), auth=BOB)
    run.refused(set_data("/missing", b"x"), Code.NO_NODE, auth=EVE)


def test_check_needs_read(run: Run) -> None:
    run.ok(create("/a", acl=only(BOB_ID, READ)))
    refused = run(multi(check("/a", 0)), auth=EVE).result
    assert refused.results[0].error.code == Code.NO_AUTH
    assert run.ok(multi(check("/a", 0)), auth=BOB).results[0].HasField("check")
    refused = run(multi(check("/a", 5)), auth=EVE).result
    assert refused.results[0].error.code == Code.NO_AUTH  # before the version


def test_set_acl_needs_admin_checks_the_aversion_and_bumps_it(run: Run) -> None:
    stat = run.ok(create("/a", acl=[*only(BOB_ID, ADMIN), world(READ | WRITE)])).stat
    run.refused(set_acl("/a", [world(ALL)]), Code.NO_AUTH, auth=EVE)
    run.refused(set_acl("/a", [world(ALL)], version=4), Code.NO_AUTH, auth=EVE)
    run.refused(set_acl("/a", [world(ALL)], version=4), Code.BAD_VERSION, auth=BOB)
    result = run.ok(set_acl("/a", [world(READ)], version=0), auth=BOB)
    assert result.stat.aversion == 1
    assert (result.stat.version, result.stat.mzxid) == (stat.version, stat.mzxid)
    assert acl_of(run, "/a") == ((READ, "world", "anyone"),)
    run.ok(set_acl("/a", [world(ALL)], version=-1), auth=[SUPER])
    assert acl_of(run, "/a") is OPEN_ACL
    assert run.stat("/a").aversion == 2


def test_set_acl_refuses_an_empty_or_invalid_acl_first(run: Run) -> None:
    run.ok(create("/a", acl=only(BOB_ID)))
    run.refused(set_acl("/a", []), Code.INVALID_ACL, auth=EVE)
    run.refused(set_acl("/missing", [entry(READ, "ip", "x")]), Code.INVALID_ACL)
    run.refused(set_acl("/missing", [world(READ)]), Code.NO_NODE)
    run.refused(set_acl("/coord", [world(READ)]), Code.BAD_ARGUMENTS)


def test_set_acl_fires_no_watch(run: Run) -> None:
    run.ok(create("/a"))
    applied = run(set_acl("/a", [world(READ)]))
    assert applied.ok
    assert applied.events == []


def test_super_may_do_everything(run: Run) -> None:
    run.ok(create("/p", acl=[world(0)]))
    run.ok(create("/p/c", acl=[world(0)]), auth=[SUPER])
    run.ok(set_data("/p/c", b"x"), auth=[SUPER])
    run.ok(set_acl("/p/c", [world(0)]), auth=[SUPER])
    run.ok(delete("/p", recursive=True), auth=[SUPER])


def test_ip_entries_match_the_address_the_command_carries(run: Run) -> None:
    run.ok(create("/p", acl=[entry(ALL, "ip", "10.0.0.0/8")]))
    run.refused(create("/p/c"), Code.NO_AUTH, auth=[("ip", "11.0.0.1")])
    run.ok(create("/p/c"), auth=[("ip", "10.2.3.4")])


# ------------------------------------------------------------------- multi


def test_a_refused_op_fails_the_multi_with_zookeepers_results(run: Run) -> None:
    run.ok(create("/locked", acl=only(BOB_ID)))
    before = state(run.tree)
    applied = run(
        multi(create("/x"), create("/locked/c"), set_data("/x", b"y"), delete("/x")), auth=EVE
    )
    codes = [result.error.code for result in applied.result.results]
    assert codes == [
        Code.ROLLED_BACK,
        Code.NO_AUTH,
        Code.RUNTIME_INCONSISTENCY,
        Code.RUNTIME_INCONSISTENCY,
    ]
    assert applied.events == []
    assert state(run.tree) == before


def test_each_op_of_a_multi_sees_the_ones_before_it(run: Run) -> None:
    # The first op makes a node only Bob may change; the second, by Eve, is
    # refused: the ops are checked as if alone, in order.
    ops = multi(create("/a", acl=only(BOB_ID)), set_data("/a", b"x"))
    assert [r.error.code for r in run(ops, auth=EVE).result.results] == [
        Code.ROLLED_BACK,
        Code.NO_AUTH,
    ]
    assert run(ops, auth=BOB).ok


# ------------------------------------------------------------------ events


def test_events_carry_the_acl_of_the_node_they_name(run: Run) -> None:
    mine = ((ALL, *BOB_ID),)
    run.ok(create("/p", acl=only(BOB_ID)))
    created = run(create("/p/c", acl=[world(READ), *only(BOB_ID)]), auth=BOB).events
    child_acl = acl_of(run, "/p/c")
    assert created == [Event(CREATED, "/p/c", child_acl), Event(CHILD, "/p", mine)]
    changed = run(set_data("/p/c", b"x"), auth=BOB).events
    assert changed == [Event(CHANGED, "/p/c", child_acl)]
    deleted = run(delete("/p/c"), auth=BOB).events
    assert deleted == [Event(DELETED, "/p/c", child_acl), Event(CHILD, "/p", mine)]


# ---------------------------------------------------------- determinism


def test_the_same_commands_give_the_same_tree(run: Run) -> None:
    other = Run()
    steps = [
        (create("/a", acl=[entry(ALL, "auth", "")]), BOB),
        (create("/a/b", acl=[world(READ)]), EVE),
        (create("/a/b"), BOB),
        (set_acl("/a/b", [world(READ)], version=0), BOB),
        (delete("/a/b"), EVE),
        (set_data("/a", b"x"), BOB),
    ]
    for request, ids in steps:
        assert run(request, auth=ids).result == other(request, auth=ids).result
    assert state(run.tree) == state(other.tree)


# ---------------------------------------------------------------- storage


def test_acls_and_aversions_survive_storage(tmp_path) -> None:
    storage = Storage(tmp_path / "db")
    run = Run()
    run.ok(create("/open"))
    run.ok(create("/bob", acl=only(BOB_ID)))
    run.ok(create("/also-bob", acl=only(BOB_ID)))
    run.ok(create("/was-locked", acl=only(BOB_ID)))
    run.ok(set_acl("/was-locked", [world(ALL)]), auth=BOB)
    run.ok(create("/gone", acl=only(BOB_ID)))
    run.ok(delete("/gone"))
    storage.save_applied(run.tree, 1).result()
    storage.close()

    again = Storage(tmp_path / "db")
    loaded = Tree()
    again.load(loaded)
    assert state(loaded) == state(run.tree)
    assert loaded.nodes["/bob"].acl is loaded.nodes["/also-bob"].acl
    assert loaded.nodes["/open"].acl is OPEN_ACL
    assert loaded.nodes["/was-locked"].acl is OPEN_ACL
    assert loaded.nodes["/was-locked"].aversion == 1
    # Only the one locked ACL has a record of its own.
    _, _, items = again.state_snapshot()
    assert sorted(key for key, _ in items if key.startswith(b"a/")) == [b"a//also-bob", b"a//bob"]
    again.close()


def test_every_write_reply_can_be_stored() -> None:
    for kind in ops.WRITES:
        assert type(getattr(pb.Response(), kind)) in REPLY_TAG, kind


def test_a_sessions_set_acl_reply_survives_storage(tmp_path, run: Run, session: int) -> None:
    """A retried set_acl gets its first reply, after a restart too."""
    storage = Storage(tmp_path / "db")
    run.ok(create("/a"))
    first = run.ok(set_acl("/a", [world(READ)]), session, xid=1)
    storage.save_applied(run.tree, 1).result()
    storage.close()
    again = Storage(tmp_path / "db")
    loaded = Run(Tree())
    again.load(loaded.tree)
    again.close()
    assert loaded.ok(set_acl("/a", [world(READ)]), session, xid=1) == first
    assert loaded.stat("/a").aversion == 1


def test_a_snapshot_carries_the_acls(tmp_path) -> None:
    source, target = Storage(tmp_path / "a"), Storage(tmp_path / "b")
    run = Run()
    run.ok(create("/bob", acl=only(BOB_ID)))
    source.save_applied(run.tree, 1).result()
    slot, zxid, items = source.state_snapshot()
    target.install_state(slot, zxid, items).result()
    loaded = Tree()
    target.load(loaded)
    assert loaded.nodes["/bob"].acl == ((ALL, *BOB_ID),)
    source.close()
    target.close()


@pytest.mark.parametrize("perm", [READ, WRITE, CREATE, DELETE, ADMIN])
def test_a_node_without_the_bit_refuses_even_its_creator(run: Run, perm: int) -> None:
    run.ok(create("/p", acl=only(BOB_ID, ALL & ~perm)), auth=BOB)
    requests = {
        READ: multi(check("/p", 0)),
        WRITE: set_data("/p", b"x"),
        CREATE: create("/p/c"),
        DELETE: None,
        ADMIN: set_acl("/p", [world(ALL)]),
    }
    if perm == DELETE:
        run.ok(create("/p/c"), auth=BOB)
        request = delete("/p/c")
    else:
        request = requests[perm]
    applied = run(request, auth=BOB)
    code = applied.result.results[0].error.code if perm == READ else error_code(applied)
    assert code == Code.NO_AUTH
