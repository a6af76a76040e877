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
import inspect
import itertools
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc

from coord_client import ops
from coord_client.channel import Dial, parse_hosts
from coord_client.events import KazooState
from coord_client.exceptions import (
    ConnectionClosedError,
    CoordError,
    CoordTimeoutError,
    NodeExistsError,
    SessionExpiredError,
)
from coord_client.handler import AsyncResult, CallbackThread
from coord_client.ops import Call, Watcher
from coord_client.paths import validate_path
from coord_client.protocol import (
    Completion,
    Notification,
    Outcome,
    Phase,
    Protocol,
    Send,
    StateChanged,
)
from coord_client.recipes import RecipesMixin
from coord_client.stream import Stream
from coord_client.transaction import TransactionRequest
from coord_client.wire import client_pb2 as pb

Listener = Callable[[KazooState], Any]

# kazoo constructor arguments accepted and ignored: coord has no ACLs or
# read-only mode, and reconnecting is built in rather than a retry policy.
IGNORED_KAZOO_OPTIONS = frozenset({"default_acl", "read_only", "connection_retry", "command_retry"})
BACKOFF_FIRST = 0.05  # seconds; doubled per failed attempt, jittered
BACKOFF_MAX = 2.0
MIN_PATIENCE = 1.0  # seconds a member is given at least to take the session


def _blocking(call_async: Callable[..., AsyncResult]) -> Callable[..., Any]:
    """The blocking twin of an `*_async` method: same arguments, returns the result."""

    def call(self: Client, *args: Any, **kwargs: Any) -> Any:
        return call_async(self, *args, **kwargs).get()

    call.__name__ = call_async.__name__.removesuffix("_async")
    call.__qualname__ = call_async.__qualname__.removesuffix("_async")
    call.__doc__ = call_async.__doc__
    call.__signature__ = inspect.signature(call_async).replace(  # type: ignore[attr-defined]
        return_annotation=inspect.Signature.empty
    )
    return call


