"""coord-server's flags: what each means, and its value checked as it is
read (a bad one is named in one line, not with the usage screen)."""

from __future__ import annotations

import argparse
import base64
import binascii
from dataclasses import dataclass
from pathlib import Path

from coord.member.limits import Limits
from coord.zk import four_letter

DEFAULT_PORT = 7181


class UsageError(Exception):
    """A flag is wrong; the message says which, in one line."""


def host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


@dataclass(frozen=True)
class MemberAddress:
    """Where a member serves clients and, if apart, its peers."""

    host: str
    port: int
    peer_port: int | None = None

    @property
    def client(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def peer(self) -> str:
        return f"{self.host}:{self.peer_port}" if self.peer_port else self.client


def member_address(text: str) -> MemberAddress:
    """`host:port` or `host:port/peer_port`."""
    client, sep, peer_port = text.partition("/")
    host, port = host_port(client)
    if sep and not (peer_port.isdigit() and 0 < int(peer_port) < 65536):
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT or HOST:PORT/PEER_PORT")
    return MemberAddress(host, port, int(peer_port) if sep else None)


def members(text: str) -> dict[int, MemberAddress]:
    """`1=host:port,2=host:port,...`, each optionally `/peer_port`"""
    parsed: dict[int, MemberAddress] = {}
    for item in text.split(","):
        ident, sep, address = item.partition("=")
        if not sep or not ident.strip().isdigit() or int(ident) < 1:
            raise argparse.ArgumentTypeError(f"{item!r} is not ID=HOST:PORT with ID >= 1")
        if int(ident) in parsed:
            raise argparse.ArgumentTypeError(f"member {ident} is listed twice")
        parsed[int(ident)] = member_address(address.strip())
    return parsed


def port_or_zero(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535)")
    return int(text)


def port_or_off(text: str) -> int | None:
    return None if text == "off" else port_or_zero(text)


def positive(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def four_letter_words(text: str) -> frozenset[str]:
    if text == "*":
        return four_letter.WORDS
    words = frozenset(word.strip() for word in text.split(",") if word.strip())
    unknown = sorted(words - four_letter.WORDS)
    if unknown:
        raise argparse.ArgumentTypeError(f"not a four-letter word of ZooKeeper's: {unknown[0]}")
    return words


def digest(text: str) -> str:
    """A digest id, `user:BASE64(SHA1("user:password"))`, as ZooKeeper's
    superDigest: a password given in its place would be a mistake."""
    user, _, hashed = text.partition(":")
    try:
        raw = base64.b64decode(hashed, validate=True)
    except binascii.Error:
        raw = b""
    if not user or len(raw) != 20:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not user:BASE64(SHA1(user:password)) (ZooKeeper's digest form)"
        )
    return text


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        """One line, not the usage screen: bad flags are named, that is all."""
        self.exit(2, f"{self.prog}: {message}\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="coord-server", description="Run one coord member.")
    p.add_argument("--id", type=positive, default=1, help="this member's id (default 1)")
    p.add_argument(
        "--members", type=members,
        help="ID=HOST:PORT[/PEER_PORT],... the same on every member",
    )  # fmt: skip
    p.add_argument("--data-dir", type=Path, default=Path("coord-data"))
    p.add_argument("--listen", type=host_port, help="HOST:PORT (default: this member's address)")
    p.add_argument(
        "--peer-listen", type=host_port,
        help="serve peers and admin on this HOST:PORT only (default: this member's PEER_PORT)",
    )  # fmt: skip
    p.add_argument(
        "--link-port", type=port_or_zero, default=0,
        help="other members' replication links come in on this port, on the peer door's"
        " host (default 0: a free one, which members learn through the peer door)",
    )  # fmt: skip
    p.add_argument(
        "--cluster-secret-file", type=Path,
        help="members prove to each other that they hold the secret in this file (mode 0600)",
    )  # fmt: skip
    p.add_argument("--peer-tls-cert", type=Path, help="this member's certificate (PEM)")
    p.add_argument("--peer-tls-key", type=Path, help="its private key (PEM)")
    p.add_argument("--peer-tls-ca", type=Path, help="the CA every member's certificate is of")
    p.add_argument(
        "--insecure-peers", action="store_true",
        help="let members (and anyone reaching the peer port) in unauthenticated",
    )  # fmt: skip
    p.add_argument("--min-session-timeout-ms", type=positive, default=2000)
    p.add_argument("--max-session-timeout-ms", type=positive, default=60000)
    p.add_argument("--max-data-bytes", type=positive, default=1 << 20)
    limits = Limits()
    for flag, text in (
        ("--max-request-bytes", "the largest request a client may send (jute.maxbuffer)"),
        ("--max-sessions", "sessions this member serves at once"),
        ("--max-sessions-per-ip", "sessions from one client address (maxClientCnxns)"),
        ("--max-outstanding-per-session", "requests in flight past which a session is not read"),
        ("--max-unread-bytes", "bytes waiting for a client that does not read: it is cut off"),
        ("--max-watches-per-session", "watches one session may hold here"),
        ("--max-multi-ops", "ops in one transaction"),
        ("--max-path-bytes", "bytes in a written or watched path"),
        ("--max-path-depth", "segments in a written path (bounds what make-parents makes)"),
    ):
        default = getattr(limits, flag[2:].replace("-", "_"))
        p.add_argument(flag, type=positive, default=default, help=f"{text} (default {default})")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--heartbeat-ms", type=positive, default=100, help="leader heartbeat period")
    p.add_argument(
        "--election-timeout-ms", type=positive, default=1000,
        help="a follower that hears no leader for a random time in [T, 2T] runs for leader",
    )  # fmt: skip
    p.add_argument(
        "--request-timeout-ms", type=positive, default=6000,
        help="a write no leader has taken by then fails with connection loss (and never applies)",
    )  # fmt: skip
    p.add_argument(
        "--enable-fault-injection", action="store_true",
        help="serve Admin.SetFaults (partitions, drops, delays, clock skew): for tests only",
    )  # fmt: skip
    p.add_argument(
        "--superuser-digest", type=digest, metavar="USER:BASE64",
        help="the super user's digest id (ZooKeeper's superDigest): it bypasses every ACL",
    )  # fmt: skip
    p.add_argument(
        "--log-retention", type=positive, default=10_000,
        help="applied log slots kept for lagging members; further behind takes a snapshot",
    )  # fmt: skip
    p.add_argument("--tls-cert", type=Path, help="PEM certificate (chain): serve clients with TLS")
    p.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert (unencrypted)")
    p.add_argument(
        "--tls-ca", type=Path,
        help="PEM CA certificate(s): clients must present a certificate it signed (mutual TLS)",
    )  # fmt: skip
    p.add_argument(
        "--session-port", type=port_or_off, default=0, metavar="PORT|off",
        help="clients' sessions without gRPC come in on this port, on the --listen host"
        " (default 0: a free one, which clients learn through Coord.SessionPort)",
    )  # fmt: skip
    p.add_argument(
        "--zk-listen", type=host_port, metavar="HOST:PORT",
        help="also serve ZooKeeper's own client protocol here (kazoo, zkCli.sh, Curator)",
    )  # fmt: skip
    every, default = (",".join(sorted(w)) for w in (four_letter.WORDS, four_letter.DEFAULT_WORDS))
    p.add_argument(
        "--zk-4lw", type=four_letter_words, default=four_letter.DEFAULT_WORDS, metavar="WORDS",
        help=f"the four-letter words answered there, comma-separated, or * for all of {every}"
        f" (default {default})",
    )  # fmt: skip
    return p
