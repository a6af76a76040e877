"""The threaded client: kazoo's KazooClient API over one Session stream.

Threads: the session thread connects, reads the stream and reconnects; gRPC's
own thread drains the outbox into frames (stream.py); the callback thread runs
watch, listener and rawlink callbacks (handler.py). The protocol state
(protocol.py) is only touched under one lock.

When its member dies or falls silent the session moves to another one, the
hosts tried in turn with jittered exponential backoff, each given its share of
the session timeout (as ZooKeeper's client); calls made meanwhile wait for it.
Once no member has answered for the whole session timeout the session counts
as lost.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc

from coord_client.base import ClientBase, Listener, Redial, twin
from coord_client.channel import Dial
from coord_client.events import KazooState
from coord_client.exceptions import CoordError, NodeExistsError
from coord_client.handler import AsyncResult, CallbackThread
from coord_client.ops import Watcher
from coord_client.protocol import Phase, Protocol
from coord_client.recipes import RecipesMixin
from coord_client.stream import Stream
from coord_client.transaction import TransactionRequest

__all__ = ["Client", "KazooClient", "Listener"]


def _blocking(call_async: Callable[..., AsyncResult]) -> Callable[..., Any]:
    """The blocking twin of an `*_async` method: same arguments, returns the result."""

    def call(self: Client, *args: Any, **kwargs: Any) -> Any:
        return call_async(self, *args, **kwargs).get()

    return twin(call_async, call)


class Client(RecipesMixin, ClientBase):
    """A session with a coord cluster, used the way kazoo's KazooClient is."""

    def __init__(
        self,
        hosts: str = "127.0.0.1:7181",
        timeout: float = 10.0,
        client_id: tuple[int, bytes] | None = None,
        linearizable_reads: bool = False,
        *,
        randomize_hosts: bool = True,
        logger: logging.Logger | None = None,
        **kazoo_options: Any,
    ) -> None:
        """`timeout` is the session timeout asked for, in seconds (the member
        clamps it); `client_id` resumes an existing session."""
        super().__init__(
            hosts, timeout, client_id, linearizable_reads, randomize_hosts, logger, kazoo_options
        )
        self._callbacks = CallbackThread(self._log)
        self._session_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._settled = threading.Event()  # CONNECTED, or the session thread gave up
        self._interrupt: threading.Event | None = None  # wakes a connect attempt

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 15.0) -> None:
        """Connect and establish the session, or raise (CoordTimeoutError when no
        member answered in time, SessionExpiredError when `client_id` is gone)."""
        with self._lock:
            thread = self._session_thread
        if thread is not None and thread.is_alive():
            return
        self.stop()  # what is left of a session that ended by itself
        with self._lock:
            protocol = self._new_protocol()
            self._stopping.clear()
            self._settled.clear()
            self._callbacks.start()
            self._session_thread = threading.Thread(
                target=self._run, args=(protocol,), name="coord-session", daemon=True
            )
            self._session_thread.start()
        if self._settled.wait(timeout) and protocol.phase is Phase.CONNECTED:
            return
        phase = protocol.phase
        self.stop()
        raise self._start_failed(phase, timeout)

    def stop(self) -> None:
        """Close the session (its ephemerals go) and the connection."""
        with self._lock:
            thread, protocol, stream = self._session_thread, self._protocol, self._stream
            self._session_thread = None
            if thread is None or protocol is None:
                return
            self._stopping.set()
            if self._interrupt is not None:
                self._interrupt.set()
            if stream is not None and protocol.phase is Phase.CONNECTED:
                stream.send(protocol.close_message())  # answered by Closed, then the end
            elif stream is not None:
                stream.cancel()
        thread.join(self._timeout)
        with self._lock:
            if thread.is_alive() and self._stream is not None:
                self._stream.cancel()
        thread.join()
        with self._lock:
            self._deliver(protocol.abandon())
        self._callbacks.stop()

    def close(self) -> None:
        """kazoo frees the connection here after stop(); stop() already has."""
        self.stop()

    def restart(self) -> None:
        """Stop, then start with a new session."""
        self.stop()
        self.start()

    # ----------------------------------------------------------- operations

    create = _blocking(ClientBase.create_async)
    get = _blocking(ClientBase.get_async)
    set = _blocking(ClientBase.set_async)
    delete = _blocking(ClientBase.delete_async)
    exists = _blocking(ClientBase.exists_async)
    get_children = _blocking(ClientBase.get_children_async)
    sync = _blocking(ClientBase.sync_async)
    add_watch = _blocking(ClientBase.add_watch_async)

    def ensure_path(self, path: str, acl: object = None) -> bool:
        """Create `path` and its missing parents unless it exists."""
        with contextlib.suppress(NodeExistsError):
            self.create(path, makepath=True)
        return True

    def transaction(self) -> TransactionRequest:
        return TransactionRequest(self._submit)

    def remove_watch(self, path: str, watch: Watcher) -> None:
        """Stop calling `watch` for `path`; the server watch goes once unused."""
        for call in self._remove_watch_calls(path, watch):
            self._submit(call).get()

    # ------------------------------------------------------------ internals

    def _new_handle(self) -> AsyncResult:
        return AsyncResult(self._callbacks.run)

    def _complete(self, handle: AsyncResult, result: Any, error: CoordError | None) -> None:
        if error is not None:
            handle.set_exception(error)
        else:
            handle.set(result)

    def _schedule(self, fn: Callable[..., Any], *args: Any) -> None:
        self._callbacks.run(fn, *args)

    def _state_changed(self, state: KazooState) -> None:
        if state is KazooState.CONNECTED:
            self._settled.set()

    def _run(self, protocol: Protocol) -> None:
        """The session thread: connect, serve, reconnect with the same session
        until it is closed, expires, or no member answered for its timeout."""
        redial = Redial(self.hosts, protocol)
        try:
            while True:
                with self._lock:
                    if self._stopping.is_set() or not protocol.wants_connection:
                        return
                    if redial.time_left() <= 0:
                        self._deliver(protocol.expire())
                        return
                stream = self._open(protocol, redial.next_host(), redial.patience())
                established = stream is not None and self._serve(protocol, stream)
                with self._lock:
                    self._stream = None
                    self._deliver(protocol.connection_lost())
                last = stream.last_received if stream is not None else 0.0
                self._stopping.wait(redial.ended(established, last))
        finally:
            self._settled.set()

    def _open(self, protocol: Protocol, address: str, patience: float) -> Stream | None:
        """A Session stream to `address` with the handshake queued, or None when
        the member cannot be reached within `patience` seconds (or stop()
        interrupts)."""
        dial = Dial(address)
        with self._lock:
            self._interrupt = dial.settled
            if self._stopping.is_set():
                dial.settled.set()
        began = time.monotonic()
        dial.settled.wait(patience)
        with self._lock:
            self._interrupt = None
            channel = dial.finish(keep=not self._stopping.is_set())
            if channel is None:
                return None
            handshake = max(patience - (time.monotonic() - began), 0.0)
            timeout = protocol.timeout_ms / 1000
            self._stream = Stream(channel, protocol.connect_message(), timeout, handshake)
            return self._stream

    def _serve(self, protocol: Protocol, stream: Stream) -> bool:
        """Read the stream until it ends; True when the session was established on it."""
        established = False
        try:
            for message in stream.messages():
                with self._lock:
                    self._deliver(protocol.receive(message))
                    kind = message.WhichOneof("kind")
                    if kind == "connected" and protocol.phase is Phase.CONNECTED:
                        established = True
                        stream.set_timeout(protocol.timeout_ms / 1000)
                    elif kind in ("closed", "session_error"):
                        break
        except grpc.RpcError as exc:
            self._log.debug("stream ended: %s", exc)
        finally:
            stream.close()
        return established


KazooClient = Client
