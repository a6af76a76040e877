"""Mutual TLS between members: which member a certificate names.

Every member has a certificate of the cluster's CA whose subject alternative
names include the DNS name ``member-N``, N its id. A member calling member 2
expects the name ``member-2`` in the certificate it is shown, whatever the
address it dialled; a member called takes the caller's id from the caller's
certificate. A certificate that names no member, or several, names none.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from coord.rpc.tls import ServerTLS

MEMBER_NAME = re.compile(rb"member-([1-9][0-9]{0,9})")


def member_name(member: int) -> str:
    return f"member-{member}"


def member_of(auth_context: dict[str, list[bytes]]) -> int | None:
    """The member a verified peer certificate names (gRPC's view of it), if exactly one."""
    return _one_member(auth_context.get("x509_subject_alternative_name", []))


def member_of_certificate(certificate: dict | None) -> int | None:
    """The member a verified peer certificate names (Python's ssl view of
    it, for a replication link), if exactly one."""
    names = (certificate or {}).get("subjectAltName", ())
    return _one_member(value.encode() for kind, value in names if kind == "DNS")


def _one_member(names: Iterable[bytes]) -> int | None:
    ids = {int(m.group(1)) for name in names if (m := MEMBER_NAME.fullmatch(name))}
    return ids.pop() if len(ids) == 1 else None


@dataclass(frozen=True)
class PeerTls:
    """This member's certificate and key, and the cluster's CA, checked as
    the client port's are (a bad file is one line before the member starts)."""

    files: ServerTLS  # client_ca: the cluster's CA
    # The same for the replication links (coord/peers/): Python's ssl.
    link_server: ssl.SSLContext = field(compare=False)
    link_client: ssl.SSLContext = field(compare=False)

    @classmethod
    def load(cls, cert: Path, key: Path, ca: Path) -> PeerTls:
        files = ServerTLS.load(cert, key, ca, flags="--peer-tls")
        ca_pem = files.client_ca.decode()
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=ca_pem)
        server.verify_mode = ssl.CERT_REQUIRED
        client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca_pem)
        for context in (server, client):
            context.load_cert_chain(cert, key)
        return cls(files, server, client)

    def server_credentials(self) -> grpc.ServerCredentials:
        """Callers must show a certificate of the CA."""
        return self.files.credentials()

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(self.files.client_ca, self.files.key, self.files.chain)
