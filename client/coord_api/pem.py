"""TLS files as both sides read them: the server's `--tls-*` flags and the
SDK's kazoo-style settings give the same one-line errors for the same
mistakes."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def read_file(path: str | Path, what: str) -> bytes:
    """The bytes of a TLS file; ValueError naming `what` when it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise ValueError(f"{what}: {err.strerror or err}") from None


def pem_certificates(pem: bytes, what: str) -> list[x509.Certificate]:
    """The certificates in PEM text, at least one; ValueError naming `what` otherwise."""
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise ValueError(f"{what}: no PEM certificate in it") from None


def same_key(private: object, certificate: x509.Certificate) -> bool:
    """Whether `private` is the key of `certificate`."""
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return private.public_key().public_bytes(der, spki) == (  # type: ignore[attr-defined]
        certificate.public_key().public_bytes(der, spki)
    )
