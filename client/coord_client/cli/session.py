"""The global options, the path a command is about, and the session coordctl
opens for it on first use; and how an SDK error reads as coordctl's one line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import click

from coord_client.channel import parse_hosts
from coord_client.client import Client
from coord_client.exceptions import (
    AuthFailedError,
    BadVersionError,
    ConnectionLoss,
    CoordError,
    CoordTimeoutError,
    DataTooLargeError,
    InvalidACLError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    SessionExpiredError,
    TLSError,
)
from coord_client.tls import ClientTLS, Names, diagnose

DEFAULT_SERVERS = "127.0.0.1:7181"
SESSION_TIMEOUT = 10.0  # seconds; the session coordctl asks for
TLS_NAMES = Names("give --tls-ca", "--tls-ca", "--tls-cert", "--tls-key")

# What went wrong, by exception class (first match), naming the path.
_PROBLEMS: list[tuple[type[CoordError], str]] = [
    (NoNodeError, "no node {path}"),
    (NodeExistsError, "node exists {path}"),
    (NotEmptyError, "node has children {path} (use -r)"),
    (BadVersionError, "bad version for {path}"),
    (NoChildrenForEphemeralsError, "ephemeral nodes cannot have children: {path}"),
    (DataTooLargeError, "data too large for {path}"),
    (NoAuthError, "not authorized for {path} (NO_AUTH)"),
    (InvalidACLError, "invalid ACL for {path} (INVALID_ACL)"),
    (AuthFailedError, "authentication failed (AUTH_FAILED)"),
    (SessionExpiredError, "session expired"),
    (ConnectionLoss, "lost the connection to {servers}"),
    (CoordTimeoutError, "cannot reach {servers}"),
]


class Failure(click.ClickException):
    """The one line coordctl prints before exiting with code 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"coordctl: {self.message}", err=True)


@dataclass
class Ctl:
    """The global options, the path the command is about, and the session (opened on first use)."""

    servers: str
    timeout: float
    as_json: bool
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    auth: list[tuple[str, str]] = field(default_factory=list)
    path: str = "/"
    _client: Client | None = field(default=None, init=False, repr=False)

    @property
    def use_tls(self) -> bool:
        """Any TLS flag turns TLS on; --tls-ca alone is the usual one."""
        return bool(self.tls_ca or self.tls_cert or self.tls_key)

    def tls(self) -> ClientTLS | None:
        """The TLS settings, tried first with a handshake on each member in
        turn until one goes through (or cannot be reached): gRPC's C core
        logs a failed handshake on stderr, and coordctl's word is one line."""
        tls = ClientTLS.from_options(
            self.use_tls, ca=self.tls_ca, certfile=self.tls_cert, keyfile=self.tls_key
        )
        if tls is None:
            return None
        problem = None
        for address in parse_hosts(self.servers):
            problem = diagnose(address, tls, self.timeout)
            if problem is None:
                return tls
        raise TLSError(problem)

    def client(self) -> Client:
        if self._client is None:
            self.tls()
            self._client = Client(
                self.servers, timeout=SESSION_TIMEOUT, auth_data=self.auth, use_ssl=self.use_tls,
                ca=self.tls_ca, certfile=self.tls_cert, keyfile=self.tls_key,
            )  # fmt: skip
            self._client.start(timeout=self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.stop()

    def describe(self, exc: Exception) -> str:
        if isinstance(exc, TLSError):
            return exc.problem.describe(TLS_NAMES)
        for cls, template in _PROBLEMS:
            if isinstance(exc, cls):
                return template.format(path=self.path, servers=self.servers)
        return str(exc) or type(exc).__name__

    def emit(self, value: Any) -> None:
        click.echo(json.dumps(value))


pass_ctl = click.make_pass_decorator(Ctl)
