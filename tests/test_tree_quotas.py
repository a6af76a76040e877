"""Hard quotas in the tree (ZooKeeper 3.7+'s setquota -N/-B): decided at
apply, so every member refuses the same writes; usage kept as writes go,
and rebuilt from the limits znodes when the tree is loaded."""

from __future__ import annotations

import copy

import pytest

from coord import acl
from coord.acl import ADMIN, ALL, READ
from coord.storage import Storage
from coord.tree import Tree
from coord_api.wire import client_pb2 as pb
from tests.treekit import EXPIRE, OPEN, Code, Run, create, delete, multi, set_data

BOB_ID = ("digest", acl.digest_id("bob:pw"))


def set_quota(path: str, count: int | None = None, size: int | None = None) -> pb.SetQuotaRequest:
    return pb.SetQuotaRequest(path=path, count=count, bytes=size)


def drop_quota(path: str) -> pb.DeleteQuotaRequest:
    return pb.DeleteQuotaRequest(path=path)


def usage(run: Run, path: str) -> tuple[int, int]:
    quota = run.tree.get_quota(path).quota
    return quota.used_count, quota.used_bytes


def all_quotas(tree: Tree) -> dict[str, tuple[int, int, int, int]]:
    return {
        root: (q.count, q.bytes, q.used_count, q.used_bytes)
        for root, q in tree.quotas.roots.items()
    }


@pytest.fixture
def quota_run(run: Run) -> Run:
    """/q (4 bytes of data) with /q/a under it: usage 2 znodes, 5 bytes."""
    run.ok(create("/q", b"1234"))
    run.ok(create("/q/a", b"5"))
    return run


# ------------------------------------------------------------------ limits


def test_the_count_includes_the_quota_root_and_is_a_hard_limit(quota_run: Run) -> None:
    answer = quota_run.ok(set_quota("/q", count=3))
    assert (answer.quota.count, answer.quota.used_count, answer.quota.used_bytes) == (3, 2, 5)
    assert not answer.quota.HasField("bytes")
    quota_run.ok(create("/q/b"))
    quota_run.refused(create("/q/c"), Code.QUOTA_EXCEEDED)
    quota_run.refused(create("/q/a/c", ephemeral=False), Code.QUOTA_EXCEEDED)
    assert usage(quota_run, "/q") == (3, 5)
    quota_run.ok(create("/elsewhere"))  # outside the subtree: not counted


def test_bytes_count_every_znodes_data_and_set_data_moves_them(quota_run: Run) -> None:
    quota_run.ok(set_quota("/q", size=10))
    quota_run.ok(create("/q/b", b"12345"))
    assert usage(quota_run, "/q") == (3, 10)
    quota_run.refused(create("/q/c", b"x"), Code.QUOTA_EXCEEDED)
    quota_run.ok(create("/q/c"))  # no data: within a bytes-only quota
    quota_run.refused(set_data("/q/a", b"55"), Code.QUOTA_EXCEEDED)
    quota_run.ok(set_data("/q/a", b"6"))  # same size
    quota_run.ok(set_data("/q/b", b""))  # shrinks
    assert usage(quota_run, "/q") == (4, 5)
    quota_run.ok(set_data("/q", b"123456789"))  # grows to the limit exactly
    assert usage(quota_run, "/q") == (4, 10)


def test_made_parents_count_each(quota_run: Run) -> None:
    quota_run.ok(set_quota("/q", count=5))
    quota_run.refused(create("/q/x/y/z/w", make_parents=True), Code.QUOTA_EXCEEDED)
    quota_run.ok(create("/q/x/y/z", make_parents=True))
    assert usage(quota_run, "/q") == (5, 5)


def test_a_quota_outlives_its_node_and_counts_it_again(quota_run: Run) -> None:
    """As ZooKeeper's: deleting the root leaves the quota, at zero usage."""
    quota_run.ok(set_quota("/q", count=2))
    quota_run.ok(delete("/q", recursive=True))
    assert usage(quota_run, "/q") == (0, 0)
    quota_run.refused(create("/q/a/b", make_parents=True), Code.QUOTA_EXCEEDED)
    quota_run.ok(create("/q/a", b"xy", make_parents=True))
    assert usage(quota_run, "/q") == (2, 2)


def test_deletes_and_expired_ephemerals_give_usage_back(quota_run: Run, session: int) -> None:
    quota_run.ok(set_quota("/q", count=4))
    quota_run.ok(create("/q/e", b"eph", ephemeral=True), session)
    quota_run.ok(create("/q/a/b"))
    quota_run.refused(create("/q/c"), Code.QUOTA_EXCEEDED)
    quota_run.ok(delete("/q/a", recursive=True))
    assert usage(quota_run, "/q") == (2, 7)
    quota_run.ok(create("/q/c"))
    quota_run.ok(EXPIRE, session)
    assert usage(quota_run, "/q") == (2, 4)  # /q and /q/c


