"""A real standalone Apache ZooKeeper from Debian's `zookeeper` package, for
tests that hold coord to ZooKeeper's own behaviour: one JVM on a free
loopback port with a temporary data directory, the four-letter words and the
admin web server off, stopped by its PID. Also the addWatch request kazoo
lacks, so that kazoo can drive ZooKeeper's persistent watches."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections import defaultdict, namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient
from kazoo.protocol.serialization import int_struct, write_string

from tests.servers import free_port

ZK_JAR = Path("/usr/share/java/zookeeper.jar")  # its manifest's Class-Path names the rest
SLF4J_SIMPLE = Path("/usr/share/java/slf4j-simple.jar")  # the server's log, to a file
CLASSPATH = f"{ZK_JAR}:{SLF4J_SIMPLE}"
# Netty's codec and resolver, which the TLS port needs and the jar's manifest omits
NETTY = [Path(f"/usr/share/java/netty-{name}.jar") for name in ("codec", "resolver")]
JAVA = "java"


def unavailable() -> str | None:
    """Why Debian's ZooKeeper cannot run here, or None when it can."""
    if not ZK_JAR.exists():
        return f"{ZK_JAR} is missing (apt-get install zookeeper)"
    try:
        subprocess.run([JAVA, "-version"], capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        return f"no working java: {error}"
    return None


def cli(address: str, *command: str) -> str:
    """What ZooKeeper's own Java client (zkCli's ZooKeeperMain) prints for
    one command against `address`."""
    done = subprocess.run(
        [JAVA, "-cp", CLASSPATH, "org.apache.zookeeper.ZooKeeperMain", "-server", address,
         *command],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done.stdout + done.stderr


def digest_ids(*credentials: str) -> dict[str, str]:
    """ZooKeeper's own digest id for each `user:password` credential, from its
    DigestAuthenticationProvider's command line (`user:password->user:HASH`)."""
    done = subprocess.run(
        [JAVA, "-cp", CLASSPATH, "org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
         *credentials],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    pairs = (line.split("->", 1) for line in done.stdout.splitlines() if "->" in line)
    return dict(pairs)


@dataclass(frozen=True)
class Tls:
    """A TLS client port: the server's PKCS#8 key and certificate chain in one
    PEM file (ZooKeeper's PEM key store), and the CA client certificates must
    be of (mutual TLS: each client's subject becomes its x509 id)."""

    key_and_chain: Path
    ca: Path


@dataclass
class ZooKeeper:
    """One standalone ZooKeeperServerMain JVM under `root`; with `tls`, a
    TLS port beside the plain one (`tls_address`)."""

    root: Path
    superdigest: str  # `user:BASE64`, ZooKeeper's superDigest
    tls: Tls | None = None
    port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def tls_address(self) -> str:
        return f"127.0.0.1:{self.tls_port}"

    @property
    def log_path(self) -> Path:
        return self.root / "zookeeper.log"

    def configure(self) -> Path:
        """zoo.cfg: loopback only, a temporary data dir, no 4lw, no admin server."""
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.root / "zoo.cfg"
        lines = [
            "tickTime=2000",
            f"dataDir={data}",
            f"clientPort={self.port}",
            "clientPortAddress=127.0.0.1",
            "admin.enableServer=false",
            "4lw.commands.whitelist=",
        ]
        if self.tls:
            lines += [f"secureClientPort={self.tls_port}", "secureClientPortAddress=127.0.0.1"]
        config.write_text("\n".join(lines) + "\n")
        return config

    def start(self, timeout: float = 60.0) -> ZooKeeper:
        """Start the JVM and return once it opens a session."""
        config = self.configure()
        command = [
            JAVA, "-Xmx256m", "-cp", ":".join([CLASSPATH, *map(str, NETTY)]),
            f"-Dzookeeper.DigestAuthenticationProvider.superDigest={self.superdigest}",
            "-Dzookeeper.admin.enableServer=false",
            # x509 ids, as coord always has them (without TLS none match)
            "-Dzookeeper.authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider",
            *(self.tls_properties() if self.tls else []),
            "org.apache.zookeeper.server.ZooKeeperServerMain", str(config),
        ]  # fmt: skip
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not (self.accepts() and self.answers()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("ZooKeeper did not start:\n" + self.log_path.read_text())
            time.sleep(0.05)  # polling a port: there is no event to await
        return self

    def tls_properties(self) -> list[str]:
        """Netty (the TLS port needs it) and the key and trust stores, PEM."""
        assert self.tls is not None
        return [
            "-Dzookeeper.serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
            f"-Dzookeeper.ssl.keyStore.location={self.tls.key_and_chain}",
            "-Dzookeeper.ssl.keyStore.type=PEM",
            f"-Dzookeeper.ssl.trustStore.location={self.tls.ca}",
            "-Dzookeeper.ssl.trustStore.type=PEM",
        ]

    def answers(self) -> bool:
        """A session can be opened (the port is bound before the server serves)."""
        client = KazooClient(hosts=self.address)
        try:
            client.start(timeout=5)
        except Exception:  # kazoo's timeout, or the connection refused
            return False
        finally:
            client.stop()
            client.close()
        return True

    def accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM by PID, SIGKILL if the JVM has not gone in 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class AddWatch(namedtuple("AddWatch", "path mode")):
    """ZooKeeper 3.6's addWatch request (opcode 106), which kazoo 2.11 lacks;
    its reply has no body."""

    type = 106
    PERSISTENT_RECURSIVE = 1

    def serialize(self) -> bytearray:
        return bytearray(write_string(self.path) + int_struct.pack(self.mode))

    @classmethod
    def deserialize(cls, buffer: bytes, offset: int) -> bool:
        return True


class PersistentWatchers(defaultdict):
    """kazoo's one-shot data watchers by path, which its connection pops on
    every CREATED, CHANGED or DELETED event, plus persistent recursive ones,
    which such an event on their path or below it reaches and leaves in place."""

    def __init__(self, one_shot: dict[str, set], persistent: list[tuple[str, Callable]]) -> None:
        super().__init__(set, one_shot)
        self.persistent = persistent

    def pop(self, path: str, *default: Any) -> list[Callable]:
        below = (w for root, w in self.persistent if path == root or path.startswith(f"{root}/"))
        return [*super().pop(path, *default), *below]


class ZkClient(KazooClient):
    """kazoo's client plus a persistent recursive `add_watch` with
    coord_client's signature, so that the same code watches both."""

    def add_watch(self, path: str, watch: Callable, recursive: bool = False) -> None:
        if not recursive:
            raise NotImplementedError("only recursive persistent watches are routed")
        if not isinstance(self._data_watchers, PersistentWatchers):
            self._data_watchers = PersistentWatchers(self._data_watchers, [])
        entry = (path.rstrip("/"), watch)  # "/" watches every path: "" + "/" prefixes all
        self._data_watchers.persistent.append(entry)  # before the reply: no event is missed
        result = self.handler.async_result()
        self._call(AddWatch(path, AddWatch.PERSISTENT_RECURSIVE), result)
        try:
            result.get()
        except Exception:
            self._data_watchers.persistent.remove(entry)
            raise
