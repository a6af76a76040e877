"""coord_client.security against kazoo's own, the ACL text form, and the
ACL and auth arguments the SDK checks before sending."""

from __future__ import annotations

import kazoo.security
import pytest

from coord_api.wire import client_pb2 as pb
from coord_client import ops, security
from coord_client.client import Client
from coord_client.exceptions import InvalidACLError
from coord_client.security import (
    ACL,
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    Id,
    Permissions,
    acls_from_text,
    acls_to_text,
    make_acl,
    make_digest_acl,
    make_digest_acl_credential,
)
from coord_client.transaction import TransactionRequest


@pytest.mark.parametrize(
    ("user", "password"),
    [("bob", "secret"), ("super", "s3cr3t:with:colons"), ("ünï", "pässwörd"), ("", ""), ("a", "")],
)
def test_digest_credentials_are_kazoos(user, password):
    ours = make_digest_acl_credential(user, password)
    assert ours == kazoo.security.make_digest_acl_credential(user, password)
    assert make_digest_acl(user, password, read=True) == kazoo.security.make_digest_acl(
        user, password, read=True
    )


def test_a_known_zookeeper_digest():
    # ZooKeeper's DigestAuthenticationProvider.generateDigest("super:test")
    assert make_digest_acl_credential("super", "test") == "super:D/InIHSb7yEEbrWz8b9l71RjZJU="


@pytest.mark.parametrize(
    "flags",
    [{}, {"read": True}, {"write": True, "create": True}, {"delete": True, "admin": True},
     {"all": True}, {"read": True, "all": True}],
)  # fmt: skip
def test_make_acl_is_kazoos(flags):
    ours = make_acl("ip", "10.0.0.0/8", **flags)
    theirs = kazoo.security.make_acl("ip", "10.0.0.0/8", **flags)
    assert ours == theirs and ours.acl_list == theirs.acl_list and repr(ours) == repr(theirs)


def test_names_and_constants_equal_kazoos():
    for name in ("READ", "WRITE", "CREATE", "DELETE", "ADMIN", "ALL"):
        assert getattr(Permissions, name) == getattr(kazoo.security.Permissions, name)
    assert OPEN_ACL_UNSAFE == kazoo.security.OPEN_ACL_UNSAFE
    assert CREATOR_ALL_ACL == kazoo.security.CREATOR_ALL_ACL
    assert READ_ACL_UNSAFE == kazoo.security.READ_ACL_UNSAFE
    assert Id("world", "anyone") == kazoo.security.Id("world", "anyone")
    assert Id("a", "b") != kazoo.security.Id("a", "c")


# ---------------------------------------------------------------- text form


@pytest.mark.parametrize(
    ("text", "acls"),
    [
        ("world:anyone:cdrwa", [ACL(31, Id("world", "anyone"))]),
        (
            "digest:bob:HASH=:cdrwa,world:anyone:r",
            [ACL(31, Id("digest", "bob:HASH=")), ACL(1, Id("world", "anyone"))],
        ),
        ("auth::cdrwa", [ACL(31, Id("auth", ""))]),
        ("ip:10.0.0.0/8:r", [ACL(1, Id("ip", "10.0.0.0/8"))]),
        ("ip:::1:rw", [ACL(3, Id("ip", "::1"))]),
        ("x509:CN=alice,O=Example:rw", [ACL(3, Id("x509", "CN=alice,O=Example"))]),
        (
            "x509:CN=a,OU=b c,O=Ex:a,world:anyone:",
            [ACL(16, Id("x509", "CN=a,OU=b c,O=Ex")), ACL(0, Id("world", "anyone"))],
        ),
        ("world:anyone:rr", [ACL(1, Id("world", "anyone"))]),
    ],
)
def test_acl_text_is_zookeepers(text, acls):
    assert acls_from_text(text) == acls


