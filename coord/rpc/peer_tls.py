"""Mutual TLS between members: which member a certificate names.

Every member has a certificate of the cluster's CA whose subject alternative
names include the DNS name ``member-N``, N its id. A member calling member 2
expects the name ``member-2`` in the certificate it is shown, whatever the
address it dialled; a member called takes the caller's id from the caller's
certificate. A certificate that names no member, or several, names none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import grpc

MEMBER_NAME = re.compile(rb"member-([1-9][0-9]{0,9})")
MAX_PEM_BYTES = 1 << 20


class TlsFileError(Exception):
    """A certificate or key file cannot be read; one line says which."""


def member_name(member: int) -> str:
    return f"member-{member}"


def member_of(auth_context: dict[str, list[bytes]]) -> int | None:
    """The member a verified peer certificate names, if exactly one."""
    names = auth_context.get("x509_subject_alternative_name", [])
    ids = {int(m.group(1)) for name in names if (m := MEMBER_NAME.fullmatch(name))}
    return ids.pop() if len(ids) == 1 else None


def _read(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()[: MAX_PEM_BYTES + 1]
    except OSError as err:
        raise TlsFileError(f"cannot read {what} {path}: {err.strerror}") from None
    if len(data) > MAX_PEM_BYTES or b"-----BEGIN" not in data:
        raise TlsFileError(f"{what} {path} is not a PEM file")
    return data


@dataclass(frozen=True)
class PeerTls:
    cert: bytes
    key: bytes
    ca: bytes

    @classmethod
    def load(cls, cert: Path, key: Path, ca: Path) -> PeerTls:
        return cls(
            _read(cert, "--peer-tls-cert"), _read(key, "--peer-tls-key"), _read(ca, "--peer-tls-ca")
        )

    def server_credentials(self) -> grpc.ServerCredentials:
        """Callers must show a certificate of the CA."""
        return grpc.ssl_server_credentials(
            [(self.key, self.cert)], root_certificates=self.ca, require_client_auth=True
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(self.ca, self.key, self.cert)
