"""The ACL rules (coord/acl.py) against ZooKeeper's: digests, matching,
validation and `auth` expansion, masking, credentials, the shared table."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from coord import acl
from coord.acl import ADMIN, ALL, CREATE, DELETE, OPEN_ACL, READ, SUPER, WRITE, AclTable

BOB = acl.digest_id("bob:secret")


# ------------------------------------------------------------------ digests


@pytest.mark.parametrize(
    ("credential", "expected"),
    [
        # ZooKeeper's own AuthTest.testSuper... and ZooKeeperTest's values.
        ("super:test", "super:D/InIHSb7yEEbrWz8b9l71RjZJU="),
        ("super:zookeeper", "super:yyuhPKumRtNj4r8GnSbbwuq1vhE="),
        ("user:test", "user:tl+z3z0vO6PfPfEENfLF96E6pM0="),
    ],
)
def test_digest_id_is_zookeepers(credential: str, expected: str) -> None:
    assert acl.digest_id(credential) == expected


ZOOKEEPER_JARS = [Path("/usr/share/java/zookeeper.jar"), Path("/usr/share/java/zookeeper-jute.jar")]


@pytest.mark.skipif(
    shutil.which("java") is None or not all(jar.exists() for jar in ZOOKEEPER_JARS),
    reason="Debian's zookeeper package (and java) are not installed",
)
def test_digest_id_matches_zookeepers_own_provider() -> None:
    """ZooKeeper's DigestAuthenticationProvider prints `credential->id`."""
    credentials = ["super:test", "bob:p\u00e4:ss", "bob", ":x", "\u00fcser:", "a b:c d"]
    classpath = ":".join(str(jar) for jar in ZOOKEEPER_JARS)
    provider = "org.apache.zookeeper.server.auth.DigestAuthenticationProvider"
    output = subprocess.run(
        ["java", "-cp", classpath, provider, *credentials],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    printed = dict(line.split("->", 1) for line in output.splitlines() if "->" in line)
    assert printed == {credential: acl.digest_id(credential) for credential in credentials}


def test_digest_id_keeps_colons_in_the_password() -> None:
    assert acl.digest_id("bob:a:b").startswith("bob:")
    assert acl.digest_id("bob:a:b") != acl.digest_id("bob:a")


# ----------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("address", "expression", "matches"),
    [
        ("10.1.2.3", "10.1.2.3", True),
        ("10.1.2.4", "10.1.2.3", False),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("11.1.2.3", "10.0.0.0/8", False),
        ("10.1.2.3", "10.9.9.9/8", True),  # host bits masked, as ZooKeeper
        ("10.1.2.3", "0.0.0.0/0", True),
        ("::1", "::1", True),
        ("::1", "::/0", True),
        ("fe80::1", "fe80::/16", True),
        ("10.1.2.3", "::/0", False),  # v4 against v6: never
        ("::ffff:10.1.2.3", "10.0.0.0/8", True),  # a v4-mapped address is v4
        ("10.1.2.3", "10.0.0.0/33", False),
        ("10.1.2.3", "not-an-address", False),
        ("garbage", "10.0.0.0/8", False),
    ],
)
def test_ip_matches_an_address_or_a_range(address: str, expression: str, matches: bool) -> None:
    assert acl.ip_matches(address, expression) is matches


def test_world_anyone_grants_only_its_bits() -> None:
    reader = ((READ, "world", "anyone"),)
    assert acl.permits(reader, READ, [])
    assert not acl.permits(reader, WRITE, [])
    assert acl.permits(reader, READ | ADMIN, [])  # any bit of the asked ones


def test_open_acl_grants_everything_to_everyone() -> None:
    for perm in (READ, WRITE, CREATE, DELETE, ADMIN):
        assert acl.permits(OPEN_ACL, perm, [])


def test_digest_and_x509_match_exactly() -> None:
    entries = ((ALL, "digest", BOB), (READ, "x509", "CN=alice"))
    assert acl.permits(entries, WRITE, [("digest", BOB)])
    assert not acl.permits(entries, WRITE, [("digest", acl.digest_id("bob:wrong"))])
    assert not acl.permits(entries, WRITE, [("x509", BOB)])  # the scheme counts
    assert acl.permits(entries, READ, [("x509", "CN=alice")])
    assert not acl.permits(entries, WRITE, [("x509", "CN=alice")])
    assert not acl.permits(entries, READ, [("x509", "CN=alice,O=x")])


def test_ip_entries_match_the_callers_address() -> None:
    entries = ((READ, "ip", "127.0.0.0/8"),)
    assert acl.permits(entries, READ, [("ip", "127.0.0.1")])
    assert not acl.permits(entries, READ, [("ip", "10.0.0.1")])
    assert not acl.permits(entries, READ, [("digest", "127.0.0.1")])


def test_super_passes_every_check() -> None:
    nobody = ((READ, "digest", BOB),)
    for perm in (READ, WRITE, CREATE, DELETE, ADMIN):
        assert acl.permits(nobody, perm, [SUPER])
    assert acl.permits(((0, "world", "anyone"),), ADMIN, [SUPER])
    assert acl.is_super([("ip", "1.2.3.4"), SUPER])
    assert not acl.is_super([("digest", "super:x")])


# ------------------------------------------------------------ fixup (create)


def test_fixup_keeps_valid_entries_in_order_without_duplicates() -> None:
    entries = [(READ, "world", "anyone"), (ALL, "digest", BOB), (READ, "world", "anyone")]
    assert acl.fixup(entries, []) == ((READ, "world", "anyone"), (ALL, "digest", BOB))


