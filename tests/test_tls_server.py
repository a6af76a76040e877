"""coord-server's TLS flags, through real processes, and the x509 identity
a mutual-TLS caller proves, through a real TLS server."""

from __future__ import annotations

import asyncio

import grpc
import pytest
import trustme
from cryptography import x509
from cryptography.x509.oid import NameOID

from coord.rpc.callers import x509_subject
from coord.session.x509_name import rfc2253
from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from tests.servers import READY_MARK
from tests.test_server_cli import assert_one_line_error, run_server
from tests.tlscerts import Certs, Pair, server_flags


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs.make(tmp_path_factory.mktemp("certs"))


def test_serves_tls_and_says_so(server_factory, certs):
    member = server_factory(*server_flags(certs.server, certs.ca))
    (ready,) = [line for line in member.output if READY_MARK in line]
    assert "with mutual TLS" in ready


def _bad_flags(certs: Certs, tmp_path) -> dict[str, tuple[list[str], str]]:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    server = certs.server
    return {
        "key without cert": (
            ["--tls-key", str(server.key)],
            "--tls-key and --tls-ca need --tls-cert",
        ),
        "ca without cert": (["--tls-ca", str(certs.ca)], "--tls-key and --tls-ca need --tls-cert"),
        "cert without key": (["--tls-cert", str(server.cert)], "--tls-cert needs --tls-key"),
        "missing cert": (
            server_flags(Pair(tmp_path / "nope.pem", server.key)),
            "No such file or directory",
        ),
        "unreadable key": (server_flags(Pair(server.cert, tmp_path)), "--tls-key"),
        "cert not PEM": (server_flags(Pair(garbage, server.key)), "no PEM certificate"),
        "key not PEM": (server_flags(Pair(server.cert, garbage)), "no PEM private key"),
        "key of another cert": (
            server_flags(Pair(server.cert, certs.alice.key)),
            "does not match the certificate",
        ),
        "encrypted key": (
            server_flags(Pair(certs.alice.cert, certs.alice_encrypted_key)),
            "the key is encrypted",
        ),
        "ca not PEM": (server_flags(server, garbage), "--tls-ca"),
        "cluster": (
            [
                *server_flags(server),
                *["--members", "1=127.0.0.1:7181,2=127.0.0.1:7182", "--insecure-peers"],
            ],
            "needs --peer-listen",
        ),
    }


BAD_FLAGS = [
    "key without cert", "ca without cert", "cert without key", "missing cert", "unreadable key",
    "cert not PEM", "key not PEM", "key of another cert", "encrypted key", "ca not PEM", "cluster",
]  # fmt: skip


@pytest.mark.parametrize("case", BAD_FLAGS)
def test_bad_tls_flags_one_line_exit_2(tmp_path, certs, case):
    flags, says = _bad_flags(certs, tmp_path)[case]
    result = run_server("--data-dir", str(tmp_path / "data"), *flags)
    assert result.returncode == 2
    assert_one_line_error(result, says)


# ------------------------------------------------------------- x509 identity


class _WhoAmI(client_pb2_grpc.CoordServicer):
    """Answers Status with the caller's x509 subject as the member address."""

    async def Status(self, request, context):  # noqa: N802
        return pb.StatusResponse(members=[pb.MemberStatus(address=x509_subject(context) or "-")])


CA = trustme.CA()  # signs the server's and the clients' certificates here
SERVER = CA.issue_cert("127.0.0.1")


async def _subject_seen(client: trustme.LeafCert | None, mutual: bool = True) -> str:
    """The subject a real TLS server's handler sees for one unary call."""
    server = grpc.aio.server()
    client_pb2_grpc.add_CoordServicer_to_server(_WhoAmI(), server)
    credentials = grpc.ssl_server_credentials(
        [(SERVER.private_key_pem.bytes(), SERVER.cert_chain_pems[0].bytes())],
        root_certificates=CA.cert_pem.bytes() if mutual else None,
        require_client_auth=mutual,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    own = (client.private_key_pem.bytes(), client.cert_chain_pems[0].bytes()) if client else ()
    try:
        channel_credentials = grpc.ssl_channel_credentials(CA.cert_pem.bytes(), *own)
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", channel_credentials) as channel:
            reply = await client_pb2_grpc.CoordStub(channel).Status(pb.StatusRequest(), timeout=10)
            return reply.members[0].address
    finally:
        await server.stop(None)


def _subject_rfc4514(leaf: trustme.LeafCert) -> str:
    return x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).subject.rfc4514_string()