def test_a_quota_set_below_the_usage_is_taken_and_only_growth_fails(quota_run: Run) -> None:
    answer = quota_run.ok(set_quota("/q", count=1, size=1))
    assert (answer.quota.used_count, answer.quota.used_bytes) == (2, 5)
    quota_run.refused(create("/q/b"), Code.QUOTA_EXCEEDED)
    quota_run.refused(set_data("/q/a", b"56"), Code.QUOTA_EXCEEDED)
    quota_run.ok(set_data("/q", b"1"))  # shrinking goes through
    quota_run.ok(delete("/q/a"))
    assert usage(quota_run, "/q") == (1, 1)


def test_setting_again_changes_only_the_limits_given(quota_run: Run) -> None:
    quota_run.ok(set_quota("/q", count=3, size=100))
    answer = quota_run.ok(set_quota("/q", size=6))
    assert (answer.quota.count, answer.quota.bytes) == (3, 6)
    assert quota_run.tree.get_data("/coord/quota/q/coord_limits").data == b"count=3,bytes=6"
    assert quota_run.tree.get_data("/coord/quota/q/coord_limits").stat.version == 1


# -------------------------------------------------------------------- multi


def test_a_transaction_is_checked_op_by_op(quota_run: Run) -> None:
    quota_run.ok(set_quota("/q", count=3))
    # A delete first makes room for the create after it.
    quota_run.ok(multi(create("/q/b"), delete("/q/a"), create("/q/c")))
    assert usage(quota_run, "/q") == (3, 4)
    # The same ops the other way round cross the limit at the create.
    answer = quota_run.ok(multi(create("/q/d"), delete("/q/b")))
    codes = [result.error.code for result in answer.results]
    assert codes == [Code.QUOTA_EXCEEDED, Code.RUNTIME_INCONSISTENCY]
    assert usage(quota_run, "/q") == (3, 4)


def test_a_rolled_back_transaction_gives_its_usage_back(quota_run: Run) -> None:
    quota_run.ok(set_quota("/q", count=4, size=6))
    answer = quota_run.ok(multi(create("/q/b", b"x"), set_data("/q/a", b"too big")))
    assert [result.error.code for result in answer.results] == [
        Code.ROLLED_BACK,
        Code.QUOTA_EXCEEDED,
    ]
    assert usage(quota_run, "/q") == (2, 5)
    assert quota_run.gone("/q/b")
    quota_run.ok(multi(create("/q/b", b"x"), create("/q/c")))
    assert usage(quota_run, "/q") == (4, 6)


# ------------------------------------------------------------------- rules


def test_quotas_do_not_nest(quota_run: Run) -> None:
    quota_run.ok(create("/q/a/deep"))
    quota_run.ok(set_quota("/q/a", count=10))
    quota_run.refused(set_quota("/q", count=10), Code.BAD_ARGUMENTS)  # one below
    quota_run.refused(set_quota("/q/a/deep", count=10), Code.BAD_ARGUMENTS)  # one above
    quota_run.ok(drop_quota("/q/a"))
    quota_run.ok(set_quota("/q", count=10))


@pytest.mark.parametrize(
    "request_",
    [
        set_quota("/q"),  # no limit
        set_quota("/q", count=0),
        set_quota("/q", size=-1),
        set_quota("/", count=10),
        set_quota("/coord", count=10),
        set_quota("/coord/quota", count=10),
        set_quota("q", count=10),
    ],
    ids=["no-limit", "zero-count", "negative-bytes", "root", "reserved", "reserved-under", "rel"],
)
def test_bad_quotas_are_refused(quota_run: Run, request_: pb.SetQuotaRequest) -> None:
    quota_run.refused(request_, Code.BAD_ARGUMENTS)


def test_a_quota_needs_its_node_and_removing_needs_a_quota(quota_run: Run) -> None:
    quota_run.refused(set_quota("/missing", count=1), Code.NO_NODE)
    quota_run.refused(drop_quota("/q"), Code.NO_NODE)
    with pytest.raises(Exception, match="no quota on /q"):
        quota_run.tree.get_quota("/q")


def test_setting_and_removing_need_admin(run: Run) -> None:
    run.ok(create("/bobs", acl=[pb.ACL(perms=ALL ^ ADMIN, id=pb.Id(scheme="world", id="anyone"))]))
    run.refused(set_quota("/bobs", count=5), Code.NO_AUTH)
    run.ok(
        create("/mine", acl=[pb.ACL(perms=ADMIN | READ, id=pb.Id(scheme=BOB_ID[0], id=BOB_ID[1]))])
    )
    run.refused(set_quota("/mine", count=5), Code.NO_AUTH)
    run.ok(set_quota("/mine", count=5), auth=[BOB_ID])
    run.refused(drop_quota("/mine"), Code.NO_AUTH)
    run.ok(drop_quota("/mine"), auth=[BOB_ID])


