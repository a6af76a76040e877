"""coord's ACLs and authentication hold to a real ZooKeeper's: every scenario
of tests/acl_scenarios/ runs through kazoo against Apache ZooKeeper from
Debian's `zookeeper` package, then through coord_client against a coord
member, then through kazoo against another member's ZooKeeper door
(coord/zk/), and the three recordings must be equal.

Tested against ZooKeeper 3.8.0 as Debian 12 packages it (3.8.0-11+deb12u2):
it has the CVE-2024-23944 fix backported (every watch event, one-shot or
persistent, goes only to a session that may READ the node), but not
ZOOKEEPER-2590 (exists checks no ACL there); get_acls with READ but not
ADMIN shows every digest id as `user:x`. coord follows 3.8.4/3.9.2 for
exists, and refuses add_watch on a path the session may not read; those
steps, and coord's other deliberate departures, are marked in the scenarios
with the outcome each side gives.

Skipped, with the reason, where Debian's ZooKeeper cannot run (`.ci/run`
installs it when it can).
"""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kazoo import security as kazoo_security

from coord.acl import digest_id
from coord_client import Client, security
from tests import zookeeper
from tests.acl_scenarios import SCENARIOS, SUPER, Recorder, Target, x509_subjects
from tests.servers import ServerProcess, free_port

# ZooKeeper's own digest ids (org.apache.zookeeper.server.auth.
# DigestAuthenticationProvider from Debian's 3.8.0, run on these credentials):
# user:base64(sha1("user:password")), the user being the text before the
# first colon.
ZOOKEEPER_DIGESTS = {
    "super:test": "super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
    "alice:secret": "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=",
    "bob:pw": "bob:ikIaKsbtGweaHnb/jKn7OHqbunM=",
    "u:p:with:colons": "u:XRpa3+xQHl1NiPY4gW0LeDc8qmk=",
    "é:ü": "é:Ztqg8TrMmzkSFpOaDBO87lu10+c=",
}
SUPER_DIGEST = ZOOKEEPER_DIGESTS[SUPER]


# Scenarios where coord still departs from ZooKeeper by mistake, with where to
# fix it; strict, so a fix shows up as XPASS and its entry goes.
KNOWN_BUGS: dict[str, str] = {}  # scenario -> where coord departs from ZooKeeper


@pytest.fixture(scope="module")
def zk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zookeeper.ZooKeeper]:
    """One standalone ZooKeeper for the module, the super user's digest set."""
    reason = zookeeper.unavailable()
    if reason:
        pytest.skip(f"Debian's ZooKeeper cannot run: {reason}")
    server = zookeeper.ZooKeeper(tmp_path_factory.mktemp("zookeeper"), SUPER_DIGEST)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="module")
def coord_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One coord member for the module with the same super user."""
    server = ServerProcess(
        data_dir=tmp_path_factory.mktemp("coord") / "data",
        extra_args=["--superuser-digest", SUPER_DIGEST],
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def coord_door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Another, for kazoo through its ZooKeeper door (coord/zk/)."""
    server = ServerProcess(
        data_dir=tmp_path_factory.mktemp("coord-door") / "data",
        extra_args=["--superuser-digest", SUPER_DIGEST],
        zk_port=free_port(),
    )
    server.start()
    yield server
    server.stop()


def recorded(scenario: Callable[[Target, Recorder], None], target: Target) -> list:
    rec = Recorder(target.kind)
    try:
        scenario(target, rec)
    finally:
        target.close()
    return rec.steps


def differences(expected: list, got: list) -> str:
    """The steps where coord's recording departs from ZooKeeper's, one a line."""
    lines = []
    for n in range(max(len(expected), len(got))):
        zk = expected[n] if n < len(expected) else ("(no step)", None)
        ours = got[n] if n < len(got) else ("(no step)", None)
        if zk != ours:
            lines.append(f"step {n} {zk[0]!r}: zookeeper {zk[1]!r}, coord {ours[1]!r}")
    return "\n".join(lines)


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(
            scenario,
            id=scenario.__name__,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[scenario.__name__])]
            if scenario.__name__ in KNOWN_BUGS
            else [],
        )
        for scenario in SCENARIOS
    ],
)
def test_coord_acts_as_zookeeper(
    scenario: Callable[[Target, Recorder], None],
    zk_server: zookeeper.ZooKeeper,
    coord_server: ServerProcess,
    coord_door: ServerProcess,
) -> None:
    zk = Target(
        "zookeeper",
        lambda **options: zookeeper.ZkClient(hosts=zk_server.address, **options),
        kazoo_security,
    )
    expected = recorded(scenario, zk)
    unexpected = [step for step in expected if "not the expected" in str(step[1])]
    assert not unexpected, f"ZooKeeper no longer gives what a marked step expects: {unexpected}"
    coord = Target(
        "coord", lambda **options: Client(hosts=coord_server.address, **options), security
    )
    got = recorded(scenario, coord)
    assert got == expected, differences(expected, got)
    door = Target(
        "zk door",
        lambda **options: zookeeper.ZkClient(hosts=coord_door.zk_address, **options),
        kazoo_security,
    )
    through_door = recorded(scenario, door)
    assert through_door == expected, differences(expected, through_door)


def test_zookeeper_makes_these_digests() -> None:
    """The constants above are what ZooKeeper's own tool prints today."""
    reason = zookeeper.unavailable()
    if reason:
        pytest.skip(f"Debian's ZooKeeper cannot run: {reason}")
    assert zookeeper.digest_ids(*ZOOKEEPER_DIGESTS) == ZOOKEEPER_DIGESTS


