"""Scenarios on watches: one-shot and persistent, which events a session
may see as ACLs change and as it authenticates."""

from __future__ import annotations

from tests.acl_scenarios.clients import (
    ALICE,
    Events,
    Target,
    listed,
    owned_by,
    succeeded,
)
from tests.acl_scenarios.recording import (
    ADD_WATCH_NEEDS_READ,
    EXISTS_NEEDS_READ,
    Differs,
    Node,
    Recorder,
)


def one_shot_watches(t: Target, rec: Recorder) -> None:
    """get and get_children refuse an unreadable node and set no watch; the
    session then gets no event for it (a readable sentinel ends the wait)."""
    s, base = t.security, "/one_shot_watches"
    alice, anon = t(ALICE), t()
    events = Events()
    rec("alice creates the base", alice.create, base)
    rec("alice creates n", alice.create, f"{base}/n", acl=owned_by(s))
    rec("alice creates the sentinel", alice.create, f"{base}/sentinel")
    rec("anon get with a watch", anon.get, f"{base}/n", watch=events)
    rec("anon get_children with a watch", anon.get_children, f"{base}/n", watch=events)
    rec("anon exists on a missing node", anon.exists, f"{base}/n/c", watch=events)
    rec("anon watches the sentinel", anon.get, f"{base}/sentinel", watch=events)
    rec("alice sets n", alice.set, f"{base}/n", b"x")
    rec("alice creates n/c", alice.create, f"{base}/n/c")
    rec("anon lists the base with a watch", listed, anon, base)
    anon.get_children(base, watch=events)
    rec("alice creates a private child of the base", alice.create, f"{base}/p", acl=owned_by(s))
    rec("alice sets the sentinel", alice.set, f"{base}/sentinel", b"1")
    rec.note("events before the sentinel's", events.until(f"{base}/sentinel"))
    rec.differs(
        "anon exists with a watch",
        Differs(Node(1, 0, 1, 1, 1, False), "NoAuthError", EXISTS_NEEDS_READ),
        anon.exists,
        f"{base}/n",
        watch=events,
    )
    rec("anon watches the sentinel again", anon.get, f"{base}/sentinel", watch=events)
    rec("alice sets n again", alice.set, f"{base}/n", b"y")
    rec("alice sets the sentinel again", alice.set, f"{base}/sentinel", b"2")
    # None on both: coord set no watch, and the ZooKeeper tested drops the
    # event of the watch its exists set (the CVE-2024-23944 fix checks READ
    # on every event it delivers, one-shot ones too).
    rec.note("events before the sentinel's, after exists", events.until(f"{base}/sentinel"))


def watches_across_acl_changes(t: Target, rec: Recorder) -> None:
    """A watch set while its node was readable: set_acls fires nothing; once
    the node is unreadable its event is not delivered, and the watch is spent
    all the same; a watch on a missing node gets no event when it is created
    unreadable."""
    s, base = t.security, "/watches_across_acl_changes"
    alice, anon = t(ALICE), t()
    events = Events()
    rec("alice creates the base", alice.create, base)
    rec("alice creates r, anyone may read", alice.create, f"{base}/r", acl=owned_by(s, read=True))
    rec("alice creates the sentinel", alice.create, f"{base}/sentinel")
    rec("anon gets r with a watch", anon.get, f"{base}/r", watch=events)
    rec("anon lists r with a watch", listed, anon, f"{base}/r")
    anon.get_children(f"{base}/r", watch=events)
    rec("anon exists on a missing m with a watch", anon.exists, f"{base}/m", watch=events)
    acl = owned_by(s, read=True, write=True)
    rec("alice set_acls r, still readable", alice.set_acls, f"{base}/r", acl)
    rec("anon watches the sentinel", anon.get, f"{base}/sentinel", watch=events)
    rec("alice sets the sentinel", alice.set, f"{base}/sentinel", b"1")
    rec.note("events of set_acls", events.until(f"{base}/sentinel"))
    rec("alice makes r private", alice.set_acls, f"{base}/r", owned_by(s))
    rec("alice sets r", alice.set, f"{base}/r", b"x")
    rec("alice creates r/c", alice.create, f"{base}/r/c")
    rec("alice creates m, private", alice.create, f"{base}/m", acl=owned_by(s))
    rec("anon watches the sentinel again", anon.get, f"{base}/sentinel", watch=events)
    rec("alice sets the sentinel again", alice.set, f"{base}/sentinel", b"2")
    rec.note("events while r and m are private", events.until(f"{base}/sentinel"))
    rec("alice opens r again", alice.set_acls, f"{base}/r", owned_by(s, read=True))
    rec("alice sets r again", alice.set, f"{base}/r", b"y")
    rec("alice creates r/d", alice.create, f"{base}/r/d")
    rec("anon watches the sentinel a third time", anon.get, f"{base}/sentinel", watch=events)
    rec("alice sets the sentinel a third time", alice.set, f"{base}/sentinel", b"3")
    rec.note(
        "events once r is open again (its watches were spent)", events.until(f"{base}/sentinel")
    )


