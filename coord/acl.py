"""ZooKeeper's access control lists, as rules without I/O.

An ACL entry is a tuple ``(perms, scheme, id)`` and an ACL a tuple of
entries. A tree holds one shared tuple per distinct ACL (an ``AclTable``,
ZooKeeper's ACL cache): most nodes share ``OPEN_ACL``, so an ACL costs a
znode one reference. A caller's identities are ``(scheme, id)`` pairs.

The meanings are ZooKeeper's (server/auth/*AuthenticationProvider and
PrepRequestProcessor.fixupACL): ``world:anyone`` matches everyone, ``digest``
and ``x509`` ids match exactly, an ``ip`` id is an address or a CIDR range,
and a caller holding ``super:`` passes every check.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache

READ, WRITE, CREATE, DELETE, ADMIN = 1, 2, 4, 8, 16
ALL = READ | WRITE | CREATE | DELETE | ADMIN
MAX_ENTRIES = 1000  # entries in one ACL as sent, before duplicates go
MAX_ID_CHARS = 1024  # an id in an ACL, and a credential (ZooKeeper's are far shorter)

Entry = tuple[int, str, str]  # (perms, scheme, id)
Acl = tuple[Entry, ...]
Ident = tuple[str, str]  # (scheme, id)
Ids = tuple[Ident, ...]  # a caller's, in the order proven, each once

OPEN_ACL: Acl = ((ALL, "world", "anyone"),)
SUPER: Ident = ("super", "")
# The schemes an `auth` entry expands to: those whose ids a caller proves
# (ZooKeeper's isAuthenticated providers); an address proves nothing.
_AUTHENTICATED = ("digest", "x509")


class InvalidAcl(ValueError):
    """An ACL the tree refuses (INVALID_ACL); the message says why."""


def digest_id(credential: str) -> str:
    """ZooKeeper's DigestAuthenticationProvider.generateDigest:
    ``user:base64(sha1("user:password"))``."""
    user = credential.split(":", 1)[0]
    digest = hashlib.sha1(credential.encode()).digest()  # noqa: S324 (ZooKeeper's digest)
    return f"{user}:{base64.b64encode(digest).decode()}"


_DOTTED = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


@lru_cache(maxsize=4096)
def _network(expression: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """An ip id as a network (an address alone is a /32 or /128), or None if
    it does not parse. Host bits are masked off, as ZooKeeper does."""
    address, slash, bits = expression.partition("/")
    if _DOTTED.fullmatch(address):
        # IPAuthenticationProvider reads each part as a decimal number, so
        # 127.000.0.1 is 127.0.0.1 (Python's ipaddress refuses the zeros).
        parts = [int(part) for part in address.split(".")]
        if any(part > 255 for part in parts):
            return None
        expression = ".".join(map(str, parts)) + slash + bits
    try:
        return ipaddress.ip_network(expression, strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


def ip_matches(address: str, expression: str) -> bool:
    """Whether a caller's address is in an ip id (an address or CIDR)."""
    network, found = _network(expression), _address(address)
    return (
        network is not None
        and found is not None
        and network.version == found.version
        and found in network
    )


def permits(acl: Acl, perm: int, ids: Ids) -> bool:
    """ZooKeeperServer.checkACL: some entry grants a bit of `perm` to one of
    the caller's ids, or the caller is the super user. A caller has a few
    ids: a tuple is searched as fast as a set would be."""
    if acl is OPEN_ACL:
        return True
    if SUPER in ids:
        return True
    for perms, scheme, entry_id in acl:
        if not perms & perm:
            continue
        if scheme == "world" and entry_id == "anyone":
            return True
        if scheme == "ip":
            if any(s == "ip" and ip_matches(i, entry_id) for s, i in ids):
                return True
        elif (scheme, entry_id) in ids:
            return True
    return False


def _digest_id_valid(entry_id: str) -> bool:
    """DigestAuthenticationProvider.isValid: Java's split(":") gives two
    parts (trailing empty parts dropped)."""
    parts = entry_id.split(":")
    while parts and not parts[-1]:
        parts.pop()
    return len(parts) == 2


def _valid(scheme: str, entry_id: str) -> bool:
    if scheme == "world":
        return entry_id == "anyone"
    if scheme == "digest":
        return _digest_id_valid(entry_id)
    if scheme == "ip":
        return _network(entry_id) is not None
    if scheme == "x509":
        return _x500_name(entry_id)
    return False


