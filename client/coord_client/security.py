"""ACLs and identities under kazoo's `kazoo.security` names, and their text form.

`ACL` and `Id` are named tuples with kazoo's fields, so they compare equal to
kazoo's own and kazoo code passes either. The text form is ZooKeeper's
(`scheme:id:perms`, entries joined by commas, perms from `cdrwa`), as
zkCli's `setAcl` reads it and `coordctl` prints it.
"""

from __future__ import annotations

import hashlib
import re
from base64 import b64encode
from collections.abc import Iterable
from typing import NamedTuple

from coord_api.wire import client_pb2 as pb
from coord_client.exceptions import InvalidACLError


class Id(NamedTuple):
    """An identity: `Id("world", "anyone")`, `Id("digest", "bob:HASH")`, ..."""

    scheme: str
    id: str


class Permissions:
    """ZooKeeper's permission bits; an ACL's `perms` is a sum of them."""

    READ = 1
    WRITE = 2
    CREATE = 4
    DELETE = 8
    ADMIN = 16
    ALL = 31


# kazoo's acl_list names, in its order.
_PERM_NAMES = (
    ("READ", Permissions.READ),
    ("WRITE", Permissions.WRITE),
    ("CREATE", Permissions.CREATE),
    ("DELETE", Permissions.DELETE),
    ("ADMIN", Permissions.ADMIN),
)
# ZooKeeper's letters, in the order its getPermString writes them.
_PERM_LETTERS = (
    ("c", Permissions.CREATE),
    ("d", Permissions.DELETE),
    ("r", Permissions.READ),
    ("w", Permissions.WRITE),
    ("a", Permissions.ADMIN),
)


class ACL(NamedTuple):
    """Who (`id`) may do what (`perms`) on a node."""

    perms: int
    id: Id

    @property
    def acl_list(self) -> list[str]:
        """The permission names, kazoo's way: ["ALL"] or e.g. ["READ", "WRITE"]."""
        if self.perms & Permissions.ALL == Permissions.ALL:
            return ["ALL"]
        return [name for name, bit in _PERM_NAMES if self.perms & bit]

    def __repr__(self) -> str:
        return f"ACL(perms={self.perms!r}, acl_list={self.acl_list}, id={self.id!r})"


ANYONE_ID_UNSAFE = Id("world", "anyone")
AUTH_IDS = Id("auth", "")

OPEN_ACL_UNSAFE = [ACL(Permissions.ALL, ANYONE_ID_UNSAFE)]
CREATOR_ALL_ACL = [ACL(Permissions.ALL, AUTH_IDS)]
READ_ACL_UNSAFE = [ACL(Permissions.READ, ANYONE_ID_UNSAFE)]


def make_digest_acl_credential(username: str, password: str) -> str:
    """ZooKeeper's digest id: `user:base64(sha1("user:password"))` (UTF-8, as kazoo)."""
    credential = f"{username}:{password}".encode()
    return f"{username}:{b64encode(hashlib.sha1(credential).digest()).decode('ascii')}"


def make_acl(
    scheme: str,
    credential: str,
    read: bool = False,
    write: bool = False,
    create: bool = False,
    delete: bool = False,
    admin: bool = False,
    all: bool = False,  # noqa: A002 (kazoo's keyword)
) -> ACL:
    """An ACL granting `Id(scheme, credential)` the permissions flagged."""
    if all:
        return ACL(Permissions.ALL, Id(scheme, credential))
    flags = (
        (read, Permissions.READ),
        (write, Permissions.WRITE),
        (create, Permissions.CREATE),
        (delete, Permissions.DELETE),
        (admin, Permissions.ADMIN),
    )
    return ACL(sum(bit for flag, bit in flags if flag), Id(scheme, credential))


def make_digest_acl(username: str, password: str, *flags: bool, **named: bool) -> ACL:
    """A digest ACL for `username` with the plain-text `password` hashed; the
    permission flags (read, write, create, delete, admin, all) as make_acl's."""
    return make_acl("digest", make_digest_acl_credential(username, password), *flags, **named)


# ---------------------------------------------------------------- the wire


def acls_to_wire(acls: object) -> list[pb.ACL]:
    """A list (or tuple) of ACLs as wire messages. kazoo's checks: a lone ACL
    or a non-sequence is a TypeError; an empty list is refused before sending
    (InvalidACLError), as ZooKeeper would refuse it."""
    if isinstance(acls, ACL) or hasattr(acls, "perms") or not isinstance(acls, (list, tuple)):
        raise TypeError("acl must be a list or tuple of ACLs")
    if not acls:
        raise InvalidACLError("an ACL list must not be empty")
    return [_acl_to_wire(acl) for acl in acls]


def _acl_to_wire(acl: object) -> pb.ACL:
    perms, ident = getattr(acl, "perms", None), getattr(acl, "id", None)
    if not isinstance(perms, int) or isinstance(perms, bool):
        raise TypeError(f"not an ACL: {acl!r}")
    scheme, name = getattr(ident, "scheme", None), getattr(ident, "id", None)
    if not isinstance(scheme, str) or not isinstance(name, str):
        raise TypeError(f"not an ACL: {acl!r}")
    return pb.ACL(perms=perms, id=pb.Id(scheme=scheme, id=name))


def acls_from_wire(acls: Iterable[pb.ACL]) -> list[ACL]:
    return [ACL(acl.perms, Id(acl.id.scheme, acl.id.id)) for acl in acls]


# ---------------------------------------------------------- the text form

# A comma starts a new entry only where a scheme and its colon follow: the
# commas inside an x509 subject (`CN=alice,O=Example`) are followed by an
# attribute and `=`, so they stay in the id. zkCli splits at every comma.
_ENTRY_START = re.compile(r",(?=[A-Za-z][A-Za-z0-9_-]*:)")


def perms_to_text(perms: int) -> str:
    """ZooKeeper's letters for a permission sum: 31 is `cdrwa`."""
    return "".join(letter for letter, bit in _PERM_LETTERS if perms & bit)


def perms_from_text(text: str) -> int:
    letters = dict(_PERM_LETTERS)
    unknown = sorted(set(text) - set(letters))
    if unknown:
        raise ValueError(f"unknown permission {unknown[0]!r} (use the letters of cdrwa)")
    return sum(letters[letter] for letter in set(text))


def acl_to_text(acl: ACL) -> str:
    """One ACL as `scheme:id:perms`."""
    return f"{acl.id.scheme}:{acl.id.id}:{perms_to_text(acl.perms)}"


def acls_to_text(acls: Iterable[ACL]) -> str:
    """An ACL list as one `setacl` argument: its entries joined by commas."""
    return ",".join(acl_to_text(acl) for acl in acls)


def acls_from_text(text: str) -> list[ACL]:
    """Parse ZooKeeper's text form, `scheme:id:perms[,scheme:id:perms...]`.

    Each entry is read as zkCli reads it: the scheme up to the first colon,
    the permissions after the last, the id between (so a digest id keeps its
    colon and `auth::cdrwa` has an empty id). Entries are split at the commas
    that a `scheme:` follows, so an x509 subject's commas stay in its id.
    """
    if not text:
        raise ValueError("an ACL must not be empty")
    acls = []
    for entry in _ENTRY_START.split(text):
        scheme, first, rest = entry.partition(":")
        name, last, perms = rest.rpartition(":")
        if not first or not last or not scheme:
            raise ValueError(f"bad ACL entry {entry!r}: not of the form scheme:id:perms")
        acls.append(ACL(perms_from_text(perms), Id(scheme, name)))
    return acls
