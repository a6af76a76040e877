"""Real certificates for the TLS tests, made at test time with trustme and
written as PEM files: nothing secret is checked in."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization

PASSWORD = "correct horse"
LONG_AGO = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Pair:
    """A certificate chain file and its key file."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class Certs:
    """A CA and what it signed, and another CA that signed nothing of ours."""

    ca: Path
    other_ca: Path
    server: Pair  # for 127.0.0.1 and localhost
    expired: Pair  # for 127.0.0.1, long expired
    wrong_host: Pair  # for example.org only
    alice: Pair  # client certificate, CN=alice,OU=Engineering,O=Example
    stranger: Pair  # client certificate signed by other_ca
    alice_encrypted_key: Path  # alice's key, encrypted with PASSWORD

    @classmethod
    def make(cls, root: Path) -> Certs:
        root.mkdir(parents=True, exist_ok=True)
        ca, other = trustme.CA(), trustme.CA()
        ca.cert_pem.write_to_path(str(root / "ca.pem"))
        other.cert_pem.write_to_path(str(root / "other-ca.pem"))
        alice = ca.issue_cert(
            "alice@example.org",
            common_name="alice",
            organization_name="Example",
            organization_unit_name="Engineering",
        )
        key = serialization.load_pem_private_key(alice.private_key_pem.bytes(), password=None)
        encrypted = root / "alice-encrypted.key"
        encrypted.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(PASSWORD.encode()),
            )
        )
        expired = ca.issue_cert(
            "127.0.0.1", not_before=LONG_AGO, not_after=LONG_AGO + datetime.timedelta(days=1)
        )
        return cls(
            ca=root / "ca.pem",
            other_ca=root / "other-ca.pem",
            server=_write(ca.issue_cert("127.0.0.1", "localhost"), root, "server"),
            expired=_write(expired, root, "expired"),
            wrong_host=_write(ca.issue_cert("example.org"), root, "wrong-host"),
            alice=_write(alice, root, "alice"),
            stranger=_write(other.issue_cert("stranger@example.org"), root, "stranger"),
            alice_encrypted_key=encrypted,
        )


def _write(leaf: trustme.LeafCert, root: Path, name: str) -> Pair:
    pair = Pair(root / f"{name}.pem", root / f"{name}.key")
    pair.cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(pair.key))
    return pair


def server_flags(pair: Pair, client_ca: Path | None = None) -> list[str]:
    """coord-server's flags to serve `pair`, with mutual TLS when `client_ca`."""
    flags = ["--tls-cert", str(pair.cert), "--tls-key", str(pair.key)]
    return [*flags, "--tls-ca", str(client_ca)] if client_ca else flags