def test_a_gone_roots_quota_needs_admin_on_its_nearest_ancestor(run: Run) -> None:
    bob_all = [pb.ACL(perms=ALL, id=pb.Id(scheme=BOB_ID[0], id=BOB_ID[1]))]
    run.ok(create("/bob", acl=bob_all))
    run.ok(create("/bob/q"), auth=[BOB_ID])
    run.ok(set_quota("/bob/q", count=5))  # /bob/q itself is open
    run.ok(delete("/bob/q"), auth=[BOB_ID])
    run.refused(drop_quota("/bob/q"), Code.NO_AUTH)
    run.ok(drop_quota("/bob/q"), auth=[BOB_ID])


def test_removing_frees_the_subtree_and_its_znodes(quota_run: Run) -> None:
    quota_run.ok(set_quota("/q", count=2))
    assert quota_run.tree.get_children("/coord/quota").children == ["q"]
    quota_run.ok(drop_quota("/q"))
    assert quota_run.tree.get_children("/coord/quota").children == []
    quota_run.ok(create("/q/b"))
    assert all_quotas(quota_run.tree) == {}


def test_the_limits_znodes_are_the_services(quota_run: Run) -> None:
    quota_run.ok(set_quota("/q", count=9))
    assert quota_run.tree.get_data("/coord/quota/q/coord_limits").data == b"count=9,bytes=-1"
    quota_run.refused(set_data("/coord/quota/q/coord_limits", b"count=99"), Code.BAD_ARGUMENTS)
    quota_run.refused(delete("/coord/quota/q/coord_limits"), Code.BAD_ARGUMENTS)
    quota_run.refused(create("/coord/quota/x"), Code.BAD_ARGUMENTS)


# ------------------------------------------------------- state, determinism


def _scenario(run: Run, session: int) -> None:
    run.ok(create("/q", b"1234"))
    run.ok(create("/q/coord_limits", b"a user's node of that name"))
    run.ok(set_quota("/q/coord_limits", count=3))
    run.ok(create("/r/s", b"xyz", make_parents=True))
    run.ok(set_quota("/r", count=10, size=20))
    run.ok(create("/r/s/e", b"e", ephemeral=True), session)
    run.ok(multi(create("/r/t", b"12"), set_data("/r/s", b"")))
    run.ok(create("/q/coord_limits/x", b"x"))


def test_every_tree_fed_the_same_commands_has_the_same_quotas() -> None:
    trees = []
    for run in (Run(), Run()):
        _scenario(run, run.ok(OPEN).session_id)
        trees.append(run.tree)
    assert all_quotas(trees[0]) == all_quotas(trees[1])
    # /q/coord_limits, its child; /r, /r/s, /r/s/e, /r/t.
    assert all_quotas(trees[0]) == {"/q/coord_limits": (3, -1, 2, 27), "/r": (10, 20, 4, 3)}
    assert trees[0].nodes == trees[1].nodes


def test_loading_rebuilds_limits_and_usage(run: Run, session: int) -> None:
    _scenario(run, session)
    loaded = Tree()
    loaded.load(copy.deepcopy(run.tree.nodes), copy.deepcopy(run.tree.sessions), run.tree.zxid)
    assert all_quotas(loaded) == all_quotas(run.tree)


def test_quotas_survive_storage(tmp_path, run: Run, session: int) -> None:
    """A restart loads them, a snapshot carries them, and a session's
    set_quota retried after a restart gets its first reply."""
    _scenario(run, session)
    first = run.ok(set_quota("/q/coord_limits", size=50), session, xid=1)
    storage = Storage(tmp_path / "db")
    storage.save_applied(run.tree, 1).result()
    slot, zxid, items = storage.state_snapshot()
    storage.close()
    again = Storage(tmp_path / "db")
    restarted = Run(Tree())
    again.load(restarted.tree)
    again.close()
    assert all_quotas(restarted.tree) == all_quotas(run.tree)
    assert restarted.ok(set_quota("/q/coord_limits", size=50), session, xid=1) == first
    target = Storage(tmp_path / "copy")
    target.install_state(slot, zxid, items).result()
    installed = Tree()
    target.load(installed)
    target.close()
    assert all_quotas(installed) == all_quotas(run.tree)
    Run(installed).refused(create("/r/u", b"x" * 20), Code.QUOTA_EXCEEDED)
