"""What the threaded client and the asyncio one share around the sans-I/O
protocol (protocol.py): the kazoo constructor, the operations as requests,
the hand-over of the protocol's outcomes, and the fail-over schedule (redial.py).

Each client brings its own I/O: the handle a request completes (an
AsyncResult, an asyncio Future), the way callbacks run (a thread, the event
loop), and a stream with `send(message)`.
"""

from __future__ import annotations

import inspect
import logging
import random
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

from coord_api.paths import validate_path
from coord_api.wire import client_pb2 as pb
from coord_client import ops
from coord_client.channel import parse_hosts
from coord_client.events import KazooState
from coord_client.exceptions import (
    AuthFailedError,
    ConnectionClosedError,
    CoordError,
    CoordTimeoutError,
    LimitExceededError,
    SessionExpiredError,
    TLSError,
)
from coord_client.ops import Call, Watcher
from coord_client.protocol import (
    Completion,
    Notification,
    Outcome,
    Phase,
    Protocol,
    Send,
    StateChanged,
)
from coord_client.redial import Redial
from coord_client.security import ACL, acls_to_wire
from coord_client.tls import ClientTLS, TLSProblem

Listener = Callable[[KazooState], Any]

# kazoo constructor arguments accepted and ignored: coord has no read-only
# mode, and reconnecting is built in rather than a retry policy.
IGNORED_KAZOO_OPTIONS = frozenset({"read_only", "connection_retry", "command_retry"})


def twin(call_async: Callable[..., Any], wrapper: Callable[..., Any]) -> Callable[..., Any]:
    """Give `wrapper` (the blocking or awaiting form of an `*_async` method) its
    name, docstring and signature, so both clients document the same calls."""
    wrapper.__name__ = call_async.__name__.removesuffix("_async")
    wrapper.__qualname__ = call_async.__qualname__.removesuffix("_async")
    wrapper.__doc__ = call_async.__doc__
    wrapper.__signature__ = inspect.signature(call_async).replace(  # type: ignore[attr-defined]
        return_annotation=inspect.Signature.empty
    )
    return wrapper


CALLS = (
    "create",
    "get",
    "set",
    "delete",
    "exists",
    "get_children",
    "sync",
    "add_watch",
    "get_acls",
    "set_acls",
    "add_auth",
    "set_quota",
    "get_quota",
    "delete_quota",
)
C = TypeVar("C", bound=type)


