from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from coord_client import Client
from tests.servers import Cluster, ServerProcess
from tests.treekit import OPEN, Run


@pytest.fixture
def server_factory(tmp_path):
    """Start any number of servers; every one is stopped by PID afterwards."""
    started: list[ServerProcess] = []

    def make(*extra_args: str, data_dir=None) -> ServerProcess:
        srv = ServerProcess(
            data_dir=data_dir or tmp_path / f"data{len(started)}", extra_args=list(extra_args)
        )
        started.append(srv)
        return srv.start()

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def server(server_factory) -> ServerProcess:
    """A fresh single-member coord-server on a free port."""
    return server_factory()


@pytest.fixture
def connect(server) -> Iterator[Callable[..., Client]]:
    """Started clients of `server`, all stopped afterwards."""
    clients: list[Client] = []

    def make(address: str | None = None, **kwargs: Any) -> Client:
        zk = Client(address or server.address, **kwargs)
        clients.append(zk)
        zk.start(timeout=10.0)
        return zk

    yield make
    for zk in clients:
        zk.stop()


@pytest.fixture
def cluster_factory(tmp_path):
    """Start clusters of real members; all are stopped by PID afterwards."""
    started: list[Cluster] = []

    def make(size: int = 3, *extra_args: str) -> Cluster:
        cluster = Cluster.create(tmp_path / f"cluster{len(started)}", size, *extra_args)
        started.append(cluster)
        return cluster.start()

    yield make
    for cluster in started:
        cluster.stop()


@pytest.fixture
def far_behind(cluster_factory) -> Cluster:
    """Three members that keep 10 log entries, member 3 stopped: writes made
    now reach it, once started, only as a snapshot."""
    cluster = cluster_factory(3, "--log-retention", "10")
    cluster.leader()
    cluster.members[3].stop()
    return cluster


@pytest.fixture
def run() -> Run:
    """The tree tests' (test_tree*.py) state machine, driven a command at a time."""
    return Run()


@pytest.fixture
def session(run: Run) -> int:
    """A live session, opened as the tree's first change."""
    return run.ok(OPEN).session_id
