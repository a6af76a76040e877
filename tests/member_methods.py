"""Every method a member serves to other members and to admins, found by
compiling every .proto under protos/ now: a new RPC is attacked by the tests
the day it is added. And a way to call any of them with raw bytes."""

from __future__ import annotations

import functools
import importlib.resources
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2

PROTOS = Path(__file__).resolve().parent.parent / "protos"
CLIENT_SERVICE = "coord.v1.Coord"  # the one service every client may call


@dataclass(frozen=True)
class Method:
    path: str  # /package.Service/Name, as gRPC routes it
    client_streaming: bool
    server_streaming: bool

    @property
    def service(self) -> str:
        return self.path.split("/")[1]


@functools.cache
def member_methods() -> tuple[Method, ...]:
    """Every method of every service in protos/ except the client API."""
    includes = importlib.resources.files("grpc_tools") / "_proto"
    with tempfile.TemporaryDirectory() as out:
        descriptor_set = Path(out) / "all.pb"
        protos = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
        subprocess.run(
            [
                sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTOS}", f"-I{includes}",
                f"--descriptor_set_out={descriptor_set}", *protos,
            ],
            check=True, cwd=PROTOS,
        )  # fmt: skip
        files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    return tuple(
        Method(f"/{f.package}.{s.name}/{m.name}", m.client_streaming, m.server_streaming)
        for f in files.file
        for s in f.service
        if f"{f.package}.{s.name}" != CLIENT_SERVICE
        for m in s.method
    )


def call(
    channel: grpc.Channel,
    method: Method,
    request: bytes,
    metadata: Sequence[tuple[str, str]] = (),
    timeout: float = 10.0,
) -> tuple[grpc.StatusCode, str]:
    """Call `method` with one request (its serialized bytes); its status
    code and details."""
    kind = {
        (False, False): channel.unary_unary,
        (True, False): channel.stream_unary,
        (False, True): channel.unary_stream,
        (True, True): channel.stream_stream,
    }[method.client_streaming, method.server_streaming]
    rpc = kind(method.path)
    try:
        answer = rpc(iter([request]) if method.client_streaming else request,
                     metadata=tuple(metadata), timeout=timeout)  # fmt: skip
        if method.server_streaming:
            list(answer)
    except grpc.RpcError as err:
        return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""
