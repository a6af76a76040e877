"""Scenarios on what an ACL may name: empty lists, invalid and IPv6 ids,
permission bits, x509 ids, and ip ids matched against the client's address."""

from __future__ import annotations

from tests.acl_scenarios.clients import (
    ALICE,
    SUPER,
    Target,
    acl_of,
)
from tests.acl_scenarios.recording import (
    EMPTY_ACL_REFUSED,
    IPV6_IDS,
    PERMS_WITHIN_ALL,
    Differs,
    Recorder,
)


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
