"""ACL and authentication scenarios written once against kazoo's API, run
through kazoo against a real ZooKeeper and through coord_client against coord
(tests/test_acl_vs_zookeeper.py), so that coord's rules are ZooKeeper's own.

Each scenario is a function `(target, rec)`: `target(*credentials)` opens a
session (digest `user:password` credentials given at start) and
`target.security` is the client's `security` module; `rec(label, call, ...)`
records what a step gave: its value made comparable, or the class name of
the exception it raised (kazoo's and coord_client's share names). Every
scenario works under its own top-level node, named after it.

Where coord deliberately follows a later ZooKeeper than the one tested,
`rec.differs` runs the step with the outcome each side is expected to give,
so the step stays in the comparison instead of being dropped.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

ALICE, BOB, SUPER = "alice:secret", "bob:pw", "super:test"  # digest credentials
EVENT_TIMEOUT = 30.0  # seconds: a failure bound, never a pass condition


@dataclass(frozen=True)
class Node:
    """The parts of a Stat that do not depend on zxids or clocks."""

    version: int
    aversion: int
    cversion: int
    data_length: int
    children: int
    ephemeral: bool


def shown(value: Any) -> Any:
    """`value` in a form both clients give alike: exceptions by class name,
    Stats as Node, ACLs as (perms, scheme, id), sequences element-wise."""
    if isinstance(value, BaseException):
        return type(value).__name__
    if hasattr(value, "aversion") and hasattr(value, "ephemeralOwner"):
        return Node(
            value.version, value.aversion, value.cversion,
            value.dataLength, value.numChildren, value.ephemeralOwner != 0,
        )  # fmt: skip
    if hasattr(value, "perms") and hasattr(value, "id"):
        return (value.perms, value.id.scheme, value.id.id)
    if isinstance(value, list | tuple):
        return [shown(item) for item in value]
    return value


@dataclass(frozen=True)
class Differs:
    """A step where coord deliberately differs from the ZooKeeper tested."""

    zookeeper: Any
    coord: Any
    why: str


# exists needs READ on an existing node in ZooKeeper 3.9.2 and 3.8.4
# (ZOOKEEPER-2590); coord follows that rule, Debian's 3.8.0 predates it.
EXISTS_NEEDS_READ = "exists needs READ on an existing node (ZOOKEEPER-2590, 3.8.4/3.9.2)"
# coord_client refuses an empty ACL list before sending it; kazoo's create
# takes it for the default ACL (open unless default_acl says otherwise), and
# its transaction sends it for the server to refuse at commit.
EMPTY_ACL_REFUSED = "coord_client refuses acl=[] at once (coord's rule)"
# coord_client's start returns once auth_data is proven, and stops the client
# when a credential is refused; kazoo's returns once connected.
START_PROVES_AUTH = "coord_client's start proves auth_data (coord_client's rule)"
# coord refuses permission bits outside ALL; ZooKeeper stores any int.
PERMS_WITHIN_ALL = "permissions outside READ..ADMIN are refused (coord's rule)"
# coord takes IPv6 ip ids, as ZooKeeper does from 3.9.4 (ZOOKEEPER-4240).
IPV6_IDS = "ip ids may be IPv6 (ZOOKEEPER-4240, 3.9.4)"
# coord refuses a persistent watch on a node its session may not read; no
# ZooKeeper does (up to 3.9.x, ZOOKEEPER-4799 included): it accepts the
# watch and filters each event by READ instead.
ADD_WATCH_NEEDS_READ = "add_watch needs READ on an existing path (coord's rule)"


@dataclass
class Recorder:
    """The outcome of every step of one scenario on one target, in order."""

    kind: str  # "zookeeper" or "coord"
    steps: list[tuple[str, Any]] = field(default_factory=list)

    def __call__(self, label: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run and record one step; its raw value, or None when it raised."""
        try:
            value = call(*args, **kwargs)
        except Exception as error:
            self.steps.append((label, shown(error)))
            return None
        self.steps.append((label, shown(value)))
        return value

    def differs(
        self, label: str, expected: Differs, call: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        """Run a step whose outcome differs by design, recording that it gave
        what this target is expected to give (else what it gave instead)."""
        self(label, call, *args, **kwargs)
        label, outcome = self.steps.pop()
        wanted = shown(getattr(expected, self.kind))
        if outcome == wanted:
            self.steps.append((label, f"differs by design: {expected.why}"))
        else:
            self.steps.append((label, f"{outcome!r}, not the expected {wanted!r}"))

    def note(self, label: str, value: Any) -> None:
        """Record a value the scenario computed itself (events seen, say)."""
        self.steps.append((label, shown(value)))


def listed(client: Any, path: str) -> list[str]:
    """get_children, sorted: ZooKeeper lists children in no set order."""
    return sorted(client.get_children(path))


def acl_of(client: Any, path: str) -> list:
    """get_acls without its Stat."""
    return client.get_acls(path)[0]


def succeeded(call: Callable[..., Any]) -> Callable[..., str]:
    """`call` giving "done" for any value: for calls whose success kazoo and
    coord_client return differently (ensure_path: the path or True; a
    recursive delete: None or True; add_watch)."""

    def run(*args: Any, **kwargs: Any) -> str:
        call(*args, **kwargs)
        return "done"

    return run


class Target:
    """Opens sessions with one system through its kazoo-compatible client;
    over mutual TLS, `certs` names the client certificates (certfile and
    keyfile options by name)."""

    def __init__(
        self,
        kind: str,
        make: Callable[..., Any],
        security: ModuleType,
        certs: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.kind, self.make, self.security = kind, make, security
        self.certs = certs or {}
        self.clients: list[Any] = []

    def __call__(self, *credentials: str, **options: Any) -> Any:
        auth = [("digest", credential) for credential in credentials]
        client = self.make(auth_data=auth, **options)
        self.clients.append(client)
        client.start(timeout=30)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.stop()
            client.close()
        self.clients.clear()


class Events:
    """A watch callback that keeps (type, path) of each event, in order."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[str, str]] = queue.Queue()

    def __call__(self, event: Any) -> None:
        self.queue.put((str(event.type), event.path))

    def drain(self) -> list[tuple[str, str]]:
        """The events received so far (call after another watch's `until`: a
        session's callbacks run one at a time, in commit order)."""
        seen = []
        while not self.queue.empty():
            seen.append(self.queue.get())
        return seen

    def until(self, path: str) -> list[tuple[str, str]]:
        """The events before the first one on `path`: a sentinel changed after
        the changes under test, since a session gets events in commit order."""
        seen = []
        while (event := self.queue.get(timeout=EVENT_TIMEOUT))[1] != path:
            seen.append(event)
        return seen


def owned_by(s: ModuleType, **perms: bool) -> list:
    """An ACL granting alice everything and anyone the given permissions."""
    acl = [s.make_digest_acl("alice", "secret", all=True)]
    if perms:
        acl.append(s.make_acl("world", "anyone", **perms))
    return acl


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


def empty_acl(t: Target, rec: Recorder) -> None:
    """An empty ACL list: the server refuses it (set_acls sends it as given)."""
    base = "/empty_acl"
    client = t()
    rec("create the base", client.create, base)
    rec.differs(
        "create with acl=[]",
        Differs(f"{base}/a", "InvalidACLError", EMPTY_ACL_REFUSED),
        client.create,
        f"{base}/a",
        acl=[],
    )
    txn = client.transaction()
    rec.differs(
        "a transaction's create with acl=[]",
        Differs(None, "InvalidACLError", EMPTY_ACL_REFUSED),
        txn.create,
        f"{base}/b",
        b"",
        acl=[],
    )
    rec.differs("its commit", Differs(["InvalidACLError"], [], EMPTY_ACL_REFUSED), txn.commit)
    rec("create o", client.create, f"{base}/o")
    rec("set_acls []", client.set_acls, f"{base}/o", [])
    rec("the ACL after", client.get_acls, f"{base}/o")
    rec("b does not exist", client.exists, f"{base}/b")


def tried(t: Target, rec: Recorder, base: str, ids: list[tuple[str, str]]) -> None:
    """Each id, with every permission, in an ACL given to create and to
    set_acls: both refuse the ids a provider calls invalid (InvalidACLError)."""
    s, client = t.security, t()
    rec("create the base", client.create, base)
    for n, (scheme, id_) in enumerate(ids):
        acl = [s.ACL(s.Permissions.ALL, s.Id(scheme, id_))]
        rec(f"create with {scheme}:{id_}", client.create, f"{base}/c{n}", acl=acl)
        client.create(f"{base}/s{n}")
        rec(f"set_acls {scheme}:{id_}", client.set_acls, f"{base}/s{n}", acl)


def invalid_ids(t: Target, rec: Recorder) -> None:
    """Ids of the world and digest schemes, unknown schemes, odd permissions
    and duplicate entries."""
    s, base = t.security, "/invalid_ids"
    ids = [
        ("world", "someone"), ("world", "anyone"), ("digest", "nohash"),
        ("digest", "alice:"), ("digest", "a:b:c"), ("digest", ":hash"), ("nosuch", "x"),
    ]  # fmt: skip
    tried(t, rec, base, ids)
    client, root = t(), t(SUPER)
    alice = s.make_digest_acl("alice", "secret", read=True)
    acl = [alice, alice, s.make_digest_acl("alice", "secret", write=True), *s.READ_ACL_UNSAFE]
    rec("create with a duplicate entry", client.create, f"{base}/dup", acl=acl)
    rec("its ACL", acl_of, root, f"{base}/dup")
    acl = [s.ACL(0, s.Id("world", "anyone"))]
    rec("create with perms 0", client.create, f"{base}/p0", acl=acl)
    rec("its ACL, perms 0", acl_of, root, f"{base}/p0")
    for perms in (32, -1):
        acl = [s.ACL(perms, s.Id("world", "anyone"))]
        rec.differs(
            f"create with perms {perms}",
            Differs(f"{base}/p{perms}", "InvalidACLError", PERMS_WITHIN_ALL),
            client.create,
            f"{base}/p{perms}",
            acl=acl,
        )


def ip_ids(t: Target, rec: Recorder) -> None:
    """ip ids: an IPv4 address, or one with a prefix length up to 32."""
    s, base = t.security, "/ip_ids"
    ids = [
        ("ip", "300.1.1.1"), ("ip", "127.0.0.1/40"), ("ip", "not-an-ip"), ("ip", "10.0.0.0/8"),
        ("ip", "127.0.0.1"), ("ip", "1.2.3"), ("ip", "127.0.0.1/33"), ("ip", "127.0.0.1/-1"),
        ("ip", "127.0.0.1/"), ("ip", " 127.0.0.1"), ("ip", "127.0.0.1/8"), ("ip", "127.000.0.1"),
    ]  # fmt: skip
    tried(t, rec, base, ids)
    client = t()
    for n, id_ in enumerate(["::1", "fe80::/10"]):
        acl = [s.ACL(s.Permissions.ALL, s.Id("ip", id_))]
        rec.differs(
            f"create with ip:{id_}",
            Differs("InvalidACLError", f"{base}/v{n}", IPV6_IDS),
            client.create,
            f"{base}/v{n}",
            acl=acl,
        )


def x509_ids(t: Target, rec: Recorder) -> None:
    """x509 ids are X.500 names (ZooKeeper's x509 provider is on in its test)."""
    tried(
        t, rec, "/x509_ids", [("x509", "CN=someone"), ("x509", "CN=a,O=b"), ("x509", "not a name")]
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


def ip_acls(t: Target, rec: Recorder) -> None:
    """ip ids match the client's address: a loopback client here."""
    s, base = t.security, "/ip_acls"
    alice, anon = t(ALICE), t()
    rec("alice creates the base", alice.create, base)
    for n, id_ in enumerate(["127.0.0.1", "127.0.0.0/8", "10.0.0.0/8", "127.0.0.2", "0.0.0.0/0"]):
        path = f"{base}/n{n}"
        rec(
            f"alice creates {path}", alice.create, path, b"v", acl=[s.make_acl("ip", id_, all=True)]
        )
        rec(f"anon get {path} with ip:{id_}", anon.get, path)
        rec(f"alice get {path} with ip:{id_}", alice.get, path)


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
    # (3.8.4 would refuse it); coord_client's starts with create, and the
    # parent grants CREATE: both then find the node there.
    rec("anon ensure_path of an unreadable node", succeeded(anon.ensure_path), f"{base}/d")


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


SCENARIOS: list[Callable[[Target, Recorder], None]] = [
    digest_owner, add_auth_refused, refused_at_start, unicode_credentials, colonless_digest,
    auth_scheme, auth_order, empty_acl, invalid_ids, ip_ids, x509_ids, parent_permissions,
    set_acls_rules, get_acls_rules, one_shot_watches, watches_across_acl_changes,
    watch_then_authenticate, write_only, persistent_watches, transactions, super_user, ip_acls,
    create_only_parent, make_parents,
]  # fmt: skip
