"""The SDK's TLS: kazoo's settings (`use_ssl`, `verify_certs`, `ca`,
`certfile`, `keyfile`, `keyfile_password`) read once into gRPC channel
credentials, and, when a channel to a member fails, why, in one line.

gRPC reports a failed handshake only as an unavailable channel, often as
"Socket closed" (a plaintext client on a TLS port, a client certificate the
member refused); so `diagnose` repeats the handshake with Python's `ssl`
module and the same settings and names what went wrong.

gRPC cannot be told to skip verifying the member's certificate. With
`verify_certs=False` each connection first fetches the member's certificate
without checking it and then trusts exactly that certificate (under a name
it holds): the traffic is encrypted, but the member is not authenticated,
just as kazoo's `verify_certs=False`. For tests only.
"""

from __future__ import annotations

import contextlib
import enum
import socket
import ssl
from dataclasses import dataclass

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from coord_api.pem import pem_certificates, read_file, same_key

# An HTTP/2 client preface and an empty SETTINGS frame: a gRPC server that
# accepted the handshake answers with its own SETTINGS.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


@dataclass(frozen=True)
class Names:
    """What the caller calls each setting, for the advice in a message."""

    use_ssl: str
    ca: str
    certfile: str
    keyfile: str


SDK_NAMES = Names("connect with use_ssl=True", "ca=", "certfile=", "keyfile=")


class Advice(enum.Enum):
    """What a TLS failure means, as a message with the setting names left open."""

    SERVES_TLS = "the member at {address} serves TLS; this client spoke plaintext ({use_ssl})"
    SPEAKS_PLAINTEXT = (
        "TLS handshake with {address} failed: the member does not speak TLS "
        "(is it started with --tls-cert?)"
    )
    UNKNOWN_ISSUER = (
        "TLS handshake with {address} failed: {failure} "
        "(is {ca} the CA that signed the server's certificate?)"
    )
    EXPIRED = "TLS handshake with {address} failed: {failure} (renew the server's certificate)"
    WRONG_HOST = (
        "TLS handshake with {address} failed: {failure} "
        "(the server's certificate must name the host connected to)"
    )
    OTHER = "TLS handshake with {address} failed: {failure}"
    CLIENT_CERT_REQUIRED = (
        "TLS handshake with {address} failed: the member closed the connection; "
        "it wants a client certificate (give {certfile} and {keyfile})"
    )
    CLIENT_CERT_REFUSED = (
        "TLS handshake with {address} failed: the member closed the connection; "
        "it refused the client certificate (is {certfile} signed by the CA it trusts?)"
    )


