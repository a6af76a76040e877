"""Who a caller is, as this member knows it: the ids its ACL checks use.

As ZooKeeper's per-connection authInfo, the ids live on the member a
caller reached, not in the replicated state: every connection has its
address (``ip``), a client certificate adds its subject (``x509``), and
credentials (``auth`` on the session stream, ``coord-auth`` metadata on a
unary call) add ``digest`` ids, and ``super:`` for the super user's. A write
carries the ids in its log command, so every member checks it alike.
"""

from __future__ import annotations

from urllib.parse import unquote

import grpc

from coord.acl import Ident, credential_ids
from coord_client.wire import client_pb2 as pb

AUTH_METADATA = "coord-auth"  # "digest user:password", one per credential
MAX_CREDENTIALS = 64  # credentials one session or call may add


class AuthFailed(ValueError):
    """A credential of an unknown scheme or shape (AUTH_FAILED)."""


def address_of(context: grpc.aio.ServicerContext) -> str | None:
    """The caller's IP address, from gRPC's peer string
    (``ipv4:1.2.3.4:5``, ``ipv6:%5B::1%5D:5``: the brackets come
    percent-encoded); None for another transport."""
    peer = unquote(context.peer() or "")
    transport, _, rest = peer.partition(":")
    if transport == "ipv4":
        return rest.rpartition(":")[0] or None
    if transport == "ipv6":
        return rest.rpartition(":")[0].strip("[]") or None
    return None


def x509_subject(context: grpc.aio.ServicerContext) -> str | None:
    """The subject of the client's certificate, when it presented one
    (mutual TLS); gRPC puts it in the call's auth context."""
    found = context.auth_context().get("x509_subject")
    return found[0].decode(errors="replace") if found else None


def connection_ids(context: grpc.aio.ServicerContext) -> frozenset[Ident]:
    """The ids a caller has without proving anything more."""
    ids = set()
    address = address_of(context)
    if address is not None:
        ids.add(("ip", address))
    subject = x509_subject(context)
    if subject:
        ids.add(("x509", subject))
    return frozenset(ids)


def add_credential(
    ids: frozenset[Ident], scheme: str, credential: bytes, super_digest: str
) -> frozenset[Ident]:
    """`ids` with a credential's ids added. Raises AuthFailed."""
    try:
        added = credential_ids(scheme, credential, super_digest)
    except ValueError as err:
        raise AuthFailed(str(err)) from None
    grown = ids | frozenset(added)
    if sum(scheme == "digest" for scheme, _ in grown) > MAX_CREDENTIALS:
        raise AuthFailed(f"more than {MAX_CREDENTIALS} credentials")
    return grown


def unary_ids(context: grpc.aio.ServicerContext, super_digest: str) -> frozenset[Ident]:
    """A unary call's ids: its connection's and its ``coord-auth`` metadata
    entries' (``digest user:password``). Raises AuthFailed."""
    ids = connection_ids(context)
    for key, value in context.invocation_metadata() or ():
        if key != AUTH_METADATA:
            continue
        text = value if isinstance(value, str) else value.decode(errors="replace")
        scheme, _, credential = text.partition(" ")
        ids = add_credential(ids, scheme, credential.encode(), super_digest)
    return ids


def to_wire(ids: frozenset[Ident]) -> list[pb.Id]:
    """The ids as a log command carries them, in a fixed order."""
    return [pb.Id(scheme=scheme, id=found) for scheme, found in sorted(ids)]
