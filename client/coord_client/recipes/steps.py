"""What a recipe asks of its client: the requests its algorithm yields.

Each recipe's algorithm is written once, as generators that never do I/O
themselves: they yield a request (`Call` a client method, `Wait` for an
event, ...) and are sent its result, or have its exception thrown in. A
driver performs the requests: `drive_threads` with blocking calls and
threading.Event, `drive_asyncio` with awaits and asyncio.Event. A recipe's
public methods are `operation`s: run through the object's driver, they
return the result (threaded) or a coroutine (asyncio).

The composite steps here are the ones recipes share: repeating a call after
a connection loss while the session lives on, reading many nodes at once,
making a node once, deleting our own node.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from coord_client.exceptions import (
    ConnectionLoss,
    CoordError,
    NodeExistsError,
    NoNodeError,
    RolledBackError,
    RuntimeInconsistency,
    SessionExpiredError,
)
from coord_client.recipes.waiting import suspension

if TYPE_CHECKING:
    from coord_client.recipes.session import Holding

T = TypeVar("T")
Steps = Generator["Request", Any, T]


@dataclass(frozen=True)
class Repeatable:
    """A request that, with `retry`, is repeated after a ConnectionLoss while
    the session lives on (only for those safe to repeat: reads, and writes
    whose repeat is recognised)."""

    retry: bool = field(default=False, kw_only=True)

    def attempt(self) -> Steps[Any]:
        """This request made once (what `retrying` repeats)."""
        return (yield replace(self, retry=False))


@dataclass(frozen=True)
class Call(Repeatable):
    """`client.<method>(*args, **kwargs)`."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Commit(Repeatable):
    """One transaction: `build(transaction)` adds its operations. Its result
    is the transaction's: one per operation, a failed one's error in its place."""

    build: Callable[[Any], None]


@dataclass(frozen=True)
class Wait:
    """Wait for `event` (one made by `NewEvent`); True once set, False when
    `timeout` seconds (None: no limit) pass first."""

    event: Any
    timeout: float | None


@dataclass(frozen=True)
class NewEvent:
    """A new unset event of the driver's kind (threading or asyncio)."""


@dataclass(frozen=True)
class Gather:
    """`calls` made at once (one round trip), none repeated; the result of
    each, or the error it raised in its place."""

    calls: tuple[Call, ...]


@dataclass(frozen=True)
class Take:
    """Acquire `mutex` (a driver's `mutex()`): True when taken, False when not
    blocking and it is held, or when `timeout` seconds pass first."""

    mutex: Any
    blocking: bool
    timeout: float | None


@dataclass(frozen=True)
class Await:
    """Await `awaitable` (what an asyncio leader function returns); only the
    asyncio driver can."""

    awaitable: Awaitable[Any]


Request = Call | Commit | Wait | NewEvent | Gather | Take | Await


class Driver(Protocol):
    """Performs a recipe's requests against a client, one way of waiting."""

    asynchronous: bool

    def run(self, client: Any, steps: Steps[T]) -> Any:
        """The generator's return value (threaded), or a coroutine of it (asyncio)."""

    def start(self, client: Any, steps: Steps[T]) -> Any:
        """Begin running the generator now: threaded, to its end (its return
        value); asyncio, as a task to await."""

    def detach(self, result: Any) -> None:
        """What a user's callback returned: asyncio runs a coroutine as a task."""

    def event(self) -> Any:
        """A new unset event of this driver's kind."""

    def mutex(self, reentrant: bool = False) -> Any:
        """A new lock of this driver's kind, for `Take`; `reentrant` when the
        thread holding it may call back into the recipe (user callbacks)."""


class Run(Generic[T]):
    """One generator being driven: what it asks next, what it finally returned."""

    def __init__(self, steps: Steps[T]) -> None:
        self._steps = steps
        self._send: Any = None
        self._throw: BaseException | None = None
        self.value: T | None = None

    def next(self) -> Request | None:
        """The next request; None once the generator has returned (see `value`)."""
        try:
            if self._throw is not None:
                error, self._throw = self._throw, None
                return self._steps.throw(error)
            return self._steps.send(self._send)
        except StopIteration as stop:
            self.value = stop.value
            return None

    def sent(self, result: Any) -> None:
        """The last request gave `result`."""
        self._send = result

    def thrown(self, error: BaseException) -> None:
        """The last request raised `error`."""
        self._send, self._throw = None, error