class Client(RecipesMixin):
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
        unknown = sorted(set(kazoo_options) - IGNORED_KAZOO_OPTIONS)
        if unknown:
            raise TypeError(f"unexpected keyword arguments: {', '.join(unknown)}")
        self.hosts = parse_hosts(hosts)
        if randomize_hosts:
            random.shuffle(self.hosts)
        self.linearizable_reads = linearizable_reads
        self._timeout = float(timeout)
        self._resume = client_id
        self._log = logger or logging.getLogger("coord_client")
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._callbacks = CallbackThread(self._log)
        self._protocol: Protocol | None = None
        self._stream: Stream | None = None
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
            session_id, password = self._resume or (0, b"")
            self._resume = None
            protocol = Protocol(int(self._timeout * 1000), session_id, password)
            self._protocol = protocol
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
        if phase is Phase.EXPIRED:
            raise SessionExpiredError("the session to resume has expired")
        raise CoordTimeoutError(f"no session with {','.join(self.hosts)} within {timeout}s")

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

    @property
    def state(self) -> KazooState:
        return self._protocol.state if self._protocol else KazooState.LOST

    @property
    def connected(self) -> bool:
        return self.state is KazooState.CONNECTED

    @property
    def client_id(self) -> tuple[int, bytes] | None:
        """(session_id, password) while there is a session, else None."""
        protocol = self._protocol
        if protocol is None or protocol.phase in (Phase.CONNECTING, Phase.CLOSED, Phase.EXPIRED):
            return None
        return protocol.session_id, protocol.password

    @property
    def member_id(self) -> int | None:
        """The id of the member serving the session now, None while there is none."""
        return (self._protocol.member_id or None) if self._protocol else None

    @property
    def session_timeout(self) -> float:
        """The session timeout in seconds: the negotiated one once connected."""
        return self._protocol.timeout_ms / 1000 if self._protocol else self._timeout

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(state)` on each change of `state`; returning True removes it."""
        if not callable(listener):
            raise TypeError("listener must be callable")
        with self._lock:
            if listener not in self._listeners:
                self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # ----------------------------------------------------------- operations

    def create_async(
        self,
        path: str,
        value: bytes = b"",
        acl: object = None,
        ephemeral: bool = False,
        sequence: bool = False,
        makepath: bool = False,
        include_data: bool = False,
    ) -> AsyncResult:
        """The created path (with its sequence suffix), or (path, ZnodeStat) with
        include_data; `makepath` creates missing parents atomically; `acl` is ignored."""
        return self._submit(ops.create(path, value, ephemeral, sequence, makepath, include_data))

    def get_async(self, path: str, watch: Watcher | None = None) -> AsyncResult:
        """(data, ZnodeStat); `watch` fires once on CHANGED or DELETED."""
        return self._submit(ops.get_data(path, watch))

    def set_async(self, path: str, value: bytes, version: int = -1) -> AsyncResult:
        """The new ZnodeStat; with a version other than -1 only if it matches."""
        return self._submit(ops.set_data(path, value, version))

    def delete_async(self, path: str, version: int = -1, recursive: bool = False) -> AsyncResult:
        """True; `recursive` deletes the subtree atomically, on the server."""
        return self._submit(ops.delete(path, version, recursive))

    def exists_async(self, path: str, watch: Watcher | None = None) -> AsyncResult:
        """A ZnodeStat, or None; `watch` fires once on CREATED, CHANGED or DELETED."""
        return self._submit(ops.exists(path, watch))

    def get_children_async(
        self, path: str, watch: Watcher | None = None, include_data: bool = False
    ) -> AsyncResult:
        """The sorted child names, or (names, ZnodeStat) with include_data; `watch`
        fires once on CHILD or DELETED."""
        return self._submit(ops.get_children(path, watch, include_data))

    def sync_async(self, path: str) -> AsyncResult:
        """`path`, once the member is up to date with the leader: a read after it
        is linearizable."""
        return self._submit(ops.sync(path))

    create = _blocking(create_async)
    get = _blocking(get_async)
    set = _blocking(set_async)
    delete = _blocking(delete_async)
    exists = _blocking(exists_async)
    get_children = _blocking(get_children_async)
    sync = _blocking(sync_async)

    def ensure_path(self, path: str, acl: object = None) -> bool:
        """Create `path` and its missing parents unless it exists."""
        with contextlib.suppress(NodeExistsError):
            self.create(path, makepath=True)
        return True

    def transaction(self) -> TransactionRequest:
        return TransactionRequest(self._submit)

    def add_watch(self, path: str, watch: Watcher, recursive: bool = False) -> bool:
        """A persistent watch: `watch(event)` on every change of `path` (and of
        its subtree when recursive) until remove_watch."""
        return self._submit(ops.add_watch(path, watch, recursive)).get()

    def remove_watch(self, path: str, watch: Watcher) -> None:
        """Stop calling `watch` for `path`; the server watch goes once unused."""
        validate_path(path)
        with self._lock:
            calls = self._protocol.remove_watch(path, watch) if self._protocol else []
        for call in calls:
            self._submit(call).get()

    # ------------------------------------------------------------ internals

    def _submit(self, call: Call) -> AsyncResult:
        result = AsyncResult(self._callbacks.run)
        with self._lock:
            try:
                if self._protocol is None:
                    raise ConnectionClosedError("the client is not started")
                if self.linearizable_reads and call.read:
                    self._send(self._protocol.submit(ops.sync(call.path), None))
                self._send(self._protocol.submit(call, result))
            except CoordError as exc:
                result.set_exception(exc)
        return result

    def _send(self, message: pb.ClientMessage | None) -> None:
        """Put a message on the stream (under the lock); None is a request the
        protocol keeps for the next member."""
        if message is None:
            return
        assert self._stream is not None  # the protocol only lets requests through when connected
        self._stream.send(message)

    def _deliver(self, outcomes: list[Outcome]) -> None:
        """Hand the protocol's outcomes to whoever waits for them (under the lock)."""
        for outcome in outcomes:
            if isinstance(outcome, Completion) and outcome.handle is not None:
                if outcome.error is not None:
                    outcome.handle.set_exception(outcome.error)
                else:
                    outcome.handle.set(outcome.result)
            elif isinstance(outcome, Notification):
                self._callbacks.run(outcome.callback, outcome.event)
            elif isinstance(outcome, Send):
                self._send(outcome.message)
            elif isinstance(outcome, StateChanged):
                for listener in self._listeners:
                    self._callbacks.run(self._tell_listener, listener, outcome.state)
                if outcome.state is KazooState.CONNECTED:
                    self._settled.set()

    def _tell_listener(self, listener: Listener, state: KazooState) -> None:
        if listener(state) is True:
            self.remove_listener(listener)

    def _run(self, protocol: Protocol) -> None:
        """The session thread: connect, serve, reconnect with the same session
        until it is closed, expires, or no member answered for its timeout."""
        heard: float | None = None  # when a member last spoke for the session
        delay = 0.0
        try:
            for address in itertools.cycle(self.hosts):
                with self._lock:
                    if self._stopping.is_set() or not protocol.wants_connection:
                        return
                    left = _time_left(protocol, heard)
                    if left <= 0:
                        self._deliver(protocol.expire())
                        return
                stream = self._open(protocol, address, min(self._share(protocol), left))
                if stream is not None and self._serve(protocol, stream):
                    heard, delay = stream.last_received, 0.0
                with self._lock:
                    self._stream = None
                    self._deliver(protocol.connection_lost())
                delay = min(max(delay * 2, BACKOFF_FIRST), BACKOFF_MAX)
                self._stopping.wait(min(random.uniform(0, delay), _time_left(protocol, heard)))
        finally:
            self._settled.set()

    def _share(self, protocol: Protocol) -> float:
        """How long one member may take to take the session: its share of the
        session timeout, as ZooKeeper's client gives it, but enough for a live
        member to open a session."""
        return max(protocol.timeout_ms / 1000 / len(self.hosts), MIN_PATIENCE)

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


def _time_left(protocol: Protocol, heard: float | None) -> float:
    """Seconds until the session counts as lost: its timeout after a member last
    spoke for it (`heard`); no limit before it was ever up."""
    if heard is None:
        return math.inf
    return heard + protocol.timeout_ms / 1000 - time.monotonic()


KazooClient = Client