def test_x509_subject_of_a_mutual_tls_caller():
    alice = CA.issue_cert("alice@example.org", common_name="alice", organization_name="Example",
                          organization_unit_name="Engineering")  # fmt: skip
    seen = asyncio.run(_subject_seen(alice))
    assert seen == "CN=alice,OU=Engineering,O=Example"  # ZooKeeper's (Java's RFC 2253) form
    assert seen == _subject_rfc4514(alice)


def test_x509_subject_non_ascii_as_java_gives_it():
    juergen = CA.issue_cert("j@example.org", common_name="Jürgen, Müller", organization_name="Ex",
                            organization_unit_name="Dev")  # fmt: skip
    seen = asyncio.run(_subject_seen(juergen))
    assert seen == "CN=Jürgen\\, Müller,OU=Dev,O=Ex"


def test_no_x509_subject_without_a_client_certificate():
    assert asyncio.run(_subject_seen(None, mutual=False)) == "-"


A = x509.NameAttribute
# Each name as Java's X500Principal.getName() (ZooKeeper's x509 id) printed
# it, for a certificate with that subject (OpenJDK 17).
JAVA_NAMES = [
    (
        [A(NameOID.ORGANIZATION_NAME, "Example"), A(NameOID.ORGANIZATIONAL_UNIT_NAME, "Eng"),
         A(NameOID.COMMON_NAME, "alice")],
        "CN=alice,OU=Eng,O=Example",
    ),
    (
        [A(NameOID.COUNTRY_NAME, "DE"), A(NameOID.ORGANIZATION_NAME, 'Ex, Inc+"<>;='),
         A(NameOID.COMMON_NAME, "#Jürgen Müller ")],
        'CN=\\#Jürgen Müller\\ ,O=Ex\\, Inc\\+\\"\\<\\>\\;\\=,C=DE',
    ),
    (
        [A(NameOID.ORGANIZATION_NAME, "Ex"), A(NameOID.COMMON_NAME, "bob"),
         A(NameOID.EMAIL_ADDRESS, "bob@example.org")],
        "1.2.840.113549.1.9.1=#160f626f62406578616d706c652e6f7267,CN=bob,O=Ex",
    ),
    (
        [A(NameOID.DOMAIN_COMPONENT, "org"), A(NameOID.DOMAIN_COMPONENT, "example"),
         A(NameOID.USER_ID, "u1"), A(NameOID.LOCALITY_NAME, "Berlin"),
         A(NameOID.STATE_OR_PROVINCE_NAME, "BE"), A(NameOID.STREET_ADDRESS, "Main 1"),
         A(NameOID.SERIAL_NUMBER, "42"), A(NameOID.TITLE, "Dr")],
        "2.5.4.12=#0c024472,2.5.4.5=#13023432,STREET=Main 1,ST=BE,L=Berlin,UID=u1,"
        "DC=example,DC=org",
    ),
    ([A(NameOID.COMMON_NAME, " a#b c=d\\e ")], "CN=\\ a\\#b c\\=d\\\\e\\ "),
    (
        [x509.RelativeDistinguishedName([A(NameOID.COMMON_NAME, "zed"),
                                         A(NameOID.ORGANIZATION_NAME, "abc")]),
         x509.RelativeDistinguishedName([A(NameOID.COUNTRY_NAME, "US")])],
        "C=US,CN=zed+O=abc",
    ),
    (
        [A(NameOID.EMAIL_ADDRESS, "x@y.z"), A(NameOID.TITLE, "Dr. Ü")],
        "2.5.4.12=#0c0644722e20c39c,1.2.840.113549.1.9.1=#16057840792e7a",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("parts", "java"), JAVA_NAMES)
def test_rfc2253_as_java_spells_it(parts, java):
    assert rfc2253(x509.Name(parts)) == java
