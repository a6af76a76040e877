"""The cluster secret's signatures on their own (coord/rpc/peer_auth.py):
a signature proves one call of one method, by one member, to one member,
near the time it was made, once; the secret file is the owner's alone."""

from __future__ import annotations

import pytest

from coord.rpc.peer_auth import (
    MAX_SKEW_S,
    SIGNED,
    Refused,
    SecretChecker,
    SecretError,
    load_secret,
    sign,
    write_new_secret,
)

SECRET = b"0123456789abcdef0123456789abcdef"
METHOD = "/coord.v1.Peer/Deliver"
NOW = 1_800_000_000.0


def checker(now: list[float]) -> SecretChecker:
    """Member 1's checker, on a clock the test moves."""
    return SecretChecker(SECRET, 1, clock=lambda: now[0])


def test_a_signature_names_its_member_once():
    now = [NOW]
    check = checker(now)
    metadata = sign(SECRET, METHOD, 2, 1, now=NOW)
    assert check.check(METHOD, metadata) == 2
    with pytest.raises(Refused, match="replayed"):
        check.check(METHOD, metadata)
    now[0] += 1
    assert check.check(METHOD, sign(SECRET, METHOD, 2, 1, now=now[0])) == 2


@pytest.mark.parametrize("field", SIGNED)
def test_any_field_changed_is_refused(field):
    metadata = dict(sign(SECRET, METHOD, 2, 1, now=NOW))
    metadata[field] = metadata[field][:-1] + ("0" if metadata[field][-1] != "0" else "1")
    with pytest.raises(Refused):
        checker([NOW]).check(METHOD, metadata.items())


@pytest.mark.parametrize(
    ("metadata", "says"),
    [
        (sign(b"another secret, just as long....", METHOD, 2, 1, now=NOW), "bad member signature"),
        (sign(SECRET, "/coord.v1.Admin/SetFaults", 2, 1, now=NOW), "bad member signature"),
        (sign(SECRET, METHOD, 2, 3, now=NOW), "not member 1"),
        (sign(SECRET, METHOD, 2, 1, now=NOW - MAX_SKEW_S - 1), "off this member's clock"),
        (sign(SECRET, METHOD, 2, 1, now=NOW + MAX_SKEW_S + 1), "off this member's clock"),
        ((), "not signed"),
        ((("coord-peer-mac", "0" * 64),), "not signed"),
        ((*sign(SECRET, METHOD, 2, 1, now=NOW)[:-1], ("coord-peer-mac", "é" * 64)), "bad"),
    ],
    ids=[
        "other-secret",
        "other-method",
        "other-target",
        "stale",
        "future",
        "none",
        "partial",
        "not-ascii",
    ],  # fmt: skip
)
def test_a_misused_signature_is_refused(metadata, says):
    with pytest.raises(Refused, match=says):
        checker([NOW]).check(METHOD, metadata)


def test_a_secret_file_is_the_owners_alone(tmp_path):
    path = tmp_path / "secret"
    write_new_secret(path)
    assert len(load_secret(path)) == 64
    path.chmod(0o640)
    with pytest.raises(SecretError, match="chmod 600"):
        load_secret(path)
    short = tmp_path / "short"
    short.write_text("tiny\n")
    short.chmod(0o600)
    with pytest.raises(SecretError, match="16 to 4096 bytes"):
        load_secret(short)
    with pytest.raises(FileExistsError):
        write_new_secret(path)  # never overwrites a secret
