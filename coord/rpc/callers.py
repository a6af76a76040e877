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
from cryptography import x509

from coord.acl import Ident, Ids
from coord.session.credentials import add_credential
from coord.session.x509_name import certificate_subject

AUTH_METADATA = "coord-auth"  # "digest user:password", one per credential


def client_address(context: grpc.aio.ServicerContext) -> str:
    """The caller's address without its port (`ipv4:127.0.0.1:5000` ->
    `ipv4:127.0.0.1`), as admission counts it."""
    peer = context.peer()
    if peer.startswith(("ipv4:", "ipv6:")):
        return peer.rpartition(":")[0]
    return peer  # a Unix socket: its own name


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


def connection_ids(context: grpc.aio.ServicerContext) -> Ids:
    """The ids a caller has without proving anything more."""
    ids: list[Ident] = []
    address = address_of(context)
    if address is not None:
        ids.append(("ip", address))
    subject = x509_subject(context)
    if subject:
        ids.append(("x509", subject))
    return tuple(ids)


def unary_ids(context: grpc.aio.ServicerContext, super_digest: str) -> Ids:
    """A unary call's ids: its connection's and its ``coord-auth`` metadata
    entries' (``digest user:password``). Raises AuthFailed (credentials.py)."""
    ids = connection_ids(context)
    for key, value in context.invocation_metadata() or ():
        if key != AUTH_METADATA:
            continue
        text = value if isinstance(value, str) else value.decode(errors="replace")
        scheme, _, credential = text.partition(" ")
        ids = add_credential(ids, scheme, credential.encode(), super_digest)
    return ids


def x509_subject(context: grpc.ServicerContext | grpc.aio.ServicerContext) -> str | None:
    """The subject of the certificate the caller presented over TLS, as
    ZooKeeper's x509 id; None without TLS or without a client certificate."""
    auth = context.auth_context()
    if auth.get("transport_security_type") != [b"ssl"] or not auth.get("x509_pem_cert"):
        return None
    return certificate_subject(x509.load_pem_x509_certificate(auth["x509_pem_cert"][0]))