@pytest.mark.parametrize("credential", ZOOKEEPER_DIGESTS)
def test_sdk_digest_is_zookeepers(credential: str) -> None:
    user, password = credential.split(":", 1)
    assert security.make_digest_acl_credential(user, password) == ZOOKEEPER_DIGESTS[credential]


@pytest.mark.parametrize("credential", ZOOKEEPER_DIGESTS)
def test_server_digest_is_zookeepers(credential: str) -> None:
    assert digest_id(credential) == ZOOKEEPER_DIGESTS[credential]


def attribute(oid: x509.ObjectIdentifier, value: str) -> x509.RelativeDistinguishedName:
    return x509.RelativeDistinguishedName([x509.NameAttribute(oid, value)])


# Client certificate subjects (RDNs first to last; Java prints them last first)
# whose spelling is easy to get wrong: escapes, non-ASCII, an attribute RFC 2253
# has no keyword for, a multi-valued RDN, spaces at the ends.
SUBJECTS = {
    "alice": x509.Name(
        [attribute(NameOID.ORGANIZATION_NAME, "Example"), attribute(NameOID.COMMON_NAME, "alice")]
    ),
    "bob": x509.Name([attribute(NameOID.COMMON_NAME, "bob")]),
    "umlaut": x509.Name([attribute(NameOID.COMMON_NAME, "Jürgen")]),
    "specials": x509.Name([attribute(NameOID.COMMON_NAME, 'a=b, c+d <"e">; #f\\')]),
    "email": x509.Name(
        [attribute(NameOID.COMMON_NAME, "e"), attribute(NameOID.EMAIL_ADDRESS, "e@example.org")]
    ),
    "multi-valued": x509.Name(
        [
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "x"),
                    x509.NameAttribute(NameOID.USER_ID, "y"),
                ]
            )
        ]
    ),
    "multi-valued, UID first": x509.Name(
        [
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.USER_ID, "y"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "x"),
                ]
            )
        ]
    ),
    "spaces": x509.Name([attribute(NameOID.COMMON_NAME, " lead and trail ")]),
    "domain": x509.Name(
        [
            attribute(NameOID.DOMAIN_COMPONENT, "org"),
            attribute(NameOID.DOMAIN_COMPONENT, "example"),
            attribute(NameOID.STREET_ADDRESS, "1 Main St"),
            attribute(NameOID.COMMON_NAME, "dc"),
        ]
    ),
}


def pkcs8(key_pem: bytes) -> bytes:
    """A PEM private key as PKCS#8, the only form ZooKeeper's PEM reader takes."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def issue(ca: trustme.CA, subject: x509.Name, stem: Path) -> dict[str, str]:
    """A client certificate of `ca` for `subject`, as certfile and keyfile."""
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    issuer = x509.load_pem_x509_certificate(ca.cert_pem.bytes()).subject
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    certfile, keyfile = Path(f"{stem}.pem"), Path(f"{stem}.key")
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return {"certfile": str(certfile), "keyfile": str(keyfile)}


def test_x509_ids_are_zookeepers(tmp_path: Path) -> None:
    """The x509 id a client certificate gives, through both servers' mutual
    TLS ports, spelled alike for every subject in SUBJECTS."""
    reason = zookeeper.unavailable()
    if reason:
        pytest.skip(f"Debian's ZooKeeper cannot run: {reason}")
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = ca.issue_cert("127.0.0.1")
    chain = b"".join(blob.bytes() for blob in server.cert_chain_pems)
    key_and_chain, key = tmp_path / "server-key-and-chain.pem", tmp_path / "server.key"
    key_and_chain.write_bytes(pkcs8(server.private_key_pem.bytes()) + chain)
    key.write_bytes(pkcs8(server.private_key_pem.bytes()))
    (tmp_path / "server.pem").write_bytes(chain)
    certs = {name: issue(ca, subject, tmp_path / name) for name, subject in SUBJECTS.items()}
    tls = {"use_ssl": True, "verify_certs": True, "ca": str(ca_file)}
    zk_server = zookeeper.ZooKeeper(
        tmp_path / "zookeeper", SUPER_DIGEST, tls=zookeeper.Tls(key_and_chain, ca_file)
    )
    coord_servers = [
        ServerProcess(
            data_dir=tmp_path / name,
            extra_args=[
                "--tls-cert",
                str(tmp_path / "server.pem"),
                "--tls-key",
                str(key),
                "--tls-ca",
                str(ca_file),
                "--superuser-digest",
                SUPER_DIGEST,
            ],
            zk_port=free_port(),
        )  # fmt: skip
        for name in ("coord", "coord-door")
    ]
    coord_server, coord_door = coord_servers
    try:
        zk_server.start()

        def kazoo_on(kind: str, address: str) -> Target:
            """kazoo over mutual TLS to `address` (ZooKeeper's, or coord's door)."""

            def make(**options: object) -> zookeeper.ZkClient:
                return zookeeper.ZkClient(hosts=address, **tls, **options)

            return Target(kind, make, kazoo_security, certs)

        expected = recorded(x509_subjects, kazoo_on("zookeeper", zk_server.tls_address))
        coord_server.start()
        coord = Target(
            "coord",
            lambda **options: Client(hosts=coord_server.address, **tls, **options),
            security,
            certs,
        )
        got = recorded(x509_subjects, coord)
        coord_door.start()
        door = kazoo_on("zk door", coord_door.zk_address)
        through_door = recorded(x509_subjects, door)
    finally:
        zk_server.stop()
        for server in coord_servers:
            server.stop()
    assert got == expected, differences(expected, got)
    assert through_door == expected, differences(expected, through_door)
