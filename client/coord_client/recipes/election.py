"""`Election`: leader election as kazoo does it, a `Lock` whose holder leads.

The leader runs `func` while it holds the lock; leadership ends when `func`
returns. A leader should stop acting when `is_leader` turns False (the
session is suspended, or gone: then `lost` is set too).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from coord_client.recipes.errors import CancelledError
from coord_client.recipes.lock import Lock

if TYPE_CHECKING:
    from coord_client.client import Client


class Election:
    """Contend for leadership of `path`; `identifier` names us in `contenders()`."""

    def __init__(self, client: Client, path: str, identifier: str | None = None) -> None:
        self.lock = Lock(client, path, identifier)

    def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Wait to be elected, then call `func(*args, **kwargs)` as the leader;
        returns when it does (or at once after `cancel()`)."""
        if not callable(func):
            raise ValueError("leader function is not callable")
        try:
            with self.lock:
                func(*args, **kwargs)
        except CancelledError:
            pass

    def cancel(self) -> None:
        """Stop waiting to be elected."""
        self.lock.cancel()

    def contenders(self) -> list[str]:
        """The contenders' identifiers, the leader first."""
        return self.lock.contenders()

    @property
    def is_leader(self) -> bool:
        """Elected, with the session confirmed."""
        return self.lock.is_acquired

    @property
    def lost(self) -> threading.Event:
        """Set when the session is gone, and leadership with it."""
        return self.lock.lost