def test_acl_text_round_trips_in_cdrwa_order():
    acls = [make_digest_acl("bob", "pw", read=True, admin=True), make_acl("ip", "::1", all=True)]
    text = acls_to_text(acls)
    assert text == f"digest:{make_digest_acl_credential('bob', 'pw')}:ra,ip:::1:cdrwa"
    assert acls_from_text(text) == acls
    assert security.perms_to_text(Permissions.WRITE | Permissions.CREATE) == "cw"


@pytest.mark.parametrize(
    "text", ["", "world", "world:anyone", "world:anyone:x", ":id:r", "world:anyone:r,"]
)
def test_bad_acl_text_is_refused(text):
    with pytest.raises(ValueError):
        acls_from_text(text)


# ------------------------------------------------------- checked before sending


def test_acls_go_on_the_wire_as_given():
    request = ops.create("/a", acl=[make_digest_acl("bob", "pw", all=True)]).message
    (acl,) = request.acl
    assert acl.perms == 31 and acl.id.scheme == "digest" and acl.id.id.startswith("bob:")
    assert list(ops.create("/a").message.acl) == []  # the member's default: open
    kazoos = ops.create("/a", acl=kazoo.security.READ_ACL_UNSAFE).message.acl
    assert list(kazoos) == [pb.ACL(perms=1, id=pb.Id(scheme="world", id="anyone"))]


def test_set_acls_and_get_acls_requests():
    call = ops.set_acls("/a", OPEN_ACL_UNSAFE, version=3)
    assert call.field == "set_acl" and call.message.version == 3 and len(call.message.acl) == 1
    assert not ops.set_acls("/a", READ_ACL_UNSAFE).message.HasField("version")
    got = ops.get_acls("/a")
    assert got.field == "get_acl" and got.read
    response = pb.GetAclResponse(acl=[pb.ACL(perms=1, id=pb.Id(scheme="world", id="anyone"))])
    acls, stat = got.decode(response)
    assert acls == READ_ACL_UNSAFE and stat.aversion == 0


@pytest.mark.parametrize("make", [ops.set_acls, lambda p, a: ops.create(p, acl=a)])
def test_an_empty_acl_list_is_refused_before_sending(make):
    with pytest.raises(InvalidACLError):
        make("/a", [])


@pytest.mark.parametrize(
    "acl", [OPEN_ACL_UNSAFE[0], "world:anyone:r", [("x", "y")], [ACL(True, Id("a", "b"))]]
)
def test_acls_must_be_lists_of_acls(acl):
    with pytest.raises(TypeError):
        ops.set_acls("/a", acl)


def test_auth_takes_strings():
    call = ops.auth("digest", "bob:pw")
    assert call.field == "auth" and call.message.credential == b"bob:pw"
    with pytest.raises(TypeError):
        ops.auth("digest", b"bob:pw")
    with pytest.raises(TypeError):
        ops.auth(None, "bob:pw")


def test_client_options_are_checked_at_construction():
    acl = [make_digest_acl("bob", "pw", all=True)]
    client = Client("127.0.0.1:1", default_acl=acl, auth_data=[("digest", "bob:pw")])
    assert client.default_acl == acl and client.auth_data == {("digest", "bob:pw")}
    with pytest.raises(InvalidACLError):
        Client("127.0.0.1:1", default_acl=[])
    with pytest.raises(TypeError):
        Client("127.0.0.1:1", auth_data=[("digest", b"bob:pw")])


def test_a_transaction_create_takes_the_default_acl_unless_given_one():
    sent = []
    default = [make_digest_acl("bob", "pw", all=True)]
    t = TransactionRequest(sent.append, default)
    t.create("/a")
    t.create("/b", acl=READ_ACL_UNSAFE)
    first, second = (op.create.acl for op in t.operations)
    assert first[0].id.id == default[0].id.id and second[0].id.scheme == "world"
    with pytest.raises(InvalidACLError):
        t.create("/c", acl=[])