def with_twins(make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[[C], C]:
    """A class decorator: `create`, `get`, ... made by `make` from each
    `*_async` method (blocking for the threaded client, awaiting for asyncio)."""

    def decorate(cls: C) -> C:
        for name in CALLS:
            setattr(cls, name, make(getattr(Operations, f"{name}_async")))
        return cls

    return decorate


class Operations(ABC):
    """kazoo's calls as requests: each `*_async` method returns the handle that
    `_submit` makes (the client decides what it is)."""

    default_acl: list[ACL] | None = None  # the ACL of a create that names none
    auth_data: set[tuple[str, str]]  # every credential given, proven on each new session

    @abstractmethod
    def _submit(self, call: Call) -> Any:
        """Send `call`; the handle its result completes."""

    def create_async(
        self,
        path: str,
        value: bytes = b"",
        acl: object = None,
        ephemeral: bool = False,
        sequence: bool = False,
        makepath: bool = False,
        include_data: bool = False,
    ) -> Any:
        """The created path (with its sequence suffix), or (path, ZnodeStat) with
        include_data; `makepath` creates missing parents atomically (with the same
        ACL); `acl` (a list of ACLs) defaults to the client's `default_acl`, else
        open to anyone."""
        acl = self.default_acl if acl is None else acl
        return self._submit(
            ops.create(path, value, ephemeral, sequence, makepath, include_data, acl)
        )

    def get_async(self, path: str, watch: Watcher | None = None) -> Any:
        """(data, ZnodeStat); `watch` fires once on CHANGED or DELETED."""
        return self._submit(ops.get_data(path, watch))

    def set_async(self, path: str, value: bytes, version: int = -1) -> Any:
        """The new ZnodeStat; with a version other than -1 only if it matches."""
        return self._submit(ops.set_data(path, value, version))

    def delete_async(self, path: str, version: int = -1, recursive: bool = False) -> Any:
        """True; `recursive` deletes the subtree atomically, on the server."""
        return self._submit(ops.delete(path, version, recursive))

    def exists_async(self, path: str, watch: Watcher | None = None) -> Any:
        """A ZnodeStat, or None; `watch` fires once on CREATED, CHANGED or DELETED."""
        return self._submit(ops.exists(path, watch))

    def get_children_async(
        self, path: str, watch: Watcher | None = None, include_data: bool = False
    ) -> Any:
        """The sorted child names, or (names, ZnodeStat) with include_data; `watch`
        fires once on CHILD or DELETED."""
        return self._submit(ops.get_children(path, watch, include_data))

    def sync_async(self, path: str) -> Any:
        """`path`, once the member is up to date with the leader: a read after it
        is linearizable."""
        return self._submit(ops.sync(path))

    def add_watch_async(self, path: str, watch: Watcher, recursive: bool = False) -> Any:
        """A persistent watch: `watch(event)` on every change of `path` (and of
        its subtree when recursive) until remove_watch."""
        return self._submit(ops.add_watch(path, watch, recursive))

    def get_acls_async(self, path: str) -> Any:
        """(list of ACLs, ZnodeStat): needs READ or ADMIN on the node."""
        return self._submit(ops.get_acls(path))

    def set_acls_async(self, path: str, acls: list[ACL], version: int = -1) -> Any:
        """The new ZnodeStat; with a version other than -1 only if the node's
        `aversion` matches. Needs ADMIN on the node."""
        return self._submit(ops.set_acls(path, acls, version))

    def set_quota_async(
        self,
        path: str,
        count: int | None = None,
        bytes: int | None = None,
    ) -> Any:
        """The QuotaInfo once set: a hard limit on the znodes under `path` (itself
        included, count >= 1) and on their data (bytes >= 0); a limit not given
        keeps its value. A write that would cross one raises QuotaExceededError.
        Needs ADMIN on the node; refused above or below another quota."""
        return self._submit(ops.set_quota(path, count, bytes))

    def get_quota_async(self, path: str) -> Any:
        """The QuotaInfo of the quota on `path` (limits and usage); NoNodeError
        when there is none."""
        return self._submit(ops.get_quota(path))

    def delete_quota_async(self, path: str) -> Any:
        """True once the quota on `path` is gone. Needs ADMIN on the node."""
        return self._submit(ops.delete_quota(path))

    def add_auth_async(self, scheme: str, credential: str) -> Any:
        """True once the member took the credential (digest: "user:password");
        the session proves it again on every member it moves to. An unknown
        scheme or a malformed credential is AuthFailedError and ends the session."""
        call = ops.auth(scheme, credential)
        self.auth_data.add((scheme, credential))
        return self._submit(call)


class ClientBase(Operations):
    """A session's state as both clients keep it: the protocol, the listeners,
    the lock that guards them (never held while user code runs)."""

    def __init__(
        self,
        hosts: str = "127.0.0.1:7181",
        timeout: float = 10.0,
        client_id: tuple[int, bytes] | None = None,
        linearizable_reads: bool = False,
        *,
        randomize_hosts: bool = True,
        logger: logging.Logger | None = None,
        default_acl: list[ACL] | None = None,
        auth_data: list[tuple[str, str]] | None = None,
        use_ssl: bool = False,
        verify_certs: bool = True,
        ca: str | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        keyfile_password: str | bytes | None = None,
        use_session_port: bool = True,
        **kazoo_options: Any,
    ) -> None:
        """`timeout` is the session timeout asked for, in seconds (the member
        clamps it); `client_id` resumes an existing session; `default_acl` is
        the ACL of the nodes created without one; `auth_data` is a list of
        (scheme, credential) pairs proven as each session starts. TLS, as
        kazoo: `use_ssl`, `ca` (PEM; default the system's CAs), `certfile` and
        `keyfile` (a client certificate, for mutual TLS), `keyfile_password`
        (an encrypted key), `verify_certs=False` (encrypt without checking
        the member's certificate: for tests only). A file that cannot be read
        or does not fit raises ValueError here. `use_session_port=False`
        keeps the session on the gRPC Session stream even where a member
        offers its session port (Coord.SessionPort), which is faster."""
        unknown = sorted(set(kazoo_options) - IGNORED_KAZOO_OPTIONS)
        if unknown:
            raise TypeError(f"unexpected keyword arguments: {', '.join(unknown)}")
        self._tls = ClientTLS.from_options(
            use_ssl, verify_certs, ca, certfile, keyfile, keyfile_password
        )
        self._tls_problem: TLSProblem | None = None  # the last, while the session starts
        self.use_session_port = use_session_port
        # Members whose offered session port could not be reached (a firewall,
        # a forwarded client port): their Session stream, from then on.
        self._session_port_unreachable: set[str] = set()
        if default_acl is not None:
            acls_to_wire(default_acl)  # refused here, not at the first create
        self.default_acl = default_acl
        self.auth_data = set()
        for scheme, credential in auth_data or ():
            ops.auth(scheme, credential)
            self.auth_data.add((scheme, credential))
        self.hosts = parse_hosts(hosts)
        if randomize_hosts:
            random.shuffle(self.hosts)
        self.linearizable_reads = linearizable_reads
        self._timeout = float(timeout)
        self._resume = client_id
        self._log = logger or logging.getLogger("coord_client")
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._protocol: Protocol | None = None
        self._stream: Any = None  # the stream of the member serving us, with .send()
        self._setup()

    @abstractmethod
    def _setup(self) -> None:
        """Make what the client's own I/O needs."""

    # ----------------------------------------------------------- the session

    def _new_protocol(self) -> Protocol:
        """The protocol of a new session, or of the one `client_id` named (once)."""
        session_id, password = self._resume or (0, b"")
        self._resume = None
        self._tls_problem = None
        self._protocol = Protocol(int(self._timeout * 1000), session_id, password)
        return self._protocol

    def _start_failed(
        self, phase: Phase, timeout: float, refusal: CoordError | None = None
    ) -> CoordError:
        """Why start() gave up, for it to raise once the client is stopped
        (`refusal`: the member's, when it refused a new session)."""
        if isinstance(refusal, LimitExceededError):
            return refusal
        if phase is Phase.EXPIRED:
            return SessionExpiredError("the session to resume has expired")
        if phase is Phase.AUTH_FAILED:
            return AuthFailedError("the member refused the credentials of auth_data")
        if self._tls_problem is not None:
            return TLSError(self._tls_problem)
        return CoordTimeoutError(f"no session with {','.join(self.hosts)} within {timeout}s")

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
        if protocol is None or protocol.phase in (
            Phase.CONNECTING,
            Phase.CLOSED,
            Phase.EXPIRED,
            Phase.AUTH_FAILED,
        ):
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

    def _remove_watch_calls(self, path: str, watch: Watcher) -> list[Call]:
        """The calls that drop the server watches `watch` leaves unused."""
        validate_path(path)
        with self._lock:
            return self._protocol.remove_watch(path, watch) if self._protocol else []

    def _prove_auth_data(self) -> list[Any]:
        """Send every credential of `auth_data` on a new session; their handles."""
        return [self._submit(ops.auth(scheme, cred)) for scheme, cred in sorted(self.auth_data)]

    def _should_connect(self, protocol: Protocol, redial: Redial) -> bool:
        """Whether the session loop goes on to (re)connect; once no member has
        answered for the session timeout, the session is lost."""
        with self._lock:
            if not protocol.wants_connection or redial.hopeless():
                return False
            if redial.time_left() <= 0:
                self._deliver(protocol.expire())
                return False
            return True

    def _dial_failed(self, redial: Redial, problem: TLSProblem | None) -> None:
        """A member could not be dialled; `problem` says so when TLS is why."""
        if problem is None:
            return
        # While the session starts, start() raises it; later it is news.
        self._log.log(logging.WARNING if redial.was_up else logging.DEBUG, "%s", problem)
        redial.tls_failed()
        with self._lock:
            self._tls_problem = problem

    def _tries_session_port(self, address: str) -> bool:
        return self.use_session_port and address not in self._session_port_unreachable

    def _session_port_failed(self, address: str, port: int) -> None:
        """The member at `address` offered its session port `port`, and it
        could not be reached in time: not tried again by this client."""
        self._log.info(
            "the session port %d of %s cannot be reached: its Session stream instead", port, address
        )
        self._session_port_unreachable.add(address)

    def _disconnected(self, protocol: Protocol) -> None:
        """The stream to the member ended (or never began)."""
        with self._lock:
            self._stream = None
            self._deliver(protocol.connection_lost())

    # ------------------------------------------------------------- requests

    @abstractmethod
    def _new_handle(self) -> Any:
        """What a request's Completion completes."""

    @abstractmethod
    def _complete(self, handle: Any, result: Any, error: CoordError | None) -> None:
        """Complete a handle (under the lock)."""

    @abstractmethod
    def _schedule(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a user callback later, in order, outside the lock."""

    def _state_changed(self, state: KazooState) -> None:  # noqa: B027 (a hook)
        """The session's state changed (under the lock)."""

    def _submit(self, call: Call) -> Any:
        handle = self._new_handle()
        with self._lock:
            try:
                if self._protocol is None:
                    raise ConnectionClosedError("the client is not started")
                if self.linearizable_reads and call.read:
                    self._send(self._protocol.submit(ops.sync(call.path), None))
                self._send(self._protocol.submit(call, handle))
            except CoordError as exc:
                self._complete(handle, None, exc)
        return handle

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
                self._complete(outcome.handle, outcome.result, outcome.error)
            elif isinstance(outcome, Notification):
                self._schedule(outcome.callback, outcome.event)
            elif isinstance(outcome, Send):
                self._send(outcome.message)
            elif isinstance(outcome, StateChanged):
                for listener in self._listeners:
                    self._schedule(self._tell_listener, listener, outcome.state)
                self._state_changed(outcome.state)

    def _receive(self, protocol: Protocol, stream: Any, message: pb.ServerMessage) -> bool:
        """Hand one message of `stream` to the protocol; True when the stream is
        done with (the session closed, or refused)."""
        with self._lock:
            self._deliver(protocol.receive(message))
            kind = message.WhichOneof("kind")
            if kind == "connected" and protocol.phase is Phase.CONNECTED:
                stream.established = True
                stream.set_timeout(protocol.timeout_ms / 1000)
            return kind in ("closed", "session_error")

    def _tell_listener(self, listener: Listener, state: KazooState) -> Any:
        result = listener(state)
        if result is True:
            self.remove_listener(listener)
        return result