def watch_then_authenticate(t: Target, rec: Recorder) -> None:
    """Events are checked against the session's ids when delivered: a watch
    set before add_auth gets the events its new credential may read."""
    s, base = t.security, "/watch_then_authenticate"
    alice, anon = t(ALICE), t()
    on_base, one_shot = Events(), Events()
    rec("alice creates the base", alice.create, base)
    rec("alice creates p, private", alice.create, f"{base}/p", acl=owned_by(s))
    rec("anon add_watch on the base", succeeded(anon.add_watch), base, on_base, recursive=True)
    rec("anon exists on a missing q with a watch", anon.exists, f"{base}/q", watch=one_shot)
    rec("alice sets p", alice.set, f"{base}/p", b"1")
    rec("alice creates s1", alice.create, f"{base}/s1")
    rec.note("events before s1's", on_base.until(f"{base}/s1"))
    rec("anon adds alice's credential", anon.add_auth, "digest", ALICE)
    rec("alice sets p again", alice.set, f"{base}/p", b"2")
    rec("alice creates q, private", alice.create, f"{base}/q", acl=owned_by(s))
    rec("alice creates s2", alice.create, f"{base}/s2")
    rec.note("events before s2's", on_base.until(f"{base}/s2"))
    rec.note("the one-shot watch's events", one_shot.drain())


def persistent_watches(t: Target, rec: Recorder) -> None:
    """A persistent recursive watch delivers an event for a node only to a
    session that may read that node: ZooKeeper's fix for CVE-2024-23944,
    which Debian backported to its 3.8.0 (without ZOOKEEPER-2590)."""
    s, base = t.security, "/persistent_watches"
    alice, anon = t(ALICE), t()
    on_base, on_p, on_missing = Events(), Events(), Events()
    rec("alice creates the base", alice.create, base)
    rec("alice creates a private p", alice.create, f"{base}/p", acl=owned_by(s))
    rec.differs(
        "anon add_watch on the private p",
        Differs("done", "NoAuthError", ADD_WATCH_NEEDS_READ),
        succeeded(anon.add_watch),
        f"{base}/p",
        on_p,
        recursive=True,
    )
    rec(
        "anon add_watch on a missing node",
        succeeded(anon.add_watch),
        f"{base}/none",
        on_missing,
        recursive=True,
    )
    rec("anon add_watch on the base", succeeded(anon.add_watch), base, on_base, recursive=True)
    rec("alice sets p", alice.set, f"{base}/p", b"x")
    rec("alice creates p/c, open", alice.create, f"{base}/p/c", b"")
    rec("alice creates an open o", alice.create, f"{base}/o", b"")
    rec("alice creates o/secret", alice.create, f"{base}/o/secret", acl=owned_by(s))
    rec("alice sets o/secret", alice.set, f"{base}/o/secret", b"x")
    rec("alice deletes o/secret", alice.delete, f"{base}/o/secret")
    rec(
        "alice creates o/r, anyone may read",
        alice.create,
        f"{base}/o/r",
        acl=owned_by(s, read=True),
    )
    rec("alice sets o/r", alice.set, f"{base}/o/r", b"x")
    rec("alice creates o/later, private", alice.create, f"{base}/o/later", acl=owned_by(s))
    rec("alice opens o/later to readers", alice.set_acls, f"{base}/o/later", owned_by(s, read=True))
    rec("alice sets o/later", alice.set, f"{base}/o/later", b"x")
    rec("alice closes o/later again", alice.set_acls, f"{base}/o/later", owned_by(s))
    rec("alice deletes o/later", alice.delete, f"{base}/o/later")
    rec("alice creates none, private", alice.create, f"{base}/none", acl=owned_by(s))
    rec("alice creates none/c, open", alice.create, f"{base}/none/c")
    rec("alice creates the sentinel", alice.create, f"{base}/sentinel")
    rec.note("the base watch's events before the sentinel's", on_base.until(f"{base}/sentinel"))
    rec.note("the missing node watch's events", on_missing.drain())
    seen = on_p.drain()
    rec.differs(
        "the private p watch's events",
        Differs([("CREATED", f"{base}/p/c")], [], ADD_WATCH_NEEDS_READ),
        lambda: seen,
    )
