"""A client in another language: the Node.js example in examples/node talks
to a live member with @grpc/grpc-js and the files in protos/ alone."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.tlscerts import Certs, server_flags

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "node"


def run_example(address: str, env: dict[str, str] | None = None) -> None:
    """session.js against `address`: it opens a session, creates, reads and watches."""
    node = shutil.which("node")
    assert node, "Node.js is needed (.ci/run installs the example's packages with npm)"
    assert (EXAMPLE / "node_modules").is_dir(), "run: cd examples/node && npm ci"
    done = subprocess.run(
        [node, str(EXAMPLE / "session.js"), address],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("session ")
    assert lines[1:] == [
        "created /from-node",
        "data hello version 0",
        "event CHANGED /from-node",
    ]


def test_node_session_create_get_and_watch(server):
    run_example(server.address)


def test_node_session_over_mutual_tls(server_factory, tmp_path):
    certs = Certs.make(tmp_path / "certs")
    member = server_factory(*server_flags(certs.server, certs.ca))
    env = {
        "COORD_TLS_CA": str(certs.ca),
        "COORD_TLS_CERT": str(certs.alice.cert),
        "COORD_TLS_KEY": str(certs.alice.key),
    }
    run_example(member.address, env)
