"""coordctl's ACL commands and --auth as a user runs them, against a real
coord-server: getacl, setacl, create --acl, --auth and $COORD_AUTH."""

from __future__ import annotations

import os

import pytest

from coord_client.security import make_digest_acl_credential
from tests.test_coordctl import as_json, fails, ok, run

BOB = "digest:bob:pw"
BOB_ID = make_digest_acl_credential("bob", "pw")


def test_create_with_an_acl_then_getacl(server):
    assert ok(server, "create", "/a", "v", "--acl", f"digest:{BOB_ID}:cdrwa,world:anyone:r") == (
        "/a\n"
    )
    assert ok(server, "--auth", BOB, "getacl", "/a") == (f"digest:{BOB_ID}:cdrwa\nworld:anyone:r\n")
    shown = as_json(server, "--auth", BOB, "getacl", "/a")
    assert shown["acl"] == [
        {"scheme": "digest", "id": BOB_ID, "perms": "cdrwa"},
        {"scheme": "world", "id": "anyone", "perms": "r"},
    ]
    assert shown["stat"]["aversion"] == 0
    assert ok(server, "get", "/a") == "v"  # world may read
    assert fails(server, "set", "/a", "w") == "coordctl: not authorized for /a (NO_AUTH)"
    assert ok(server, "--auth", BOB, "set", "/a", "w") == ""


def test_setacl_with_the_aversion(server):
    ok(server, "create", "/a")
    assert ok(server, "setacl", "/a", f"digest:{BOB_ID}:cdrwa", "-v", "0") == ""
    assert fails(server, "getacl", "/a") == "coordctl: not authorized for /a (NO_AUTH)"
    assert fails(server, "--auth", BOB, "setacl", "/a", "world:anyone:cdrwa", "-v", "0") == (
        "coordctl: bad version for /a"
    )
    stat = as_json(server, "--auth", BOB, "setacl", "/a", "auth::cdrwa,ip:127.0.0.1:r", "-v", "1")
    assert stat["aversion"] == 2
    lines = ok(server, "--auth", BOB, "stat", "/a").splitlines()
    assert "aversion = 2" in lines
    assert ok(server, "--auth", BOB, "getacl", "/a").splitlines() == [
        f"digest:{BOB_ID}:cdrwa",
        "ip:127.0.0.1:r",
    ]


def test_an_x509_subject_keeps_its_commas(server):
    ok(server, "create", "/x", "--acl", "x509:CN=alice,O=Example:rw,world:anyone:cdrwa")
    assert ok(server, "getacl", "/x").splitlines() == [
        "x509:CN=alice,O=Example:rw",
        "world:anyone:cdrwa",
    ]


def test_credentials_from_the_environment_one_a_line(server):
    carol = make_digest_acl_credential("carol", "a b,c")  # spaces and commas are the password's
    ok(server, "create", "/a", "--acl", f"digest:{carol}:cdrwa")
    env = {**os.environ, "COORD_AUTH": f"{BOB}\ndigest:carol:a b,c\n"}
    done = run(server, "get", "/a", env=env)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("setacl", "/a", "world:anyone:x"),
         "coordctl: unknown permission 'x' (use the letters of cdrwa)"),
        (("setacl", "/a", "world"),
         "coordctl: bad ACL entry 'world': not of the form scheme:id:perms"),
        (("setacl", "/a", "nosuchscheme:x:r"), "coordctl: invalid ACL for /a (INVALID_ACL)"),
        (("--auth", "nosuchscheme:x", "ls", "/"), "coordctl: authentication failed (AUTH_FAILED)"),
        (("--auth", "digest", "ls", "/"), "coordctl: bad --auth 'digest': use SCHEME:CREDENTIAL"),
    ],
)  # fmt: skip
def test_acl_errors_are_one_line(server, args, message):
    ok(server, "create", "/a")
    assert fails(server, *args) == message
    assert ok(server, "getacl", "/a") == "world:anyone:cdrwa\n"
