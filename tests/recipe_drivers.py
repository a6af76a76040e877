"""Both recipe drivers behind one face, so that one test body runs a recipe's
scenario on the threaded client and on the asyncio client.

A step is a function of no arguments that uses recipe objects; `do` runs it
and returns its result, awaiting it when it is a coroutine. On the asyncio
side steps run on an event loop in its own thread, where the asyncio
client and its recipe objects live.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from coord_client import Client
from coord_client.aio import Client as AioClient

WAIT = 15.0  # seconds any expected step may take

Step = Callable[[], Any]


class Threads:
    """The threaded driver: steps are plain calls; a pending one runs in a thread."""

    name = "threads"

    def __init__(self, address: str) -> None:
        self._address = address
        self._clients: list[Client] = []
        self._pool = ThreadPoolExecutor(max_workers=8)

    def client(self) -> Client:
        zk = Client(self._address)
        zk.start(timeout=WAIT)
        self._clients.append(zk)
        return zk

    def do(self, step: Step) -> Any:
        return step()

    def start(self, step: Step) -> Future[Any]:
        return self._pool.submit(step)

    def close(self) -> None:
        for zk in self._clients:
            zk.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)


class Loop:
    """The asyncio driver: steps run on an event loop in another thread."""

    name = "asyncio"

    def __init__(self, address: str) -> None:
        self._address = address
        self._clients: list[AioClient] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def client(self) -> AioClient:
        zk = self.do(lambda: AioClient(self._address))
        self.do(lambda: zk.start(timeout=WAIT))
        self._clients.append(zk)
        return zk

    def do(self, step: Step) -> Any:
        return self.start(step).result(WAIT)

    def start(self, step: Step) -> Future[Any]:
        async def run() -> Any:
            result = step()
            return await result if inspect.isawaitable(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self._loop)

    def close(self) -> None:
        for zk in self._clients:
            self.do(zk.stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(WAIT)
        self._loop.close()


Side = Threads | Loop


@contextmanager
def driven(kind: str, address: str) -> Iterator[Side]:
    """A `Threads` or `Loop` side for the server at `address`, closed after."""
    side = Threads(address) if kind == "threads" else Loop(address)
    try:
        yield side
    finally:
        side.close()


def children_changed(zk: Client, path: str) -> threading.Event:
    """Set on the next change of `path`'s children (seen by a threaded client)."""
    changed = threading.Event()
    zk.get_children(path, watch=lambda event: changed.set())
    return changed
