"""The asyncio client: the threaded client's operations and recipes as
coroutines, over a member's session port (asyncio streams) or a grpc.aio
Session stream.

It shares the session protocol (protocol.py), the requests (ops.py), the
hand-over of outcomes and the fail-over schedule (base.py) with the threaded
client; only the I/O is the event loop's. One task reads the stream and
reconnects; requests complete asyncio Futures; watch and listener callbacks
run on the loop in order (a coroutine function's coroutine as its own task).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from coord_client.aio.recipes import AioRecipesMixin
from coord_client.aio.stream import AioFramedStream, AioStream, dial, session_port_stream
from coord_client.aio.transaction import AioTransaction
from coord_client.base import ClientBase, Listener, twin, with_twins
from coord_client.events import KazooState
from coord_client.exceptions import CoordError, CoordTimeoutError, NodeExistsError
from coord_client.ops import Watcher
from coord_client.protocol import Phase, Protocol
from coord_client.redial import Redial


def _awaiting(call_async: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """The coroutine twin of an `*_async` method: same arguments, awaits the result."""

    async def call(self: Client, *args: Any, **kwargs: Any) -> Any:
        return await call_async(self, *args, **kwargs)

    return twin(call_async, call)


@with_twins(_awaiting)
class Client(AioRecipesMixin, ClientBase):
    """A session with a coord cluster for asyncio code: `async with Client(...)`."""

    def _setup(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._settled: asyncio.Event | None = None  # CONNECTED, or the session task gave up
        self._loop: asyncio.AbstractEventLoop | None = None
        self._callback_tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------ lifecycle

    async def start(self, timeout: float = 15.0) -> None:
        """Connect, establish the session and prove `auth_data`, or raise
        (CoordTimeoutError when no member answered in time, SessionExpiredError
        when `client_id` is gone, AuthFailedError when a credential is refused)."""
        if self._task is not None and not self._task.done():
            return
        await self.stop()  # what is left of a session that ended by itself
        self._loop = asyncio.get_running_loop()
        with self._lock:
            protocol = self._new_protocol()
        self._settled = asyncio.Event()
        self._task = asyncio.create_task(self._run(protocol), name="coord-session")
        began = self._loop.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), timeout)
        if protocol.phase is Phase.CONNECTED:
            left = max(timeout - (self._loop.time() - began), 0.0)
            try:
                await asyncio.wait_for(asyncio.gather(*self._prove_auth_data()), left)
            except (CoordError, TimeoutError) as exc:
                await self.stop()
                if isinstance(exc, TimeoutError):
                    raise CoordTimeoutError("the credentials were not answered in time") from None
                raise
            return
        phase = protocol.phase
        await self.stop()
        raise self._start_failed(phase, timeout, protocol.refusal)

    async def stop(self) -> None:
        """Close the session (its ephemerals go) and the connection; the
        listeners have been told LOST when it returns."""
        task, protocol, stream = self._task, self._protocol, self._stream
        self._task = None
        if task is None or protocol is None:
            return
        with self._lock:
            closing = stream is not None and protocol.phase is Phase.CONNECTED
            if closing:
                stream.send(protocol.close_message())  # answered by Closed, then the end
        if not closing:
            task.cancel()
        done, _ = await asyncio.wait({task}, timeout=self._timeout)
        if not done:
            task.cancel()
            await asyncio.wait({task})
        with self._lock:
            self._deliver(protocol.abandon())
        await asyncio.sleep(0)  # the callbacks scheduled so far run

    async def close(self) -> None:
        """kazoo frees the connection here after stop(); stop() already has."""
        await self.stop()

    async def restart(self) -> None:
        """Stop, then start with a new session."""
        await self.stop()
        await self.start()

    async def __aenter__(self) -> Client:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ----------------------------------------------------------- operations
    # create, get, set, delete, exists, get_children, sync, add_watch: with_twins

    async def ensure_path(self, path: str, acl: object = None) -> bool:
        """Create `path` and its missing parents unless it exists."""
        with contextlib.suppress(NodeExistsError):
            await self.create(path, acl=acl, makepath=True)
        return True

    def transaction(self) -> AioTransaction:
        """Ops collected, then `await t.commit()` (or `async with` commits on exit)."""
        return AioTransaction(self._submit, self.default_acl)

    async def remove_watch(self, path: str, watch: Watcher) -> None:
        """Stop calling `watch` for `path`; the server watch goes once unused."""
        for call in self._remove_watch_calls(path, watch):
            await self._submit(call)

    # ------------------------------------------------------------ internals

    def _new_handle(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    def _complete(self, handle: asyncio.Future[Any], result: Any, error: CoordError | None) -> None:
        if handle.done():
            return  # its caller stopped waiting (cancelled)
        if error is not None:
            handle.set_exception(error)
        else:
            handle.set_result(result)

    def _schedule(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self._loop is not None
        self._loop.call_soon(self._run_callback, fn, args)

    def _run_callback(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """Run a callback on the loop; a coroutine it returns runs as a task."""
        try:
            result = fn(*args)
        except Exception:
            self._log.exception("callback %r failed", fn)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(self._guarded(fn, result))
            self._callback_tasks.add(task)
            task.add_done_callback(self._callback_tasks.discard)

    async def _guarded(self, fn: Callable[..., Any], result: Awaitable[Any]) -> None:
        try:
            await result
        except Exception:
            self._log.exception("callback %r failed", fn)

    def _tell_listener(self, listener: Listener, state: KazooState) -> Any:
        result = listener(state)
        if not inspect.isawaitable(result):
            if result is True:
                self.remove_listener(listener)
            return None

        async def finish() -> None:
            if await result is True:
                self.remove_listener(listener)

        return finish()

    def _state_changed(self, state: KazooState) -> None:
        if state is KazooState.CONNECTED and self._settled is not None:
            self._settled.set()

    async def _run(self, protocol: Protocol) -> None:
        """The session task: connect, serve, reconnect with the same session
        until it is closed, expires, or no member answered for its timeout."""
        redial = Redial(self.hosts, protocol)
        try:
            while self._should_connect(protocol, redial):
                stream = await self._open(protocol, redial, redial.next_host(), redial.patience())
                if stream is not None:
                    await self._serve(protocol, stream)
                self._disconnected(protocol)
                await asyncio.sleep(redial.ended(stream))
        finally:
            self._stream = None
            if self._settled is not None:
                self._settled.set()

    async def _open(
        self, protocol: Protocol, redial: Redial, address: str, patience: float
    ) -> AioStream | AioFramedStream | None:
        """The session's connection to `address` with the handshake queued
        (the member's session port when it offers one, else a Session
        stream), or None when the member cannot be reached within `patience`
        seconds."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        channel, problem = await dial(address, patience, self._tls)
        if channel is None:
            self._dial_failed(redial, problem)
            return None
        connection = None
        if self._tries_session_port(address):
            time_left = lambda: patience - (loop.time() - began)  # noqa: E731
            port, connection = await session_port_stream(channel, address, self._tls, time_left)
            if port and connection is None:
                self._session_port_failed(address, port)
        handshake = max(patience - (loop.time() - began), 0.0)
        if connection is not None:
            await channel.close()
        with self._lock:
            timeout = protocol.timeout_ms / 1000
            if connection is None:
                self._stream = AioStream(channel, protocol.opening(), timeout, handshake)
            else:
                self._stream = AioFramedStream(connection, protocol.opening(), timeout, handshake)
            return self._stream

    async def _serve(self, protocol: Protocol, stream: AioStream | AioFramedStream) -> None:
        """Read the stream until it ends (or the member fell silent)."""
        try:
            async for message in stream.messages():
                if self._receive(protocol, stream, message):
                    break
        except grpc.RpcError as exc:
            self._log.debug("stream ended: %s", exc)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # stop() cancels us
            self._log.debug("stream cancelled: the member fell silent")
        finally:
            await stream.aclose()


KazooClient = Client