@pytest.mark.parametrize(
    "entry",
    [
        (READ, "world", "someone"),
        (READ, "digest", "bob"),  # not user:hash
        (READ, "digest", "bob:a:b"),
        (READ, "ip", "10.0.0.0/40"),
        (READ, "ip", "localhost"),
        (READ, "x509", ""),
        (READ, "sasl", "bob"),  # no such scheme here
        (READ, "super", ""),
        (32, "world", "anyone"),  # perms past ALL
        (-1, "world", "anyone"),
        (READ, "x509", "CN=" + "x" * acl.MAX_ID_CHARS),
    ],
)
def test_fixup_refuses_an_invalid_entry(entry) -> None:
    with pytest.raises(acl.InvalidAcl):
        acl.fixup([(ALL, "world", "anyone"), entry], [])


def test_fixup_refuses_an_empty_list() -> None:
    with pytest.raises(acl.InvalidAcl):
        acl.fixup([], [("digest", BOB)])


def test_digest_id_shape_is_javas_split() -> None:
    # Java's "a:b:".split(":") drops the trailing empty part: two parts.
    assert acl.fixup([(READ, "digest", "bob:hash:")], [])
    assert acl.fixup([(READ, "digest", ":hash")], [])


def test_auth_expands_to_digest_and_x509_ids_only() -> None:
    ids = [("ip", "127.0.0.1"), ("digest", BOB), ("x509", "CN=alice"), SUPER]
    assert acl.fixup([(READ | WRITE, "auth", "")], ids) == (
        (READ | WRITE, "digest", BOB),
        (READ | WRITE, "x509", "CN=alice"),
    )


def test_auth_without_an_authenticated_id_is_invalid() -> None:
    with pytest.raises(acl.InvalidAcl):
        acl.fixup([(ALL, "auth", "")], [("ip", "127.0.0.1"), SUPER])


# ------------------------------------------------------- masking, credentials


def test_masked_hides_digest_hashes_only() -> None:
    entries = ((ALL, "digest", BOB), (READ, "ip", "10.0.0.1"), (READ, "world", "anyone"))
    assert acl.masked(entries) == (
        (ALL, "digest", "bob:x"),
        (READ, "ip", "10.0.0.1"),
        (READ, "world", "anyone"),
    )


def test_a_digest_credential_adds_its_id_and_super_for_the_super_digest() -> None:
    assert acl.credential_ids("digest", b"bob:secret", "") == [("digest", BOB)]
    assert acl.credential_ids("digest", b"bob:wrong", "") != [("digest", BOB)]
    superuser = acl.digest_id("admin:pw")
    assert acl.credential_ids("digest", b"admin:pw", superuser) == [("digest", superuser), SUPER]
    assert acl.credential_ids("digest", b"admin:no", superuser) == [
        ("digest", acl.digest_id("admin:no"))
    ]


@pytest.mark.parametrize(
    ("scheme", "credential"),
    [
        ("ip", b"1.2.3.4"),
        ("sasl", b"bob:pw"),
        ("digest", b""),
        ("digest", b"\xff:x"),
        ("digest", b"bob:" + b"x" * acl.MAX_ID_CHARS),
    ],
)
def test_a_credential_of_another_scheme_or_shape_fails(scheme: str, credential: bytes) -> None:
    with pytest.raises(ValueError):
        acl.credential_ids(scheme, credential, "")


# -------------------------------------------------------------- the table


def test_the_table_shares_one_tuple_per_distinct_acl() -> None:
    table = AclTable()
    first = table.intern(((READ, "world", "anyone"),))
    second = table.intern(((READ, "world", "anyone"),))
    assert first is second
    assert table.intern(((ALL, "world", "anyone"),)) is OPEN_ACL


def test_the_table_forgets_acls_no_node_uses_once_it_doubles() -> None:
    table = AclTable()
    kept = table.intern(((READ, "digest", "keep:x"),))
    for index in range(2000):
        table.intern(((READ, "digest", f"u{index}:x"),))
        table.prune([kept])
    assert len(table) < 1100
    assert table.intern(((READ, "digest", "keep:x"),)) is kept


# ------------------------------------------- found against ZooKeeper itself


def test_auth_expands_in_the_order_the_ids_were_proven() -> None:
    bob, alice = ("digest", acl.digest_id("bob:pw")), ("digest", acl.digest_id("alice:pw"))
    ids = (("ip", "127.0.0.1"), bob, alice)
    assert acl.fixup([(ALL, "auth", "")], ids) == ((ALL, *bob), (ALL, *alice))


def test_a_digest_credential_without_a_colon_is_its_own_user() -> None:
    assert acl.credential_ids("digest", b"alice", "") == [("digest", acl.digest_id("alice"))]
    assert acl.digest_id("alice").startswith("alice:")


@pytest.mark.parametrize(
    ("subject", "valid"),
    [("CN=alice,O=Example", True), ("CN=a\\,b+OU=c", True), ("2.5.4.3=#0c01", True),
     ("not a name", False), ("CN=alice,", False), (" ", False)],
)  # fmt: skip
def test_an_x509_id_must_be_an_x500_name(subject: str, valid: bool) -> None:
    entry = (READ, "x509", subject)
    if valid:
        assert acl.fixup([entry], ()) == (entry,)
    else:
        with pytest.raises(acl.InvalidAcl):
            acl.fixup([entry], ())


def test_ip_parts_are_decimal_numbers_as_in_zookeeper() -> None:
    assert acl.ip_matches("127.0.0.1", "127.000.0.1")
    assert acl.ip_matches("10.1.2.3", "010.0.0.0/8")
    with pytest.raises(acl.InvalidAcl):
        acl.fixup([(READ, "ip", "256.0.0.1")], ())
