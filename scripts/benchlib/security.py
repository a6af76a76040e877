"""What the bench's coord variants turn on, and how each side gets it: client
TLS (a CA and a server certificate for 127.0.0.1 made with trustme in the
run's temporary directory) and digest ACLs (every znode the workloads touch
carries one, every session authenticates). The members' flags, the SDK's
arguments and the bench's own gRPC probes all come from here, so the servers,
the load generators and the probes agree. (The members' cluster secret comes
with tests/servers.py's clusters.)"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

DIGEST_USER, DIGEST_PASSWORD = "bench", "pw"


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA clients trust, and the members' certificate and key."""

    ca: Path
    cert: Path
    key: Path


def make_tls(directory: Path) -> TlsFiles:
    """A fresh CA and a certificate for 127.0.0.1 and localhost signed by it."""
    import trustme  # only the TLS variant needs it (the `test` extra)

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    ca.cert_pem.write_to_path(str(files.ca))
    for i, blob in enumerate(issued.cert_chain_pems):
        blob.write_to_path(str(files.cert), append=i > 0)
    issued.private_key_pem.write_to_path(str(files.key))
    files.key.chmod(0o600)
    return files


@dataclass(frozen=True)
class Security:
    """One coord variant: plain (neither), TLS, digest ACLs, or the SDK kept
    on the gRPC Session stream instead of the members' session ports."""

    name: str  # the system's name in the report: coord, coord-tls, coord-acl, coord-grpc
    tls: TlsFiles | None = None
    acl: bool = False
    session_port: bool = True

    @property
    def variant(self) -> bool:
        return self.tls is not None or self.acl or not self.session_port

    def server_args(self) -> list[str]:
        if self.tls is None:
            return []
        return ["--tls-cert", str(self.tls.cert), "--tls-key", str(self.tls.key)]

    def client_options(self) -> dict[str, str]:
        """What a load generator needs to build its sessions (JSON for worker.py)."""
        options = {}
        if self.tls is not None:
            options["ca"] = str(self.tls.ca)
        if self.acl:
            options["digest"] = f"{DIGEST_USER}:{DIGEST_PASSWORD}"
        if not self.session_port:
            options["session_port"] = "off"
        return options

    def channel(self, address: str) -> grpc.Channel:
        """A channel for the bench's own probes (Status, a read after restart)."""
        if self.tls is None:
            return grpc.insecure_channel(address)
        credentials = grpc.ssl_channel_credentials(root_certificates=self.tls.ca.read_bytes())
        return grpc.secure_channel(address, credentials)


PLAIN = Security("coord")


def client_kwargs(options: dict[str, str]) -> dict[str, Any]:
    """coord_client.Client's arguments for `client_options()`: TLS trusting
    the run's CA; the digest credential, and its ACL on every znode created;
    the gRPC Session stream."""
    kwargs: dict[str, Any] = {}
    if "ca" in options:
        kwargs |= {"use_ssl": True, "ca": options["ca"]}
    if "digest" in options:
        from coord_client.security import make_digest_acl

        user, password = options["digest"].split(":", 1)
        kwargs["auth_data"] = [("digest", options["digest"])]
        kwargs["default_acl"] = [make_digest_acl(user, password, all=True)]
    if options.get("session_port") == "off":
        kwargs["use_session_port"] = False
    return kwargs
