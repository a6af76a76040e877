"""The committed protobuf/gRPC modules match protos/: regenerate and compare."""

import filecmp
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATED = [
    "client/coord_api/wire/client_pb2.py",
    "client/coord_api/wire/client_pb2.pyi",
    "client/coord_api/wire/client_pb2_grpc.py",
    "coord/wire/log_pb2.py",
    "coord/wire/log_pb2.pyi",
    "coord/wire/peer_pb2.py",
    "coord/wire/peer_pb2.pyi",
    "coord/wire/peer_pb2_grpc.py",
    "coord/wire/admin_pb2.py",
    "coord/wire/admin_pb2.pyi",
    "coord/wire/admin_pb2_grpc.py",
]


def test_generated_modules_match_protos(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "protos", copy / "protos")
    shutil.copytree(ROOT / "scripts", copy / "scripts")
    for name in GENERATED:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["bash", str(copy / "scripts" / "gen_protos")], check=True)
    drifted = [
        name for name in GENERATED if not filecmp.cmp(ROOT / name, copy / name, shallow=False)
    ]
    assert not drifted, f"regenerate with scripts/gen_protos: {drifted} differ from protos/"
