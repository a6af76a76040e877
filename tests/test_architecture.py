"""The house of ARCHITECTURE.md, checked: the import contracts in
pyproject.toml hold (import-linter), a planted break of each is caught, and
the SDK builds and imports on its own, without the server or plyvel."""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVER_ONLY = ("plyvel", "uvloop")  # the member's disk and its event loop


LINT = "import sys, importlinter.cli as cli; sys.exit(cli.lint_imports_command())"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter on the tree at `root`, its packages ahead of any installed copy."""
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'client'}"}
    return subprocess.run(
        [sys.executable, "-c", LINT, "--config", str(root / "pyproject.toml")],
        cwd=root, env=env, capture_output=True, text=True,
    )  # fmt: skip


def test_the_import_contracts_hold() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("client/coord_api/paths.py", "import coord.tree", "the shared API imports neither side"),
        ("client/coord_client/stat.py", "import coord.acl", "the SDK never imports the server"),
        ("coord/acl.py", "import asyncio", "the pure core does no I/O"),
        ("coord/paxos/ballot.py", "import grpc", "the pure core does no I/O"),
        (
            "coord/member/intake.py",
            "import plyvel",
            "the member's stages reach the disk and the peers only through its ports",
        ),
        (
            "coord/member/reads.py",
            "import coord.rpc.guard",
            "the member's stages reach the disk and the peers only through its ports",
        ),
        (
            "coord/member/log.py",
            "import coord.storage",
            "the member's stages reach the disk and the peers only through its ports",
        ),
        ("coord/member/driver.py", "import asyncio", "the driver runs on any thread: no asyncio"),
        (
            "coord/session/session.py",
            "import grpc",
            "a client session's protocol knows no transport",
        ),
        (
            "coord/session/ops.py",
            "import coord.rpc.callers",
            "a client session's protocol knows no transport",
        ),
        ("coord/zk/translate.py", "import coord.rpc.guard", "the ZooKeeper door knows no gRPC"),
        ("coord/framed/door.py", "import grpc", "the session port knows no gRPC"),
    ],
)
def test_a_planted_import_breaks_its_contract(
    tmp_path: Path, module: str, planted: str, contract: str
) -> None:
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(ROOT / "pyproject.toml", copy)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    shutil.copytree(ROOT / "coord", copy / "coord", ignore=ignore)
    shutil.copytree(ROOT / "client", copy / "client", ignore=ignore)
    target = copy / module
    target.write_text(target.read_text() + f"\n{planted}  # planted\n")
    done = lint_imports(copy)
    assert done.returncode != 0
    assert f"{contract} BROKEN" in done.stdout, done.stdout


IMPORT_ALL = """
import importlib, pkgutil, sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("coord", "plyvel"):
            raise ImportError(f"the SDK imported {name}")
        return None

sys.meta_path.insert(0, Refuse())
sys.path.insert(0, sys.argv[1])
import coord_api, coord_client
names = []
for package in (coord_api, coord_client):
    for found in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        names.append(found.name)
for name in names:
    module = importlib.import_module(name)
    assert module.__file__.startswith(sys.argv[1]), (name, module.__file__)
from coord_client import KazooClient
from coord_client.aio import Client
print(len(names))
"""


def test_the_sdk_builds_and_imports_without_the_server(tmp_path: Path) -> None:
    """client/pyproject.toml builds a wheel of coord_api and coord_client
    alone, needing no plyvel; every module of it imports with the server
    and plyvel made unimportable."""
    source = tmp_path / "client"
    shutil.copytree(
        ROOT / "client", source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = wheels.glob("coord_client-*.whl")
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
        tops = {name.split("/")[0] for name in archive.namelist()}
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        requires = email.parser.Parser().parsestr(archive.read(metadata).decode())
    assert {top for top in tops if not top.endswith(".dist-info")} == {"coord_api", "coord_client"}
    needs = [req.split(">")[0].split("=")[0] for req in requires.get_all("Requires-Dist")]
    assert not any(name in needs for name in SERVER_ONLY) and "grpcio" in needs
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, str(unpacked)],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 40


def test_the_sdk_needs_what_the_whole_needs_but_the_servers_own() -> None:
    """client/pyproject.toml repeats the top-level dependency list (one
    repo, two distributions) but for what only the server needs: the two
    may not drift apart."""

    def needs(path: Path) -> set[str]:
        return set(tomllib.loads(path.read_text())["project"]["dependencies"])

    whole = needs(ROOT / "pyproject.toml")
    sdk = needs(ROOT / "client" / "pyproject.toml")
    assert sdk == {need for need in whole if not need.startswith(SERVER_ONLY)}
