"""A caller's ids as a real gRPC server sees them (coord/rpc/callers.py):
the address of a loopback connection over IPv4 and IPv6, the subject of a
client certificate (mutual TLS with trustme's certificates) and the
credentials in `coord-auth` metadata."""

from __future__ import annotations

import asyncio
import socket

import grpc
import pytest
import trustme

from coord.acl import SUPER, digest_id
from coord.rpc import callers
from coord.session import credentials

METHOD = "/test.Ids/Get"


async def _ids_seen(
    host: str,
    metadata=(),
    server_credentials: grpc.ServerCredentials | None = None,
    channel_credentials: grpc.ChannelCredentials | None = None,
    super_digest: str = "",
):
    """Start a server whose one method reports the caller's ids, call it
    once, and return what it saw (or the AuthFailed it raised)."""
    seen: list = []

    async def report(request, context):
        try:
            seen.append(callers.unary_ids(context, super_digest))
        except credentials.AuthFailed as err:
            seen.append(err)
        return b""

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.Ids", {"Get": grpc.unary_unary_rpc_method_handler(report)}
            ),
        )
    )
    bind = f"[{host}]:0" if ":" in host else f"{host}:0"
    if server_credentials is None:
        port = server.add_insecure_port(bind)
    else:
        port = server.add_secure_port(bind, server_credentials)
    await server.start()
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        if channel_credentials is None:
            channel = grpc.aio.insecure_channel(target)
        else:
            target = f"localhost:{port}"
            channel = grpc.aio.secure_channel(target, channel_credentials)
        async with channel:
            await channel.unary_unary(METHOD)(b"", metadata=metadata, timeout=10)
    finally:
        await server.stop(None)
    return seen[0]


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_a_plaintext_caller_has_its_ipv4_address() -> None:
    assert asyncio.run(_ids_seen("127.0.0.1")) == (("ip", "127.0.0.1"),)


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_a_plaintext_caller_has_its_ipv6_address() -> None:
    assert asyncio.run(_ids_seen("::1")) == (("ip", "::1"),)


def test_a_client_certificate_adds_its_subject() -> None:
    ca = trustme.CA()
    server_cert = ca.issue_cert("localhost")
    client_cert = ca.issue_cert("alice@example.com", common_name="alice")
    server_credentials = grpc.ssl_server_credentials(
        [(server_cert.private_key_pem.bytes(), server_cert.cert_chain_pems[0].bytes())],
        root_certificates=ca.cert_pem.bytes(),
        require_client_auth=True,
    )
    channel_credentials = grpc.ssl_channel_credentials(
        ca.cert_pem.bytes(),
        client_cert.private_key_pem.bytes(),
        client_cert.cert_chain_pems[0].bytes(),
    )
    ids = asyncio.run(
        _ids_seen(
            "127.0.0.1",
            server_credentials=server_credentials,
            channel_credentials=channel_credentials,
        )
    )
    subjects = [found for scheme, found in ids if scheme == "x509"]
    assert len(subjects) == 1
    assert subjects[0].startswith("CN=alice,")  # RFC 2253 order, as Java's getName()
    assert ("ip", "127.0.0.1") in ids


def test_metadata_credentials_add_digest_ids_and_super() -> None:
    super_digest = digest_id("admin:pw")
    metadata = (("coord-auth", "digest bob:pw"), ("coord-auth", "digest admin:pw"))
    ids = asyncio.run(_ids_seen("127.0.0.1", metadata=metadata, super_digest=super_digest))
    # In the order proven, as ZooKeeper's authInfo: the address first.
    assert ids == (
        ("ip", "127.0.0.1"),
        ("digest", digest_id("bob:pw")),
        ("digest", super_digest),
        SUPER,
    )


def test_too_many_credentials_fail() -> None:
    metadata = [("coord-auth", f"digest u{i}:pw") for i in range(credentials.MAX_CREDENTIALS + 1)]
    failure = asyncio.run(_ids_seen("127.0.0.1", metadata=tuple(metadata)))
    assert isinstance(failure, credentials.AuthFailed)
    metadata = metadata[: credentials.MAX_CREDENTIALS]
    assert len(asyncio.run(_ids_seen("127.0.0.1", metadata=tuple(metadata)))) == 65
