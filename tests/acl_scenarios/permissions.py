"""Scenarios on what each permission allows: on parents and children, on
ACLs themselves, write without read, transactions, the super user."""

from __future__ import annotations

from tests.acl_scenarios.clients import (
    ALICE,
    BOB,
    SUPER,
    Events,
    Target,
    acl_of,
    listed,
    owned_by,
    succeeded,
)
from tests.acl_scenarios.recording import (
    EXISTS_NEEDS_READ,
    Differs,
    Recorder,
)


def parent_permissions(t: Target, rec: Recorder) -> None:
    """create needs CREATE on the parent, delete DELETE on the parent; which
    refusal or error wins when the node is there, or missing."""
    s, base = t.security, "/parent_permissions"
    alice, anon = t(ALICE), t()
    rec("alice creates the base", alice.create, base)
    rec("alice creates p, anyone may read", alice.create, f"{base}/p", acl=owned_by(s, read=True))
    rec("anon creates p/c", anon.create, f"{base}/p/c")
    rec("alice creates p/c, open", alice.create, f"{base}/p/c", b"v")
    rec("alice creates p/c/g", alice.create, f"{base}/p/c/g")
    rec("anon creates p/c again (exists)", anon.create, f"{base}/p/c")
    rec("anon creates under a missing parent", anon.create, f"{base}/p/missing/c")
    rec("anon creates a sequential in p", anon.create, f"{base}/p/s-", sequence=True)
    rec("alice creates a sequential in p", alice.create, f"{base}/p/s-", sequence=True)
    rec("anon deletes p/c", anon.delete, f"{base}/p/c")
    rec("anon deletes a missing p/x", anon.delete, f"{base}/p/x")
    rec("anon deletes p/c, wrong version", anon.delete, f"{base}/p/c", version=7)
    rec("anon deletes p/c/g (p/c is open)", anon.delete, f"{base}/p/c/g")
    rec("anon sets p, wrong version", anon.set, f"{base}/p", b"x", version=7)
    rec("anon sets a missing node under p", anon.set, f"{base}/p/x", b"x")
    rec("alice deletes p (not empty)", alice.delete, f"{base}/p")
    rec("anon deletes p (not empty, base open)", anon.delete, f"{base}/p")
    rec("anon deletes p recursively", succeeded(anon.delete), f"{base}/p", recursive=True)
    rec("p/c is still there", listed, alice, f"{base}/p")
    rec("alice deletes p/c, wrong version", alice.delete, f"{base}/p/c", version=7)
    rec("alice deletes p recursively", succeeded(alice.delete), f"{base}/p", recursive=True)
    rec("p is gone", alice.exists, f"{base}/p")


def set_acls_rules(t: Target, rec: Recorder) -> None:
    """set_acls needs ADMIN and matches `version` against the aversion."""
    s, base = t.security, "/set_acls_rules"
    alice, bob, anon = t(ALICE), t(BOB), t()
    bob_rw = s.make_digest_acl("bob", "pw", read=True, write=True)
    rec("alice creates the base", alice.create, base)
    rec("alice creates n", alice.create, f"{base}/n", acl=[*owned_by(s), bob_rw])
    rec("alice set_acls, version 0", alice.set_acls, f"{base}/n", [*owned_by(s), bob_rw], 0)
    rec("alice set_acls, stale version 0", alice.set_acls, f"{base}/n", owned_by(s), 0)
    rec("alice set_acls, version -1", alice.set_acls, f"{base}/n", [*owned_by(s), bob_rw])
    rec("bob (read, write) set_acls", bob.set_acls, f"{base}/n", s.OPEN_ACL_UNSAFE)
    rec("bob set_acls, wrong version", bob.set_acls, f"{base}/n", s.OPEN_ACL_UNSAFE, 9)
    rec("anon set_acls", anon.set_acls, f"{base}/n", s.OPEN_ACL_UNSAFE)
    rec("alice set_acls on a missing node", alice.set_acls, f"{base}/x", s.OPEN_ACL_UNSAFE)
    rec("the ACL after", alice.get_acls, f"{base}/n")
    rec("set_acls leaves the data version", alice.get, f"{base}/n")
    rec("alice gives anyone ADMIN only", alice.set_acls, f"{base}/n", owned_by(s, admin=True))
    rec("anon set_acls with ADMIN", anon.set_acls, f"{base}/n", s.OPEN_ACL_UNSAFE, 3)
    rec("now anon reads", anon.get, f"{base}/n")


