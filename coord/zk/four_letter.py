"""ZooKeeper's four-letter words: a connection whose first four bytes are
one of these, instead of a frame's length, is answered in text and closed
(what `zkServer.sh status`, monitoring scripts and `echo ruok | nc` send).

Only the words --zk-4lw lets in are answered (by default ruok, isro and
srvr, as ZooKeeper's 4lw.commands.whitelist lets in srvr alone): the others
tell who is connected (cons, stat, wchs) or how the machine is set up
(conf, envi). A word not let in is answered as ZooKeeper answers it. Pure:
the door gathers the `Facts`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

WORDS = frozenset({"ruok", "isro", "srvr", "stat", "mntr", "conf", "envi", "cons", "wchs"})
DEFAULT_WORDS = frozenset({"ruok", "isro", "srvr"})
WATCH_WORDS = frozenset({"mntr", "wchs"})  # these count the watches: a walk over all of them


@dataclass(frozen=True)
class Connection:
    """One ZooKeeper client's connection, as cons and stat list it."""

    peer: str  # ip:port
    session_id: int
    timeout_ms: int
    queued: int  # requests not yet answered
    received: int
    sent: int


@dataclass(frozen=True)
class Facts:
    """What the words tell, as the door found it when asked."""

    version: str
    mode: str  # leader, follower or standalone
    read_only: bool  # the member cannot write its data dir
    zxid: int
    znodes: int
    latency_ms: tuple[float, float, float]  # min, avg, max of the door's requests
    received: int  # frames, through this door
    sent: int
    connections: list[Connection]
    watchers: int  # sessions holding watches, either door's (WATCH_WORDS only)
    watched_paths: int
    watches: int
    config: dict[str, str | int] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)


def parse(head: bytes) -> str | None:
    """The word, if the first four bytes of a connection are one."""
    word = head.decode("ascii", errors="replace")
    return word if word in WORDS else None


def answer(word: str, allowed: frozenset[str], facts: Callable[[], Facts]) -> str:
    """The answer to `word`; `facts` is asked only when the word tells any."""
    if word not in allowed:
        return f"{word} is not executed because it is not in the whitelist.\n"
    if word == "ruok":
        return "imok"
    return _ANSWERS[word](facts())


def _server(f: Facts, clients: bool) -> str:
    low, mean, high = f.latency_ms
    lines = [f"Zookeeper version: {f.version}"]
    if clients:
        lines += ["Clients:", *(_client(c, brief=True) for c in f.connections), ""]
    lines += [
        f"Latency min/avg/max: {low:.0f}/{mean:.4f}/{high:.0f}",
        f"Received: {f.received}",
        f"Sent: {f.sent}",
        f"Connections: {len(f.connections)}",
        f"Outstanding: {sum(c.queued for c in f.connections)}",
        f"Zxid: 0x{f.zxid:x}",
        f"Mode: {f.mode}",
        f"Node count: {f.znodes}",
    ]
    return "\n".join(lines) + "\n"


def _client(c: Connection, brief: bool) -> str:
    line = f" /{c.peer}[1](queued={c.queued},recved={c.received},sent={c.sent}"
    if not brief:
        line += f",sid=0x{c.session_id:x},to={c.timeout_ms}"
    return line + ")"


def _mntr(f: Facts) -> str:
    low, mean, high = f.latency_ms
    pairs = {
        "zk_version": f.version,
        "zk_server_state": f.mode,
        "zk_avg_latency": f"{mean:.4f}",
        "zk_max_latency": f"{high:.0f}",
        "zk_min_latency": f"{low:.0f}",
        "zk_packets_received": f.received,
        "zk_packets_sent": f.sent,
        "zk_num_alive_connections": len(f.connections),
        "zk_outstanding_requests": sum(c.queued for c in f.connections),
        "zk_znode_count": f.znodes,
        "zk_watch_count": f.watches,
    }
    return "".join(f"{key}\t{value}\n" for key, value in pairs.items())


def _listing(pairs: dict[str, str | int], title: str = "") -> str:
    return title + "".join(f"{key}={value}\n" for key, value in pairs.items())


_ANSWERS = {
    "isro": lambda f: "ro" if f.read_only else "rw",
    "srvr": lambda f: _server(f, clients=False),
    "stat": lambda f: _server(f, clients=True),
    "mntr": _mntr,
    "conf": lambda f: _listing(f.config),
    "envi": lambda f: _listing(f.environment, "Environment:\n"),
    "cons": lambda f: "".join(_client(c, brief=False) + "\n" for c in f.connections) + "\n",
    "wchs": lambda f: (
        f"{f.watchers} connections watching {f.watched_paths} paths\nTotal watches:{f.watches}\n"
    ),
}
