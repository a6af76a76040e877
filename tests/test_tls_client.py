"""TLS from the client's side, through real members with real certificates:
the SDK (threaded and asyncio) with kazoo's TLS options, coordctl's --tls-*
flags, and, for each way a TLS connection goes wrong, one clear line that
says what failed (raised at once, not after the whole start timeout)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from coord_client import Client
from coord_client import aio as coord_aio
from coord_client.exceptions import TLSError
from tests.servers import ServerProcess
from tests.tlscerts import PASSWORD, Certs, server_flags

NEVER = 3600.0  # a start timeout no test waits out: a TLS failure must end start() at once


@dataclass
class Members:
    """One member per kind of port the tests need."""

    tls: ServerProcess
    mutual: ServerProcess
    plain: ServerProcess
    expired: ServerProcess
    wrong_host: ServerProcess


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs.make(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def members(tmp_path_factory, certs) -> Iterator[Members]:
    root = tmp_path_factory.mktemp("members")
    flags = {
        "tls": server_flags(certs.server),
        "mutual": server_flags(certs.server, certs.ca),
        "plain": [],
        "expired": server_flags(certs.expired),
        "wrong_host": server_flags(certs.wrong_host),
    }
    started = {name: ServerProcess(root / name, extra_args=f) for name, f in flags.items()}
    try:
        for member in started.values():
            member.start()
        yield Members(**started)
    finally:
        for member in started.values():
            member.stop()


def _roundtrip(zk: Client, path: str) -> bytes:
    zk.start(timeout=30)
    try:
        zk.create(path, b"over TLS", ephemeral=True)
        return zk.get(path)[0]
    finally:
        zk.stop()


# ------------------------------------------------------------------ the SDK


def test_tls_by_ip_to_a_certificate_with_that_ip(members, certs):
    zk = Client(members.tls.address, use_ssl=True, ca=str(certs.ca))
    assert _roundtrip(zk, "/by-ip") == b"over TLS"


def test_tls_by_name_to_a_certificate_with_that_name(members, certs):
    zk = Client(f"localhost:{members.tls.port}", use_ssl=True, ca=str(certs.ca))
    assert _roundtrip(zk, "/by-name") == b"over TLS"


def test_mutual_tls_with_a_client_certificate(members, certs):
    zk = Client(
        members.mutual.address, use_ssl=True, ca=str(certs.ca),
        certfile=str(certs.alice.cert), keyfile=str(certs.alice.key),
    )  # fmt: skip
    assert _roundtrip(zk, "/alice") == b"over TLS"


def test_encrypted_keyfile_with_its_password(members, certs):
    zk = Client(
        members.mutual.address, use_ssl=True, ca=str(certs.ca), certfile=str(certs.alice.cert),
        keyfile=str(certs.alice_encrypted_key), keyfile_password=PASSWORD,
    )  # fmt: skip
    assert _roundtrip(zk, "/encrypted") == b"over TLS"


def test_verify_certs_false_encrypts_without_a_ca(members):
    zk = Client(members.wrong_host.address, use_ssl=True, verify_certs=False)
    assert _roundtrip(zk, "/unverified") == b"over TLS"


def test_asyncio_client_over_mutual_tls(members, certs):
    async def main() -> bytes:
        async with coord_aio.Client(
            members.mutual.address, use_ssl=True, ca=str(certs.ca),
            certfile=str(certs.alice.cert), keyfile=str(certs.alice.key),
        ) as zk:  # fmt: skip
            await zk.create("/aio", b"over TLS", ephemeral=True)
            return (await zk.get("/aio"))[0]

    assert asyncio.run(main()) == b"over TLS"


def _failures(members: Members, certs: Certs) -> dict[str, tuple[str, dict, str]]:
    """Each way a connection fails at TLS: (member, SDK options, what the error says)."""
    ca = {"use_ssl": True, "ca": str(certs.ca)}
    return {
        "plaintext client, TLS port": (
            members.tls.address, {},
            "serves TLS; this client spoke plaintext (connect with use_ssl=True)",
        ),
        "plaintext client, mutual-TLS port": (
            members.mutual.address, {},
            "serves TLS; this client spoke plaintext (connect with use_ssl=True)",
        ),
        "TLS client, plaintext port": (
            members.plain.address, ca,
            "the member does not speak TLS (is it started with --tls-cert?)",
        ),
        "expired server certificate": (
            members.expired.address, ca, "certificate verify failed: certificate has expired"
        ),
        "certificate of another CA": (
            members.tls.address, {"use_ssl": True, "ca": str(certs.other_ca)},
            "certificate verify failed: unable to get local issuer certificate "
            "(is ca= the CA that signed the server's certificate?)",
        ),
        "certificate for another host": (
            members.wrong_host.address, ca, "certificate verify failed: IP address mismatch"
        ),
        "no client certificate, mutual TLS": (
            members.mutual.address, ca,
            "it wants a client certificate (give certfile= and keyfile=)",
        ),
        "client certificate of another CA": (
            members.mutual.address,
            {**ca, "certfile": str(certs.stranger.cert), "keyfile": str(certs.stranger.key)},
            "it refused the client certificate",
        ),
    }  # fmt: skip


FAILURES = [
    "plaintext client, TLS port", "plaintext client, mutual-TLS port",
    "TLS client, plaintext port", "expired server certificate",
    "certificate of another CA", "certificate for another host",
    "no client certificate, mutual TLS", "client certificate of another CA",
]  # fmt: skip


@pytest.mark.parametrize("case", FAILURES)
def test_tls_failure_is_one_clear_error_at_once(members, certs, case):
    address, options, says = _failures(members, certs)[case]
    zk = Client(address, **options)
    with pytest.raises(TLSError) as caught:
        zk.start(timeout=NEVER)
    message = str(caught.value)
    assert address in message and says in message, message
    assert "\n" not in message


def test_unverified_tls_client_on_a_plaintext_port_is_told_so(members):
    zk = Client(members.plain.address, use_ssl=True, verify_certs=False)
    with pytest.raises(TLSError, match="the member does not speak TLS"):
        zk.start(timeout=NEVER)


@pytest.mark.parametrize("case", ["plaintext client, TLS port", "certificate of another CA"])
def test_asyncio_tls_failure_is_one_clear_error_at_once(members, certs, case):
    address, options, says = _failures(members, certs)[case]

    async def main() -> None:
        await coord_aio.Client(address, **options).start(timeout=NEVER)

    with pytest.raises(TLSError, match=re.escape(says)):
        asyncio.run(main())


def test_a_tls_failure_on_one_host_does_not_stop_the_others(members, certs):
    """The member with a stale certificate is skipped; the good one serves."""
    hosts = f"{members.expired.address},{members.tls.address}"
    zk = Client(hosts, use_ssl=True, ca=str(certs.ca), randomize_hosts=False)
    assert _roundtrip(zk, "/skipped") == b"over TLS"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"ca": "CA"}, "need use_ssl=True"),
        ({"use_ssl": True, "ca": "/nonexistent/ca.pem"}, "No such file or directory"),
        ({"use_ssl": True, "keyfile": "KEY"}, "keyfile needs certfile"),
        ({"use_ssl": True, "certfile": "CERTS.alice.key"}, "no PEM certificate"),
        ({"use_ssl": True, "certfile": "CERTS.alice.cert", "keyfile": "CERTS.server.key"},
         "does not match certfile"),
        ({"use_ssl": True, "certfile": "CERTS.alice.cert", "keyfile": "CERTS.alice_encrypted_key"},
         "is encrypted: give keyfile_password"),
        ({"use_ssl": True, "certfile": "CERTS.alice.cert", "keyfile": "CERTS.alice_encrypted_key",
          "keyfile_password": "wrong"}, "wrong keyfile_password"),
    ],
)  # fmt: skip
def test_bad_tls_options_are_refused_at_construction(certs, options, says):
    def resolve(value):
        if not isinstance(value, str) or not value.startswith("CERTS."):
            return value
        found = certs
        for part in value.removeprefix("CERTS.").split("."):
            found = getattr(found, part)
        return str(found)

    with pytest.raises(ValueError, match=says):
        Client("127.0.0.1:7181", **{k: resolve(v) for k, v in options.items()})


# ------------------------------------------------------------------ coordctl


def coordctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coord_client.cli", *args],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_coordctl_tls_ca_alone_turns_tls_on(members, certs):
    servers = ["--servers", members.tls.address, "--tls-ca", str(certs.ca)]
    done = coordctl(*servers, "create", "/ctl", "v")
    assert (done.returncode, done.stderr) == (0, ""), done
    done = coordctl(*servers, "--json", "status")
    assert (done.returncode, done.stderr) == (0, ""), done
    assert members.tls.address in done.stdout


def test_coordctl_mutual_tls_from_the_environment(members, certs):
    env = {
        "COORD_SERVERS": members.mutual.address,
        "COORD_TLS_CA": str(certs.ca),
        "COORD_TLS_CERT": str(certs.alice.cert),
        "COORD_TLS_KEY": str(certs.alice.key),
    }
    done = coordctl("ls", "/", env=env)
    assert (done.returncode, done.stderr) == (0, ""), done


def _ctl_flags(options: dict) -> list[str]:
    flags = {"ca": "--tls-ca", "certfile": "--tls-cert", "keyfile": "--tls-key"}
    return [arg for key, flag in flags.items() if key in options for arg in (flag, options[key])]


@pytest.mark.parametrize("command", [["ls", "/"], ["status"]], ids=["session", "unary"])
@pytest.mark.parametrize("case", FAILURES)
def test_coordctl_tls_failure_is_one_line(members, certs, case, command):
    address, options, says = _failures(members, certs)[case]
    says = (
        says.replace("connect with use_ssl=True", "give --tls-ca")
        .replace("ca=", "--tls-ca")
        .replace("certfile= and keyfile=", "--tls-cert and --tls-key")
    )
    done = coordctl("--servers", address, *_ctl_flags(options), *command)
    assert done.returncode == 1, done
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("coordctl: ") and address in lines[0] and says in lines[0], lines
