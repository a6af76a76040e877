"""The client port's TLS credentials, from the operator's PEM files.

gRPC reads the files only when a client connects, and then reports a bad
one as a failed handshake; so each file is read and checked here first (a
certificate that parses, a key that parses and matches it, a CA that
parses), and any problem is a one-line `TLSFileError` before the member
starts. The checks are shared with the SDK (coord_api/pem.py), with the flags'
names.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography.hazmat.primitives import serialization

from coord_api.pem import pem_certificates, read_file, same_key


class TLSFileError(Exception):
    """A TLS file is missing, unreadable, not PEM, or does not fit; one line."""


@dataclass(frozen=True)
class ServerTLS:
    """The client port's certificate chain and key, and with `client_ca` the
    CA whose certificates clients must present (mutual TLS)."""

    chain: bytes
    key: bytes
    client_ca: bytes | None = None
    files: tuple[Path, Path] | None = None  # the chain's and the key's, as loaded

    @classmethod
    def load(cls, cert: Path, key: Path, ca: Path | None = None, flags: str = "--tls") -> ServerTLS:
        """Errors name the files by their flags: `flags`-cert, -key, -ca."""
        try:
            return cls._load(cert, key, ca, flags)
        except ValueError as err:
            raise TLSFileError(str(err)) from None

    @classmethod
    def _load(cls, cert: Path, key: Path, ca: Path | None, flags: str) -> ServerTLS:
        chain = read_file(cert, f"{flags}-cert {cert}")
        leaf = pem_certificates(chain, f"{flags}-cert {cert}")[0]
        key_pem = read_file(key, f"{flags}-key {key}")
        try:
            private = serialization.load_pem_private_key(key_pem, password=None)
        except TypeError:
            raise ValueError(
                f"{flags}-key {key}: the key is encrypted; give it unencrypted"
            ) from None
        except ValueError:
            raise ValueError(f"{flags}-key {key}: no PEM private key in it") from None
        if not same_key(private, leaf):
            raise ValueError(
                f"{flags}-key {key} does not match the certificate in {flags}-cert {cert}"
            )
        client_ca = None
        if ca is not None:
            client_ca = read_file(ca, f"{flags}-ca {ca}")
            pem_certificates(client_ca, f"{flags}-ca {ca}")
        return cls(chain, key_pem, client_ca, (cert, key))

    def ssl_context(self) -> ssl.SSLContext:
        """The same, for a door that is not gRPC's (the ZooKeeper door):
        TLS 1.2 at least, a client certificate of `client_ca` required if
        given."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(*self.files)
        if self.client_ca is not None:
            context.load_verify_locations(cadata=self.client_ca.decode())
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key, self.chain)],
            root_certificates=self.client_ca,
            require_client_auth=self.client_ca is not None,
        )