@dataclass(frozen=True)
class TLSProblem:
    """Why a connection to one member failed at the TLS layer."""

    address: str
    advice: Advice
    failure: str = ""

    def describe(self, names: Names = SDK_NAMES) -> str:
        return self.advice.value.format(
            address=self.address,
            failure=self.failure,
            use_ssl=names.use_ssl,
            ca=names.ca,
            certfile=names.certfile,
            keyfile=names.keyfile,
        )

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True)
class ClientTLS:
    """The settings as read: PEM bytes for gRPC, the file names for `ssl`."""

    roots: bytes | None  # None: the system's CAs
    chain: bytes | None
    key: bytes | None  # unencrypted PEM
    verify: bool
    ca: str | None
    certfile: str | None
    keyfile: str | None
    keyfile_password: str | bytes | None

    @classmethod
    def from_options(
        cls,
        use_ssl: bool = False,
        verify_certs: bool = True,
        ca: str | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        keyfile_password: str | bytes | None = None,
    ) -> ClientTLS | None:
        """None for plaintext; ValueError naming the setting that is wrong."""
        if not use_ssl:
            if ca or certfile or keyfile:
                raise ValueError("ca, certfile and keyfile need use_ssl=True")
            return None
        if keyfile and not certfile:
            raise ValueError("keyfile needs certfile")
        roots = read_file(ca, f"ca {ca}") if ca else None
        if roots is not None:
            pem_certificates(roots, f"ca {ca}")
        chain = key = None
        if certfile:
            chain = read_file(certfile, f"certfile {certfile}")
            leaf = pem_certificates(chain, f"certfile {certfile}")[0]
            private = _private_key(keyfile or certfile, keyfile_password)
            if not same_key(private, leaf):
                raise ValueError(
                    f"keyfile {keyfile or certfile} does not match certfile {certfile}"
                )
            key = private.private_bytes(  # type: ignore[attr-defined]
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        return cls(roots, chain, key, verify_certs, ca, certfile, keyfile, keyfile_password)

    def credentials(
        self, address: str, timeout: float
    ) -> tuple[grpc.ChannelCredentials, list[tuple[str, str]]]:
        """The credentials and extra channel options for `address`. Unverified,
        this fetches its certificate (blocking; OSError when it cannot within
        `timeout`)."""
        if self.verify:
            return grpc.ssl_channel_credentials(self.roots, self.key, self.chain), []
        pem = self._fetch_certificate(address, timeout)
        name = _name_in(x509.load_pem_x509_certificate(pem))
        credentials = grpc.ssl_channel_credentials(pem, self.key, self.chain)
        return credentials, [("grpc.ssl_target_name_override", name)] if name else []

    def _fetch_certificate(self, address: str, timeout: float) -> bytes:
        host, port = split_address(address)
        with (
            socket.create_connection((host, port), timeout) as raw,
            self.ssl_context().wrap_socket(raw, server_hostname=host) as conn,
        ):
            der = conn.getpeercert(binary_form=True)
        if der is None:
            raise OSError(f"{address} sent no certificate")
        return ssl.DER_cert_to_PEM_cert(der).encode()

    def ssl_context(self) -> ssl.SSLContext:
        """An `ssl` context with the same settings as the gRPC credentials."""
        context = _context(verify=self.verify)
        if self.verify and self.roots is not None:
            context.load_verify_locations(cadata=self.roots.decode("ascii", errors="replace"))
        elif self.verify:
            context.load_default_certs()
        if self.certfile:
            context.load_cert_chain(self.certfile, self.keyfile, self.keyfile_password)
        return context


def _context(verify: bool) -> ssl.SSLContext:
    """A client context that speaks HTTP/2, as gRPC; unverified, it accepts any certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_alpn_protocols(["h2"])
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def diagnose(address: str, tls: ClientTLS | None, timeout: float) -> TLSProblem | None:
    """Why a channel to `address` failed, if TLS is why: a handshake with the
    same settings, made with `ssl`. None when the member cannot be reached at
    all, or it answers."""
    host, port = split_address(address)
    context = _context(verify=False) if tls is None else tls.ssl_context()
    try:
        with socket.create_connection((host, port), timeout) as raw:
            raw.settimeout(timeout)
            outcome = _handshake(raw, context, host)
    except OSError:
        return None
    if tls is None:  # did the member speak TLS?
        return None if isinstance(outcome, ssl.SSLError) else TLSProblem(address, Advice.SERVES_TLS)
    if outcome is _Outcome.ANSWERED:
        return None
    if outcome is _Outcome.CLOSED:
        # The handshake went through on our side, and the member hung up at
        # once: with TLS 1.3 that is how gRPC refuses a client certificate
        # (or its absence); it sends no alert that says which.
        advice = Advice.CLIENT_CERT_REFUSED if tls.certfile else Advice.CLIENT_CERT_REQUIRED
        return TLSProblem(address, advice)
    return _classify(address, outcome)


class _Outcome(enum.Enum):
    ANSWERED = "the member answered the HTTP/2 preface"
    CLOSED = "the member closed the connection after the handshake"


def _handshake(raw: socket.socket, context: ssl.SSLContext, host: str) -> _Outcome | ssl.SSLError:
    """A handshake on `raw`, then the HTTP/2 preface: what came of it."""
    try:
        with context.wrap_socket(raw, server_hostname=host) as conn:
            conn.sendall(_H2_PREFACE)
            return _Outcome.ANSWERED if conn.recv(1) else _Outcome.CLOSED
    except ssl.SSLError as error:
        return error
    except (ConnectionResetError, BrokenPipeError):
        return _Outcome.CLOSED


_VERIFY_CODES = {
    10: Advice.EXPIRED,  # X509_V_ERR_CERT_HAS_EXPIRED
    18: Advice.UNKNOWN_ISSUER,  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
    19: Advice.UNKNOWN_ISSUER,  # X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
    20: Advice.UNKNOWN_ISSUER,  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: Advice.UNKNOWN_ISSUER,  # X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
    62: Advice.WRONG_HOST,  # X509_V_ERR_HOSTNAME_MISMATCH
    64: Advice.WRONG_HOST,  # X509_V_ERR_IP_ADDRESS_MISMATCH
}


def _classify(address: str, error: ssl.SSLError) -> TLSProblem:
    if isinstance(error, ssl.SSLCertVerificationError):
        failure = f"certificate verify failed: {error.verify_message}"
        return TLSProblem(address, _VERIFY_CODES.get(error.verify_code, Advice.OTHER), failure)
    if error.reason == "WRONG_VERSION_NUMBER":
        return TLSProblem(address, Advice.SPEAKS_PLAINTEXT)
    return TLSProblem(address, Advice.OTHER, error.reason or str(error))


def _private_key(path: str, password: str | bytes | None) -> object:
    pem = read_file(path, f"keyfile {path}")
    secret = password.encode() if isinstance(password, str) else password
    try:
        return serialization.load_pem_private_key(pem, password=secret)
    except TypeError:
        if secret is None:
            raise ValueError(f"keyfile {path} is encrypted: give keyfile_password") from None
        return serialization.load_pem_private_key(pem, password=None)
    except ValueError as err:
        wrong = "password" in str(err) or "decrypt" in str(err)
        problem = "wrong keyfile_password" if wrong else "no PEM private key in it"
        raise ValueError(f"keyfile {path}: {problem}") from None


def _name_in(certificate: x509.Certificate) -> str | None:
    """A name the certificate is valid for, to check it against when pinned."""
    with contextlib.suppress(x509.ExtensionNotFound):
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for kind in (x509.DNSName, x509.IPAddress):
            found = names.get_values_for_type(kind)
            if found:
                return str(found[0])
    common = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(common[0].value) if common else None
