"""coord-cluster: a local cluster of N members on one machine, in one command
(README, "Operating a cluster").

Starts --size members as child processes on consecutive ports, waits until
they have a leader, prints the connect string (and, with --zk-base-port,
ZooKeeper clients' on a second line), and stops them all (by PID)
on Ctrl-C or SIGTERM. The members prove to each other a secret made for the
cluster on its first start, kept in DATA_DIR/cluster-secret (mode 0600).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc

from coord.flags import UsageError, positive
from coord.rpc.peer_auth import write_new_secret
from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc

LEADER_WAIT_S = 30.0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="coord-cluster", description="Run a local coord cluster.")
    p.add_argument("--size", type=positive, default=3)
    p.add_argument("--base-port", type=positive, default=7181)
    p.add_argument("--data-dir", type=Path, default=Path("coord-data"))
    p.add_argument(
        "--zk-base-port", type=positive,
        help="members also serve ZooKeeper's protocol from this port on (coord-server --zk-listen)",
    )  # fmt: skip
    return p


def leader_of(addresses: list[str]) -> int | None:
    """The leader every reachable member agrees on, if any."""
    for address in addresses:
        try:
            with grpc.insecure_channel(address) as channel:
                reply = client_pb2_grpc.CoordStub(channel).Status(pb.StatusRequest(), timeout=2)
        except grpc.RpcError:
            continue
        leaders = {m.id for m in reply.members if m.role == "leader"}
        if len(leaders) == 1:
            return leaders.pop()
    return None


def cluster_secret(data_dir: Path) -> Path:
    """The cluster's secret file, made on first use."""
    path = data_dir / "cluster-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        write_new_secret(path)
    return path


def zk_addresses(args: argparse.Namespace) -> list[str]:
    """Where the members serve ZooKeeper's protocol (none without --zk-base-port)."""
    if not args.zk_base_port:
        return []
    return [f"127.0.0.1:{args.zk_base_port + i}" for i in range(args.size)]


def start_members(
    args: argparse.Namespace, secret: Path
) -> tuple[list[subprocess.Popen], list[str]]:
    addresses = [f"127.0.0.1:{args.base_port + i}" for i in range(args.size)]
    zk = (
        [f"127.0.0.1:{args.zk_base_port + i}" for i in range(args.size)]
        if args.zk_base_port
        else []
    )
    members = ",".join(f"{i + 1}={address}" for i, address in enumerate(addresses))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "coord.cli",
                "--id",
                str(i + 1),
                "--members",
                members,
                "--data-dir",
                str(args.data_dir / f"member{i + 1}"),
                "--cluster-secret-file",
                str(secret),
                *(["--zk-listen", zk[i]] if zk else []),
            ]
        )  # fmt: skip
        for i in range(args.size)
    ]
    return procs, addresses


def stop_members(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cluster_main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    for flag, port in (("--base-port", args.base_port), ("--zk-base-port", args.zk_base_port)):
        if port and port + args.size > 65536:
            raise SystemExit(f"coord-cluster: {flag} leaves no room for --size members")
    try:
        secret = cluster_secret(args.data_dir)
    except OSError as err:
        raise SystemExit(f"coord-cluster: cannot make the cluster secret: {err}") from None
    procs, addresses = start_members(args, secret)
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        deadline = time.monotonic() + LEADER_WAIT_S
        while leader_of(addresses) is None:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise UsageError("the members did not elect a leader (see their output above)")
            time.sleep(0.1)
        print(",".join(addresses), flush=True)
        if args.zk_base_port:
            print("ZooKeeper clients:", ",".join(zk_addresses(args)), flush=True)
        reported: set[int] = set()
        while not stopping and any(p.poll() is None for p in procs):
            for member, proc in enumerate(procs, start=1):
                if proc.poll() is not None and member not in reported:
                    reported.add(member)
                    code = proc.returncode
                    print(f"coord-cluster: member {member} exited ({code})", file=sys.stderr)
            time.sleep(0.2)
    except UsageError as err:
        print(f"coord-cluster: {err}", file=sys.stderr)
        stop_members(procs)
        sys.exit(1)
    stop_members(procs)


if __name__ == "__main__":
    cluster_main()
