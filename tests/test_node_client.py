"""A client in another language: the Node.js example in examples/node talks
to a live member with @grpc/grpc-js and the files in protos/ alone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "node"


def test_node_session_create_get_and_watch(server):
    node = shutil.which("node")
    assert node, "Node.js is needed (.ci/run installs the example's packages with npm)"
    assert (EXAMPLE / "node_modules").is_dir(), "run: cd examples/node && npm ci"
    done = subprocess.run(
        [node, str(EXAMPLE / "session.js"), server.address],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("session ")
    assert lines[1:] == [
        "created /from-node",
        "data hello version 0",
        "event CHANGED /from-node",
    ]
