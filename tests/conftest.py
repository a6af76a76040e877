from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from coord_client import Client
from tests.badinput import Coord, serve_tree
from tests.servers import Cluster, ServerProcess
from tests.treekit import OPEN, Run


@pytest.fixture
def server_factory(tmp_path):
    """Start any number of servers; every one is stopped by PID afterwards."""
    numbers = itertools.count()
    with ExitStack() as stops:

        def make(*extra_args: str, data_dir=None) -> ServerProcess:
            data_dir = data_dir or tmp_path / f"data{next(numbers)}"
            srv = ServerProcess(data_dir=data_dir, extra_args=list(extra_args))
            stops.callback(srv.stop)
            return srv.start()

        yield make


@pytest.fixture
def server(server_factory) -> ServerProcess:
    """A fresh single-member coord-server on a free port."""
    return server_factory()


@pytest.fixture
def clients() -> Iterator[Callable[..., Client]]:
    """Start SDK clients of any address; every one is stopped afterwards."""
    with ExitStack() as stops:

        def make(address: str, **kwargs: Any) -> Client:
            zk = Client(address, **kwargs)
            stops.callback(zk.stop)
            zk.start(timeout=10.0)
            return zk

        yield make


@pytest.fixture
def connect(server, clients) -> Callable[..., Client]:
    """Started clients of `server`, all stopped afterwards."""

    def make(address: str | None = None, **kwargs: Any) -> Client:
        return clients(address or server.address, **kwargs)

    return make


@pytest.fixture
def cluster_factory(tmp_path):
    """Start clusters of real members; all are stopped by PID afterwards."""
    numbers = itertools.count()
    with ExitStack() as stops:

        def make(size: int = 3, *extra_args: str) -> Cluster:
            cluster = Cluster.create(tmp_path / f"cluster{next(numbers)}", size, *extra_args)
            stops.callback(cluster.stop)
            return cluster.start()

        yield make


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


@pytest.fixture(scope="module")
def coord(tmp_path_factory) -> Iterator[Coord]:
    """The bad-input tests' (test_bad_input*.py) server, one per module, with
    the small tree of tests/badinput.py."""
    yield from serve_tree(tmp_path_factory)
