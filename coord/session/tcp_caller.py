"""Who a client is on a door of the member's own (not gRPC's): how
admission counts its address, and the ids it has without proving more."""

from __future__ import annotations

import asyncio

from cryptography import x509

from coord.acl import Ident, Ids
from coord.session.x509_name import certificate_subject


def admission_key(address: str) -> str:
    """`address` as the gRPC door counts it (gRPC's peer string without the
    port), so that one client's sessions count once through every door."""
    return f"ipv6:%5B{address}%5D" if ":" in address else f"ipv4:{address}"


def connection_ids(writer: asyncio.StreamWriter, address: str) -> Ids:
    """Its address, and over mutual TLS its certificate's subject."""
    ids: list[Ident] = [("ip", address)]
    tls = writer.get_extra_info("ssl_object")
    der = tls.getpeercert(binary_form=True) if tls is not None else None
    subject = certificate_subject(x509.load_der_x509_certificate(der)) if der else None
    if subject:
        ids.append(("x509", subject))
    return tuple(ids)