class operation(Generic[T]):  # noqa: N801 (used as a decorator, like property)
    """A public recipe method written as a generator: calling it on an object
    runs the generator through the object's driver. `obj.method.steps(...)`
    is the bare generator, for another recipe's algorithm to `yield from`."""

    def __init__(self, steps: Callable[..., Steps[T]]) -> None:
        self.steps = steps
        functools.update_wrapper(self, steps)  # type: ignore[arg-type]

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        steps = functools.partial(self.steps, obj)

        def run(*args: Any, **kwargs: Any) -> Any:
            return obj.driver.run(obj.client, steps(*args, **kwargs))

        run.steps = steps  # type: ignore[attr-defined]
        return functools.update_wrapper(run, self.steps)


def call(method: str, *args: Any, **kwargs: Any) -> Call:
    """A `Call` that is repeated after a connection loss."""
    return Call(method, args, kwargs, retry=True)


def once(method: str, *args: Any, **kwargs: Any) -> Call:
    """A `Call` that is not repeated: a write whose repeat would count twice."""
    return Call(method, args, kwargs)


# ------------------------------------------------------- composite steps


def transaction_error(results: list[object]) -> CoordError | None:
    """The error that made a transaction fail (not the ops it undid), None when it applied."""
    for result in results:
        if isinstance(result, CoordError) and not isinstance(
            result, RolledBackError | RuntimeInconsistency
        ):
            return result
    return None


def commit(build: Callable[[Any], None]) -> Steps[list[object]]:
    """Commit the transaction `build` makes, once; raise the error that made it fail."""
    results = yield Commit(build)
    if (error := transaction_error(results)) is not None:
        raise error
    return results


def retrying(client: Any, attempt: Callable[[], Steps[T]]) -> Steps[T]:
    """`attempt()`, repeated after each ConnectionLoss while the session lives
    on, for at most two session timeouts (then the ConnectionLoss stands).
    Drivers run a request with `retry` through this. The SDK holds calls made
    while the session is suspended, so a ConnectionLoss normally means the
    session is gone; this is for a client that fails them instead."""
    deadline = time.monotonic() + 2 * client.session_timeout
    while True:
        try:
            return (yield from attempt())
        except ConnectionLoss:
            if client.client_id is None or time.monotonic() > deadline:
                raise  # the session is gone, or this is not getting better
            yield from wait_connected(client, client.session_timeout)


def wait_connected(client: Any, timeout: float | None = None) -> Steps[None]:
    """Return once the session is no longer suspended (connected again, or
    lost), or `timeout` passed."""
    settled = yield NewEvent()
    with suspension(client, settled) as suspended:
        if suspended:
            yield Wait(settled, timeout)


def create_once(
    path: str, value: bytes = b"", ephemeral: bool = False, makepath: bool = False
) -> Steps[bool]:
    """Create `path`; False when it is there already (made by a create repeated
    after a connection loss when the name is only ours, or by someone else)."""
    try:
        yield call("create", path, value, ephemeral=ephemeral, makepath=makepath)
    except NodeExistsError:
        return False
    return True


def children(path: str) -> Steps[list[str]]:
    """The child names of `path`; none when it does not exist."""
    try:
        return (yield call("get_children", path))
    except NoNodeError:
        return []


def holding(mutex: Any, work: Steps[T]) -> Steps[T]:
    """`work` run while holding `mutex` (a driver's `mutex()`): one at a time."""
    yield Take(mutex, True, None)
    try:
        return (yield from work)
    finally:
        mutex.release()


def identifiers(paths: Iterable[str]) -> Steps[list[str]]:
    """The data of each node as text (the contenders' identifiers), read at
    once; nodes gone meanwhile are skipped."""
    results = yield Gather(tuple(once("get", path) for path in paths))
    found = []
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, NoNodeError):
            raise result
        if not isinstance(result, BaseException):
            found.append(result[0].decode())
    return found


def delete_owned(holding: Holding, path: str, version: int) -> Steps[None]:
    """Delete a node `holding` made, in one delete that checks its version;
    not when it went with its session (a node by that name now is not ours)."""
    if not holding.held:
        return
    # gone already (a repeated delete), or with the session
    with contextlib.suppress(NoNodeError, SessionExpiredError):
        yield call("delete", path, version=version)