def get_acls_rules(t: Target, rec: Recorder) -> None:
    """get_acls needs READ or ADMIN; without ADMIN digest hashes are masked."""
    s, base = t.security, "/get_acls_rules"
    alice, bob, carol, anon = t(ALICE), t(BOB), t("carol:c"), t()
    acl = [
        s.make_digest_acl("alice", "secret", all=True),
        s.make_digest_acl("bob", "pw", read=True),
        s.make_digest_acl("carol", "c", admin=True),
        s.make_acl("ip", "127.0.0.1", write=True),
    ]
    rec("alice creates the base", alice.create, base)
    rec("alice creates n", alice.create, f"{base}/n", acl=acl)
    rec("anon (write by ip) get_acls", anon.get_acls, f"{base}/n")
    rec("bob (read) get_acls", bob.get_acls, f"{base}/n")
    rec("carol (admin) get_acls", carol.get_acls, f"{base}/n")
    rec("alice get_acls", alice.get_acls, f"{base}/n")
    rec("get_acls of a missing node", anon.get_acls, f"{base}/x")
    rec("the root's ACL", acl_of, anon, "/")  # its Stat counts other scenarios' nodes


def write_only(t: Target, rec: Recorder) -> None:
    """WRITE without READ: set answers its Stat, get is refused."""
    s, base = t.security, "/write_only"
    alice, anon = t(ALICE), t()
    rec("alice creates the base", alice.create, base)
    rec("alice creates w", alice.create, f"{base}/w", b"v", acl=owned_by(s, write=True))
    rec("anon sets w", anon.set, f"{base}/w", b"x")
    rec("anon sets w at version 1", anon.set, f"{base}/w", b"y", version=1)
    rec("anon sets w at a stale version", anon.set, f"{base}/w", b"z", version=1)
    rec("anon gets w", anon.get, f"{base}/w")
    rec("alice gets w", alice.get, f"{base}/w")
    txn = anon.transaction()
    txn.set_data(f"{base}/w", b"t")
    txn.check(f"{base}/w", 3)
    rec("anon: set, then check w (no READ)", txn.commit)


def transactions(t: Target, rec: Recorder) -> None:
    """Each op of a transaction is checked as if alone; one refusal fails it
    all, with ZooKeeper's per-op results."""
    s, base = t.security, "/transactions"
    alice, anon = t(ALICE), t()
    rec("alice creates the base", alice.create, base, acl=owned_by(s, read=True, create=True))
    rec("alice creates locked", alice.create, f"{base}/locked", acl=owned_by(s))
    rec("alice creates open", alice.create, f"{base}/open")
    txn = anon.transaction()
    txn.create(f"{base}/open/a")
    txn.set_data(f"{base}/locked", b"x")
    txn.create(f"{base}/open/b")
    rec("anon: create, a refused set, create", txn.commit)
    rec("nothing was created", listed, anon, f"{base}/open")
    txn = anon.transaction()
    txn.check(f"{base}/locked", 0)
    txn.create(f"{base}/open/c")
    rec("anon: check an unreadable node, create", txn.commit)
    txn = anon.transaction()
    txn.create(f"{base}/open/d")
    txn.delete(f"{base}/locked")
    rec("anon: create, delete locked (no DELETE on the base)", txn.commit)
    txn = anon.transaction()
    txn.create(f"{base}/locked/e")
    txn.create(f"{base}/open/e")
    rec("anon: a refused create first", txn.commit)
    txn = anon.transaction()
    txn.create(f"{base}/open/f")
    txn.set_data(f"{base}/locked", b"x", version=5)
    rec("anon: a refused set with a wrong version", txn.commit)
    txn = alice.transaction()
    txn.create(f"{base}/locked/g")
    txn.set_data(f"{base}/locked", b"y")
    txn.create(f"{base}/open/g", acl=owned_by(s))
    rec("alice: all allowed", txn.commit)
    txn = anon.transaction()
    txn.check(f"{base}/locked/missing", 0)
    rec("anon: check a missing node under locked", txn.commit)
    txn = anon.transaction()
    txn.delete(f"{base}/locked/missing")
    rec("anon: delete a missing node under locked", txn.commit)
    txn = anon.transaction()
    txn.create(f"{base}/locked")
    rec("anon: create locked again (CREATE on the base)", txn.commit)
    txn = anon.transaction()
    txn.create(f"{base}/open/h", acl=s.CREATOR_ALL_ACL)
    rec("anon: create with the auth scheme", txn.commit)
    txn = alice.transaction()
    txn.create(f"{base}/open/h", acl=s.CREATOR_ALL_ACL)
    rec("alice: create with the auth scheme", txn.commit)
    rec("its ACL", alice.get_acls, f"{base}/open/h")
    rec("the open children after", listed, alice, f"{base}/open")
    rec("the locked children after", listed, alice, f"{base}/locked")


