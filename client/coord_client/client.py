"""The threaded client: kazoo's KazooClient API over one Session stream.

Threads: the session thread connects, reads the stream and reconnects; a
sender thread (framed.py, over a member's session port) or gRPC's own (a
Session stream) drains the outbox into frames (stream.py); the callback
thread runs watch, listener and rawlink callbacks (handler.py). The protocol state
(protocol.py) is only touched under one lock.

When its member dies or falls silent the session moves to another one, the
hosts tried in turn with jittered exponential backoff, each given its share of
the session timeout (as ZooKeeper's client); calls made meanwhile wait for it.
Once no member has answered for the whole session timeout the session counts
as lost.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc

from coord_client.base import ClientBase, Listener, twin, with_twins
from coord_client.channel import Dial
from coord_client.events import KazooState
from coord_client.exceptions import CoordError, NodeExistsError
from coord_client.framed import FramedStream, Wire, connect
from coord_client.handler import AsyncResult, CallbackThread
from coord_client.ops import Watcher
from coord_client.protocol import Phase, Protocol
from coord_client.recipes import RecipesMixin
from coord_client.redial import Redial
from coord_client.stream import SessionStream, Stream
from coord_client.tls import diagnose
from coord_client.transaction import TransactionRequest

__all__ = ["Client", "KazooClient", "Listener"]


def _blocking(call_async: Callable[..., AsyncResult]) -> Callable[..., Any]:
    """The blocking twin of an `*_async` method: same arguments, returns the result."""

    def call(self: Client, *args: Any, **kwargs: Any) -> Any:
        return call_async(self, *args, **kwargs).get()

    return twin(call_async, call)


@with_twins(_blocking)
class Client(RecipesMixin, ClientBase):
    """A session with a coord cluster, used the way kazoo's KazooClient is."""

    def _setup(self) -> None:
        self._callbacks = CallbackThread(self._log)
        self._session_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._settled = threading.Event()  # CONNECTED, or the session thread gave up
        self._interrupt: threading.Event | None = None  # wakes a connect attempt

    # ------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 15.0) -> None:
        """Connect, establish the session and prove `auth_data`, or raise
        (CoordTimeoutError when no member answered in time, SessionExpiredError
        when `client_id` is gone, AuthFailedError when a credential is refused)."""
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
        began = time.monotonic()
        if self._settled.wait(timeout) and protocol.phase is Phase.CONNECTED:
            try:
                for proof in self._prove_auth_data():
                    proof.get(timeout=max(timeout - (time.monotonic() - began), 0.0))
            except CoordError:
                self.stop()
                raise
            return
        phase = protocol.phase
        self.stop()
        raise self._start_failed(phase, timeout, protocol.refusal)

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
    # create, get, set, delete, exists, get_children, sync, add_watch: with_twins

    def ensure_path(self, path: str, acl: object = None) -> bool:
        """Create `path` and its missing parents unless it exists."""
        with contextlib.suppress(NodeExistsError):
            self.create(path, acl=acl, makepath=True)
        return True

    def transaction(self) -> TransactionRequest:
        return TransactionRequest(self._submit, self.default_acl)

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
            while not self._stopping.is_set() and self._should_connect(protocol, redial):
                stream = self._open(protocol, redial, redial.next_host(), redial.patience())
                if stream is not None:
                    self._serve(protocol, stream)
                self._disconnected(protocol)
                self._stopping.wait(redial.ended(stream))
        finally:
            self._settled.set()

    def _open(
        self, protocol: Protocol, redial: Redial, address: str, patience: float
    ) -> SessionStream | None:
        """The session's connection to `address` with the handshake queued
        (the member's session port when it offers one, else a Session
        stream), or None when the member cannot be reached within `patience`
        seconds (or stop() interrupts)."""
        began = time.monotonic()
        try:
            dial = Dial(address, self._tls, patience)
        except OSError:  # an unverified member's certificate could not be fetched
            self._dial_failed(redial, diagnose(address, self._tls, patience))
            return None
        with self._lock:
            self._interrupt = dial.settled
            if self._stopping.is_set():
                dial.settled.set()
        dial.settled.wait(max(patience - (time.monotonic() - began), 0.0))
        with self._lock:
            self._interrupt = None
            channel = dial.finish(keep=not self._stopping.is_set())
            refused = channel is None and dial.failed and not self._stopping.is_set()
        if channel is None:
            if refused:  # reached but not connected: find out whether TLS is why
                self._dial_failed(redial, diagnose(address, self._tls, patience))
            return None
        wire = self._session_port(dial.port, address, lambda: patience - (time.monotonic() - began))
        with self._lock:
            if self._stopping.is_set():
                if wire is not None:
                    wire.close()
                channel.close()
                return None
            handshake = max(patience - (time.monotonic() - began), 0.0)
            timeout = protocol.timeout_ms / 1000
            if wire is None:
                self._stream = Stream(channel, protocol.opening(), timeout, handshake)
            else:
                channel.close()
                self._stream = FramedStream(wire, protocol.opening(), timeout, handshake)
            return self._stream

    def _session_port(self, port: int, address: str, time_left: Callable[[], float]) -> Wire | None:
        """A connection to the member's session port (`port`, 0 if it
        offers none), if it can be made in half the time left (the rest is
        the Session stream's, if not)."""
        if not port or not self._tries_session_port(address):
            return None
        wire = connect(address, port, self._tls, max(time_left() / 2, 0.0))
        if wire is None:
            self._session_port_failed(address, port)
        return wire

    def _serve(self, protocol: Protocol, stream: SessionStream) -> None:
        """Read the stream until it ends."""
        try:
            for message in stream.messages():
                if self._receive(protocol, stream, message):
                    break
        except grpc.RpcError as exc:
            self._log.debug("stream ended: %s", exc)
        finally:
            stream.close()


KazooClient = Client
