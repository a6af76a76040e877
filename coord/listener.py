"""A TCP door of the member's own, not gRPC's (the peers' links, ZooKeeper's
clients): bound before the member starts, so that a busy port is a
one-line error at once, and serving once it has started; each connection a
task of its own, closed when it ends and cancelled when the door stops."""

from __future__ import annotations

import asyncio
import ssl
from abc import ABC, abstractmethod


class Listener(ABC):
    def __init__(self, tls: ssl.SSLContext | None, handshake_timeout: float) -> None:
        self._tls = tls
        self._handshake_timeout = handshake_timeout
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self.port = 0

    async def bind(self, host: str, port: int) -> None:
        """Take `host`:`port` (0: a free port, then in `self.port`), not yet
        serving. OSError if it cannot."""
        self._server = await asyncio.start_server(
            self._accepted, host, port, start_serving=False, ssl=self._tls,
            ssl_handshake_timeout=self._handshake_timeout if self._tls else None,
        )  # fmt: skip
        self.port = self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        """Serve, if bound: once the member has started."""
        if self._server is not None:
            await self._server.start_serving()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            await self.serve(reader, writer)
        except asyncio.CancelledError:
            # The door stopped it: end it plainly (asyncio's streams, in
            # Python 3.11, log a task that ends cancelled as an error).
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    @abstractmethod
    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection, until it ends (the door's own)."""