def super_user(t: Target, rec: Recorder) -> None:
    """The super digest bypasses every ACL, and sees the hashes unmasked."""
    s, base = t.security, "/super_user"
    alice, root = t(ALICE), t(SUPER)
    rec("alice creates the base", alice.create, base, acl=owned_by(s))
    rec("alice creates n", alice.create, f"{base}/n", b"v", acl=owned_by(s))
    rec("super get", root.get, f"{base}/n")
    rec("super set", root.set, f"{base}/n", b"w")
    rec("super get_children", listed, root, base)
    rec("super exists", root.exists, f"{base}/n")
    rec("super get_acls", root.get_acls, f"{base}/n")
    rec("super creates under n", root.create, f"{base}/n/c", acl=owned_by(s))
    rec("super set_acls, stale version", root.set_acls, f"{base}/n", s.OPEN_ACL_UNSAFE, 3)
    rec("super set_acls", root.set_acls, f"{base}/n", owned_by(s), 0)
    rec("super creates with auth", root.create, f"{base}/a", acl=s.CREATOR_ALL_ACL)
    rec("its ACL", root.get_acls, f"{base}/a")
    rec("super deletes n recursively", succeeded(root.delete), f"{base}/n", recursive=True)
    rec("super deletes a", root.delete, f"{base}/a")
    rec("super deletes the base", root.delete, base)
    late = t()
    rec("add_auth super later", late.add_auth, "digest", SUPER)
    rec("then create under the root", late.create, "/super_user", acl=owned_by(s))
    rec("then a wrong super password", t("super:wrong").get, "/super_user")


def create_only_parent(t: Target, rec: Recorder) -> None:
    """Sequential and ephemeral children under a parent anyone may only
    CREATE in: created, then neither listed nor deleted by their creator."""
    s, base = t.security, "/create_only_parent"
    alice, anon = t(ALICE), t()
    rec("alice creates the base", alice.create, base)
    rec("alice creates q", alice.create, f"{base}/q", acl=owned_by(s, create=True))
    rec("anon creates a sequential", anon.create, f"{base}/q/n-", sequence=True)
    rec("anon creates an ephemeral", anon.create, f"{base}/q/e", ephemeral=True)
    rec("anon creates an ephemeral sequential", anon.create, f"{base}/q/s-", b"", None, True, True)
    rec("anon creates e again", anon.create, f"{base}/q/e", ephemeral=True)
    rec("anon lists q", listed, anon, f"{base}/q")
    rec("anon reads its own e", anon.get, f"{base}/q/e")
    rec("anon deletes its own e", anon.delete, f"{base}/q/e")
    rec("alice lists q", listed, alice, f"{base}/q")
    rec("alice sees q's cversion", alice.exists, f"{base}/q")
    rec("anon creates under its ephemeral", anon.create, f"{base}/q/e/x")
    events = Events()
    rec("alice watches q's children", listed, alice, f"{base}/q")
    alice.get_children(f"{base}/q", watch=events)
    rec("anon closes its session", succeeded(anon.stop))
    rec.note("events before q's", events.until(f"{base}/q"))
    rec("its ephemerals went, though it may not DELETE", listed, alice, f"{base}/q")


def make_parents(t: Target, rec: Recorder) -> None:
    """ensure_path and create(makepath=True) under a protected parent; the
    parents they create get the node's ACL."""
    s, base = t.security, "/make_parents"
    alice, anon = t(ALICE), t()
    rec("alice creates the base", alice.create, base)
    rec("alice creates m", alice.create, f"{base}/m", acl=owned_by(s, read=True))
    rec("anon ensure_path under m", succeeded(anon.ensure_path), f"{base}/m/a/b")
    rec("anon makepath under m", anon.create, f"{base}/m/a/b", makepath=True)
    rec("anon ensure_path of m itself", succeeded(anon.ensure_path), f"{base}/m")
    rec("m has no children", listed, alice, f"{base}/m")
    acl = owned_by(s, read=True)
    rec("alice makepath under m", alice.create, f"{base}/m/a/b", b"v", acl=acl, makepath=True)
    rec("the new parent's ACL", alice.get_acls, f"{base}/m/a")
    rec(
        "alice ensure_path with an ACL",
        succeeded(alice.ensure_path),
        f"{base}/m/x/y",
        acl=owned_by(s),
    )
    rec("its ACL", alice.get_acls, f"{base}/m/x/y")
    rec("its parent's ACL", alice.get_acls, f"{base}/m/x")
    rec("anon makepath past a private parent", anon.create, f"{base}/m/x/y/z", makepath=True)
    rec("anon makepath, all new, open", anon.create, f"{base}/open/a/b", makepath=True)
    rec("their ACL", anon.get_acls, f"{base}/open/a")
    private = t(ALICE, default_acl=owned_by(s))
    rec("default_acl: create", private.create, f"{base}/d")
    rec("default_acl: its ACL", private.get_acls, f"{base}/d")
    rec("default_acl: ensure_path", succeeded(private.ensure_path), f"{base}/d/e/f")
    rec("default_acl: the parent's ACL", private.get_acls, f"{base}/d/e")
    # kazoo's ensure_path starts with exists, which Debian's ZooKeeper answers
    # (3.8.4 would refuse it, as coord does through its ZooKeeper door);
    # coord_client's starts with create, and the parent grants CREATE: both
    # then find the node there.
    rec.differs(
        "anon ensure_path of an unreadable node",
        Differs("done", "done", EXISTS_NEEDS_READ, door="NoAuthError"),
        succeeded(anon.ensure_path),
        f"{base}/d",
    )
