"""The member's disk, for real: a small tmpfs mounted as the data dir fills
up under a write load, and a data dir is corrupted on purpose.

A full disk refuses writes with NOT_READ_ONLY (the SDK's
NotReadOnlyCallError) and a message saying the disk is full and the write
was not applied (and it is not), reads go on, the log says so once, and
writes resume by themselves when space returns; every acknowledged write is
there, also after a restart. A
corrupted data dir stops the member at start with one line naming it and
what to do.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from coord_api.wire import client_pb2 as pb
from coord_api.wire import client_pb2_grpc
from coord_client import Client
from coord_client.exceptions import NotReadOnlyCallError
from tests.servers import Cluster, ServerProcess
from tests.test_server_cli import assert_one_line_error, run_server

RPC_TIMEOUT = 10.0
TMPFS_SIZE = "24m"
FULL = "the disk is full"


@contextmanager
def small_disk(mount_point: Path) -> Iterator[Path]:
    """A tmpfs of TMPFS_SIZE mounted at `mount_point`; skips the test, with
    the reason, where mounting is not allowed."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("no mount/umount command")
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "coord-test", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no room left; the file is returned."""
    filler = disk / "filler"
    chunk = b"\0" * (1 << 16)
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as err:
            assert err.errno == errno.ENOSPC, err
        try:  # the last bytes that still fit
            while True:
                out.write(b"\0")
        except OSError as err:
            assert err.errno == errno.ENOSPC, err
    return filler


@dataclass
class Writer:
    """Creates /load/<prefix><i>, one after another, and sorts out the outcomes."""

    address: str
    prefix: str = "n"
    acked: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # said: not applied
    unknown: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    progress: threading.Condition = field(default_factory=threading.Condition)

    def run(self) -> None:
        with grpc.insecure_channel(self.address) as channel:
            stub = client_pb2_grpc.CoordStub(channel)
            i = 0
            while not self.stop.is_set():
                path = f"/load/{self.prefix}{i}"
                i += 1
                try:
                    stub.Create(pb.CreateRequest(path=path, data=b"x" * 200), timeout=RPC_TIMEOUT)
                    outcome = self.acked
                except grpc.RpcError as err:
                    details = err.details() or ""
                    self.messages.append(details)
                    refused = details.startswith("NOT_READ_ONLY:")
                    assert not refused or "the write was not applied" in details, details
                    outcome = self.refused if refused else self.unknown
                with self.progress:
                    outcome.append(path)
                    self.progress.notify_all()

    def wait_for(self, outcome: list[str], count: int, timeout: float = 60.0) -> None:
        with self.progress:
            assert self.progress.wait_for(lambda: len(outcome) >= count, timeout), (
                f"waited for {count}, have {len(outcome)}: {self.messages[-3:]}"
            )


@contextmanager
def writing(address: str, prefix: str = "n") -> Iterator[Writer]:
    """A Writer at work on its own thread for the duration."""
    writer = Writer(address, prefix)
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    try:
        yield writer
    finally:
        writer.stop.set()
        thread.join(RPC_TIMEOUT + 5)


def start_with_load(data_dir: Path) -> ServerProcess:
    """A member on `data_dir`, with /load created."""
    server = ServerProcess(data_dir=data_dir).start()
    with grpc.insecure_channel(server.address) as channel:
        stub = client_pb2_grpc.CoordStub(channel)
        stub.Create(pb.CreateRequest(path="/load"), timeout=RPC_TIMEOUT)
    return server


def assert_outcomes_kept(writer: Writer, address: str) -> None:
    """Every acknowledged create is there, none said not applied is."""
    present = children(address)
    assert not set(writer.acked) - present, "acknowledged writes are missing"
    assert not set(writer.refused) & present, "writes said not applied were applied"


def children(address: str) -> set[str]:
    with grpc.insecure_channel(address) as channel:
        stub = client_pb2_grpc.CoordStub(channel)
        got = stub.GetChildren(pb.GetChildrenRequest(path="/load"), timeout=RPC_TIMEOUT)
    return {f"/load/{name}" for name in got.children}


def test_full_disk_refuses_writes_serves_reads_and_resumes(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        server = start_with_load(disk / "data")
        try:
            with writing(server.address) as writer:
                writer.wait_for(writer.acked, 100)
                zk = Client(server.address)  # a session is a write: opened before
                zk.start(timeout=RPC_TIMEOUT)
                try:
                    filler = fill(disk)
                    writer.wait_for(writer.refused, 50)
                    assert any(FULL in message for message in writer.messages)
                    # Reads go on while writes are refused, for the SDK too.
                    assert zk.get(writer.acked[0])[0] == b"x" * 200
                    assert zk.exists("/load") is not None
                    with pytest.raises(NotReadOnlyCallError, match=FULL):
                        zk.create("/sdk-write", b"v")
                    assert zk.exists("/sdk-write") is None
                finally:
                    zk.stop()
                assert set(writer.acked) <= children(server.address)

                filler.unlink()  # space returns: writes resume, no restart
                writer.wait_for(writer.acked, len(writer.acked) + 100)
            log = "\n".join(server.output)
            assert log.count(FULL) == 1, log
            assert "can be written again" in log, log
            assert "Traceback" not in log, log
            assert_outcomes_kept(writer, server.address)

            server.kill()  # and everything acknowledged is on disk
            server.start()
            assert_outcomes_kept(writer, server.address)
        finally:
            server.stop()


def test_killed_while_the_disk_is_full(tmp_path):
    """Killed while its disk is full, the member does not start until there
    is room (one line saying so), then starts with every acknowledged write
    and none it said was not applied."""
    with small_disk(tmp_path / "disk") as disk:
        server = start_with_load(disk / "data")
        try:
            with writing(server.address) as writer:
                writer.wait_for(writer.acked, 100)
                filler = fill(disk)
                writer.wait_for(writer.refused, 20)
            server.kill()
            result = run_server("--listen", server.address, "--data-dir", str(server.data_dir))
            assert_one_line_error(result, str(server.data_dir), FULL)

            filler.unlink()
            server.start()
            assert_outcomes_kept(writer, server.address)
        finally:
            server.stop()


# ---------------------------------------------------------- corruption


def make_data_dir(tmp_path: Path) -> Path:
    """A data dir a member wrote, stopped cleanly and started once more (so
    its records are in table files, not only in LevelDB's log)."""
    data_dir = tmp_path / "data"
    for _ in range(2):
        server = ServerProcess(data_dir=data_dir).start()
        try:
            with grpc.insecure_channel(server.address) as channel:
                stub = client_pb2_grpc.CoordStub(channel)
                for i in range(50):
                    stub.Create(pb.CreateRequest(path=f"/n{i}-", data=b"d" * 500, sequential=True))
        finally:
            assert server.stop() == 0
    return data_dir


def start_refused(data_dir: Path) -> str:
    port = ServerProcess(data_dir=data_dir).port
    result = run_server("--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir))
    assert result.returncode == 2, result
    line = assert_one_line_error(result, str(data_dir), "corrupted")
    assert "restore it from a backup" in line and "resyncs from its peers" in line, line
    return line


def test_corrupted_table_file_is_one_line(tmp_path):
    data_dir = make_data_dir(tmp_path)
    tables = sorted(data_dir.glob("*.ldb"))
    assert tables, list(data_dir.iterdir())
    for table in tables:
        raw = bytearray(table.read_bytes())
        middle = len(raw) // 2
        raw[middle : middle + 64] = b"\xa5" * 64
        table.write_bytes(bytes(raw))
    start_refused(data_dir)


def test_record_that_does_not_decode_is_one_line(tmp_path):
    plyvel = pytest.importorskip("plyvel")
    data_dir = make_data_dir(tmp_path)
    db = plyvel.DB(str(data_dir))
    try:
        db.put(b"n//broken", b"too short for a znode", sync=True)
    finally:
        db.close()
    start_refused(data_dir)


def test_corrupted_log_file_is_one_line(tmp_path):
    data_dir = make_data_dir(tmp_path)
    server = ServerProcess(data_dir=data_dir).start()
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = client_pb2_grpc.CoordStub(channel)
            for i in range(50):
                stub.Create(pb.CreateRequest(path=f"/late{i}", data=b"l" * 500))
    finally:
        server.kill()  # the last writes are only in LevelDB's log
    logs = [p for p in data_dir.glob("*.log") if p.stat().st_size > 4096]
    assert logs, list(data_dir.iterdir())
    for log_file in logs:
        raw = bytearray(log_file.read_bytes())
        raw[100:164] = b"\xa5" * 64
        log_file.write_bytes(bytes(raw))
    start_refused(data_dir)


def test_cluster_goes_on_while_one_members_disk_is_full(tmp_path):
    """Three members; member 3's data dir is a small tmpfs that fills. The
    other two keep taking writes; member 3 refuses them, then catches up by
    itself once space returns."""
    with small_disk(tmp_path / "disk") as disk:
        cluster = Cluster.create(tmp_path / "cluster", 3)
        cluster.members[3].data_dir = disk / "data"
        try:
            cluster.start()
            cluster.leader()
            with grpc.insecure_channel(cluster.members[1].address) as channel:
                stub = client_pb2_grpc.CoordStub(channel)
                stub.Create(pb.CreateRequest(path="/load"), timeout=RPC_TIMEOUT)
            filler = fill(disk)
            with (
                writing(cluster.members[1].address, "healthy") as healthy,
                writing(cluster.members[3].address, "full") as full,
            ):
                full.wait_for(full.refused, 20)
                healthy.wait_for(healthy.acked, len(healthy.acked) + 100)  # member 3 still full
                filler.unlink()
                full.wait_for(full.acked, 50)
            acked = set(healthy.acked) | set(full.acked)
            refused = set(full.refused)
            for member_id in cluster.members:
                Cluster.wait_until(lambda m=member_id: acked <= children_synced(cluster, m))
                assert not refused & children(cluster.members[member_id].address)
            log = "\n".join(cluster.members[3].output)
            assert log.count(FULL) == 1, log
            assert "can be written again" in log, log
        finally:
            cluster.stop()


def children_synced(cluster: Cluster, member_id: int) -> set[str]:
    """The member's children of /load, once it has caught up with the leader."""
    with grpc.insecure_channel(cluster.members[member_id].address) as channel:
        stub = client_pb2_grpc.CoordStub(channel)
        stub.Sync(pb.SyncRequest(path="/"), timeout=RPC_TIMEOUT)
    return children(cluster.members[member_id].address)
