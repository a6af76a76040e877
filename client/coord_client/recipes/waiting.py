"""How recipes wait: for a deadline, for the session to come back, past a
connection loss.

The SDK holds calls made while the session is suspended and sends them once
it is back, so a `ConnectionLoss` normally means the session itself is gone.
A recipe still survives a client that fails calls while suspended: it waits
for the session and repeats calls that are safe to repeat.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from coord_client.events import KazooState
from coord_client.exceptions import ConnectionLoss

if TYPE_CHECKING:
    from coord_client.client import Client

T = TypeVar("T")


@dataclass
class Deadline:
    """`timeout` seconds from now; None never comes."""

    timeout: float | None
    _end: float | None = field(init=False)

    def __post_init__(self) -> None:
        self._end = None if self.timeout is None else time.monotonic() + self.timeout

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None when there is no deadline."""
        return None if self._end is None else max(0.0, self._end - time.monotonic())


@contextmanager
def suspension(client: Client, settled: Any) -> Iterator[bool]:
    """Set the event `settled` once the session is no longer suspended, while
    in the block; yields whether it is suspended now (so worth waiting for)."""

    def on_state(state: KazooState) -> None:
        if state is not KazooState.SUSPENDED:
            settled.set()

    client.add_listener(on_state)
    try:
        yield client.state is KazooState.SUSPENDED
    finally:
        client.remove_listener(on_state)


def wait_connected(client: Client, timeout: float | None = None) -> None:
    """Return once the session is no longer suspended (connected again, or lost),
    or `timeout` passed."""
    settled = threading.Event()
    with suspension(client, settled) as suspended:
        if suspended:
            settled.wait(timeout)


def retrying(client: Client, call: Callable[[], T]) -> T:
    """`call()`, repeated after each ConnectionLoss while the session lives
    on, for at most two session timeouts (then the ConnectionLoss stands).
    Only for calls that are safe to repeat: reads, and writes whose repeat is
    recognised (a create of a name only we use, a delete of our own node)."""
    deadline = time.monotonic() + 2 * client.session_timeout
    while True:
        try:
            return call()
        except ConnectionLoss:
            if client.client_id is None or time.monotonic() > deadline:
                raise  # the session is gone, or this is not getting better
            wait_connected(client, client.session_timeout)
