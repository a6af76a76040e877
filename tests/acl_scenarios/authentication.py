"""Scenarios on who a session is: digest credentials at start or by
add_auth, refused ones, the `auth` scheme, and x509 subjects over mutual TLS."""

from __future__ import annotations

from tests.acl_scenarios.clients import (
    ALICE,
    BOB,
    SUPER,
    Target,
    acl_of,
    listed,
    owned_by,
)
from tests.acl_scenarios.recording import (
    EXISTS_NEEDS_READ,
    START_PROVES_AUTH,
    Differs,
    Node,
    Recorder,
)


def digest_owner(t: Target, rec: Recorder) -> None:
    """A node only alice may use: refused to others, allowed to alice however
    her session authenticates (at start, or later with add_auth)."""
    s, base = t.security, "/digest_owner"
    alice, anon = t(ALICE), t()
    rec("alice creates the base", alice.create, base)
    rec("alice creates n", alice.create, f"{base}/n", b"v", acl=owned_by(s))
    rec("alice creates n/c", alice.create, f"{base}/n/c", b"c")
    rec("anon get", anon.get, f"{base}/n")
    rec("anon set", anon.set, f"{base}/n", b"x")
    rec("anon get_children", listed, anon, f"{base}/n")
    rec("anon get_acls", anon.get_acls, f"{base}/n")
    rec.differs(
        "anon exists",
        Differs(Node(0, 0, 1, 1, 1, False), "NoAuthError", EXISTS_NEEDS_READ),
        anon.exists,
        f"{base}/n",
    )
    rec("anon exists on a missing child", anon.exists, f"{base}/n/missing")
    rec("anon create n/d", anon.create, f"{base}/n/d")
    rec("anon delete n/c", anon.delete, f"{base}/n/c")
    rec("anon reads the open child", anon.get, f"{base}/n/c")
    rec("anon adds a wrong password", anon.add_auth, "digest", "alice:wrong")
    rec("anon get, wrong password", anon.get, f"{base}/n")
    rec("anon adds alice's credential", anon.add_auth, "digest", ALICE)
    rec("late get", anon.get, f"{base}/n")
    rec("late set", anon.set, f"{base}/n", b"w")
    rec("late get_children", listed, anon, f"{base}/n")
    rec("late exists", anon.exists, f"{base}/n")
    at_start = t(ALICE)
    rec("at start get", at_start.get, f"{base}/n")
    rec("at start delete n/c", at_start.delete, f"{base}/n/c")
    rec("a second anon deletes n (the base is open)", t().delete, f"{base}/n")


def add_auth_refused(t: Target, rec: Recorder) -> None:
    """A credential ZooKeeper refuses ends the session (AuthFailedError)."""
    empty, unknown = t(), t()
    rec("an empty digest credential", empty.add_auth, "digest", "")
    rec("that session after it", empty.exists, "/")
    rec("an unknown scheme", unknown.add_auth, "nosuch", "x")
    rec("that session after it", unknown.exists, "/")


def refused_at_start(t: Target, rec: Recorder) -> None:
    """auth_data the server refuses, given to the constructor: kazoo's start
    returns before the credentials are answered, coord_client's proves them
    first, and stops the client when one is refused."""
    client = t.make(auth_data=[("nosuch", "x")])
    t.clients.append(client)
    rec.differs(
        "start with an unknown scheme",
        Differs(None, "AuthFailedError", START_PROVES_AUTH),
        client.start,
        timeout=30,
    )
    rec.differs(
        "a call after it",
        Differs("AuthFailedError", "ConnectionClosedError", START_PROVES_AUTH),
        client.exists,
        "/",
    )


def unicode_credentials(t: Target, rec: Recorder) -> None:
    """Digest credentials are hashed as UTF-8, as ZooKeeper does."""
    s, base = t.security, "/unicode_credentials"
    owner, other = t("é:ü"), t("e:u")
    rec("é creates the base", owner.create, base, b"v", acl=[s.make_digest_acl("é", "ü", all=True)])
    rec("its ACL", owner.get_acls, base)
    rec("é reads it", owner.get, base)
    rec("e cannot", other.get, base)


def colonless_digest(t: Target, rec: Recorder) -> None:
    """ZooKeeper takes a digest credential without a colon as it comes: the
    id is the whole text, then a colon and the hash."""
    s, base = t.security, "/colonless_digest"
    client, root = t(), t(SUPER)
    rec("a digest credential without a colon", client.add_auth, "digest", "alice")
    rec("it creates with auth", client.create, base, acl=s.CREATOR_ALL_ACL)
    rec("that session still works", client.exists, base)
    rec("the id it got", root.get_acls, base)


def auth_scheme(t: Target, rec: Recorder) -> None:
    """The `auth` scheme stands for the session's authenticated ids, fixed at
    create or set_acls time; a session with none cannot use it."""
    s, base = t.security, "/auth_scheme"
    creator_all = [s.make_acl("auth", "", all=True)]
    anon, alice = t(), t(ALICE)
    rec("anon creates the base", anon.create, base)
    rec("anon creates with auth", anon.create, f"{base}/anon", acl=creator_all)
    rec("alice creates with auth", alice.create, f"{base}/a", acl=creator_all)
    rec("its ACL, as alice", alice.get_acls, f"{base}/a")
    rec("auth with an id", alice.create, f"{base}/id", acl=[s.make_acl("auth", "bob", read=True)])
    rec("its ACL", alice.get_acls, f"{base}/id")
    rec("auth beside world", alice.create, f"{base}/w", acl=[*creator_all, *s.READ_ACL_UNSAFE])
    rec("its ACL", alice.get_acls, f"{base}/w")
    rec("anon set_acls with auth", anon.set_acls, f"{base}/w", creator_all)
    rec("anon creates an open node", anon.create, f"{base}/o")
    rec("anon set_acls auth on it", anon.set_acls, f"{base}/o", creator_all)
    rec("alice set_acls auth on it", alice.set_acls, f"{base}/o", creator_all)
    rec("its ACL", alice.get_acls, f"{base}/o")
    rec("CREATOR_ALL_ACL as alice", alice.create, f"{base}/c", acl=s.CREATOR_ALL_ACL)
    rec("its ACL", alice.get_acls, f"{base}/c")


def auth_order(t: Target, rec: Recorder) -> None:
    """The `auth` scheme expands to the session's ids in the order it
    authenticated in."""
    s, base = t.security, "/auth_order"
    both = t()
    rec("bob's credential first", both.add_auth, "digest", BOB)
    rec("then alice's", both.add_auth, "digest", ALICE)
    rec("create with auth", both.create, base, acl=s.CREATOR_ALL_ACL)
    rec("its ACL", acl_of, both, base)


def x509_subjects(t: Target, rec: Recorder) -> None:
    """Over mutual TLS, a client certificate's subject is the session's x509
    id, spelled as ZooKeeper spells it (Java's X500Principal.getName()): the
    `auth` scheme shows it; an x509 ACL admits only that certificate."""
    s, base = t.security, "/x509_subjects"
    names = list(t.certs)
    first, second = t(**t.certs[names[0]]), t(**t.certs[names[1]])
    rec("create the base", first.create, base)
    for n, name in enumerate(names):
        client = t(**t.certs[name])
        rec(f"{name} creates with auth", client.create, f"{base}/{n}", acl=s.CREATOR_ALL_ACL)
        rec(f"the id of {name}", acl_of, client, f"{base}/{n}")
    rec("the second certificate reads the first's node", second.get, f"{base}/0")
    rec("the first reads its own", first.get, f"{base}/0")
