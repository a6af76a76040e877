"""How recipes wait: for a deadline, and for the session to come back
(`steps.retrying` waits with `suspension` between repeats of a call)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from coord_client.events import KazooState

if TYPE_CHECKING:
    from coord_client.client import Client


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