_RDN_SEPARATOR = re.compile(r"(?<!\\)[,;+]")
_ATTRIBUTE = re.compile(r"\s*([A-Za-z][A-Za-z0-9-]*|(?:OID\.)?\d+(?:\.\d+)*)\s*=")


def _x500_name(text: str) -> bool:
    """X509AuthenticationProvider.isValid asks Java whether the id parses as
    an X.500 name: every attribute of it is TYPE=value (a keyword or an
    OID). Quoted values, which Java also reads, are not split here."""
    if not text.strip():
        return False
    return all(_ATTRIBUTE.match(part) for part in _RDN_SEPARATOR.split(text))


def fixup(entries: Iterable[Entry], ids: Iterable[Ident]) -> Acl:
    """PrepRequestProcessor.fixupACL: drop duplicates, refuse an empty list
    or an id its scheme does not accept, expand ``auth`` to the caller's
    authenticated ids. Raises InvalidAcl."""
    unique: list[Entry] = []
    for entry in entries:
        if entry not in unique:
            unique.append(entry)
    if not unique:
        raise InvalidAcl("an ACL needs at least one entry")
    fixed: list[Entry] = []
    for perms, scheme, entry_id in unique:
        if not 0 <= perms <= ALL:
            raise InvalidAcl(f"permissions {perms} are not a sum of READ..ADMIN")
        if len(entry_id) > MAX_ID_CHARS:
            raise InvalidAcl(f"an id of {len(entry_id)} characters is over {MAX_ID_CHARS}")
        if scheme == "auth":
            # In the order the caller proved them, as ZooKeeper's authInfo.
            proven = [(perms, s, i) for s, i in ids if s in _AUTHENTICATED]
            if not proven:
                raise InvalidAcl("an auth entry needs an authenticated id (digest or x509)")
            fixed.extend(proven)
        elif _valid(scheme, entry_id):
            fixed.append((perms, scheme, entry_id))
        else:
            raise InvalidAcl(f"{scheme}:{entry_id} is not a valid id")
    return tuple(fixed)


def masked(acl: Acl) -> Acl:
    """The ACL as a caller without ADMIN sees it: digest hashes hidden
    (``user:x``), as ZooKeeper's getACL."""
    return tuple(
        (perms, scheme, entry_id.split(":", 1)[0] + ":x" if scheme == "digest" else entry_id)
        for perms, scheme, entry_id in acl
    )


def is_super(ids: Iterable[Ident]) -> bool:
    """Whether a caller proved the super user's credential."""
    return SUPER in set(ids)


def credential_ids(scheme: str, credential: bytes, super_digest: str) -> list[Ident]:
    """The ids an ``auth`` credential adds (ZooKeeper's addauth), with
    ``super:`` for the super user's. Raises ValueError for a scheme other
    than digest or a credential that is not ``user:password`` text."""
    if scheme != "digest":
        raise ValueError(f"unknown auth scheme {scheme[:40]!r}: only digest is accepted")
    if len(credential) > MAX_ID_CHARS:
        raise ValueError(f"a credential of {len(credential)} bytes is over {MAX_ID_CHARS}")
    try:
        text = credential.decode()
    except UnicodeDecodeError:
        raise ValueError("a digest credential is user:password text") from None
    if not text:
        raise ValueError("a digest credential is user:password, not empty")
    found = digest_id(text)
    ids = [("digest", found)]
    if super_digest and found == super_digest:
        ids.append(SUPER)
    return ids


class AclTable:
    """One shared tuple per distinct ACL (ZooKeeper's ACL cache). Entries
    no node uses any more are dropped when the table has doubled since it
    was last pruned, so distinct ACLs come and go without growing it."""

    def __init__(self) -> None:
        self._table: dict[Acl, Acl] = {OPEN_ACL: OPEN_ACL}
        self._prune_at = 1024

    def intern(self, acl: Acl) -> Acl:
        return self._table.setdefault(acl, acl)

    def __len__(self) -> int:
        return len(self._table)

    def prune(self, live: Iterable[Acl]) -> None:
        """Keep only `live` ACLs (every node's), if the table has grown."""
        if len(self._table) < self._prune_at:
            return
        self._table = {OPEN_ACL: OPEN_ACL}
        for acl in live:
            self._table.setdefault(acl, acl)
        self._prune_at = max(1024, 2 * len(self._table))
