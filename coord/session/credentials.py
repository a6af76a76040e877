"""Credentials a caller adds to its ids (ZooKeeper's addauth), and the ids
as a log command carries them. The ids a connection has to begin with are
the door's to say (coord/rpc/callers.py)."""

from __future__ import annotations

from coord.acl import Ids, credential_ids
from coord_api.wire import client_pb2 as pb

MAX_CREDENTIALS = 64  # credentials one session or call may add


class AuthFailed(ValueError):
    """A credential of an unknown scheme or shape (AUTH_FAILED)."""


def add_credential(ids: Ids, scheme: str, credential: bytes, super_digest: str) -> Ids:
    """`ids` with a credential's ids added. Raises AuthFailed."""
    try:
        added = credential_ids(scheme, credential, super_digest)
    except ValueError as err:
        raise AuthFailed(str(err)) from None
    grown = ids + tuple(found for found in added if found not in ids)
    if sum(scheme == "digest" for scheme, _ in grown) > MAX_CREDENTIALS:
        raise AuthFailed(f"more than {MAX_CREDENTIALS} credentials")
    return grown


def to_wire(ids: Ids) -> list[pb.Id]:
    """The ids as a log command carries them, in the order they were
    proven (an ``auth`` ACL entry expands to them in that order)."""
    return [pb.Id(scheme=scheme, id=found) for scheme, found in ids]
