"""Clients in another language: the Node.js examples in examples/node talk
to a live member with @grpc/grpc-js and the files in protos/ alone
(session.js), and through its ZooKeeper door with node-zookeeper-client,
ZooKeeper's own client for Node.js (zookeeper.js)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.servers import free_port
from tests.tlscerts import Certs, server_flags

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "node"


def run_example(
    address: str, env: dict[str, str] | None = None, script: str = "session.js"
) -> list[str]:
    """An example against `address`: it opens a session, creates, reads and
    watches; what it printed after the session's line."""
    node = shutil.which("node")
    assert node, "Node.js is needed (.ci/run installs the example's packages with npm)"
    assert (EXAMPLE / "node_modules").is_dir(), "run: cd examples/node && npm ci"
    done = subprocess.run(
        [node, str(EXAMPLE / script), address],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("session ")
    return lines[1:]


FROM_NODE = ["created /from-node", "data hello version 0", "event CHANGED /from-node"]


def test_node_session_create_get_and_watch(server):
    assert run_example(server.address) == FROM_NODE


def test_node_zookeeper_client_through_the_zookeeper_door(server_factory):
    port = free_port()
    server_factory("--zk-listen", f"127.0.0.1:{port}")
    assert run_example(f"127.0.0.1:{port}", script="zookeeper.js") == [
        "created /from-node-zk",
        "data hello version 0",
        "event NODE_DATA_CHANGED /from-node-zk",
    ]


def test_node_session_over_mutual_tls(server_factory, tmp_path):
    certs = Certs.make(tmp_path / "certs")
    member = server_factory(*server_flags(certs.server, certs.ca))
    env = {
        "COORD_TLS_CA": str(certs.ca),
        "COORD_TLS_CERT": str(certs.alice.cert),
        "COORD_TLS_KEY": str(certs.alice.key),
    }
    assert run_example(member.address, env) == FROM_NODE
