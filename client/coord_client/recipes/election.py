"""`Election`: leader election as kazoo does it, a `Lock` whose holder leads.

The leader runs `func` while it holds the lock; leadership ends when `func`
returns. A leader should stop acting when `is_leader` turns False (the
session is suspended, or gone: then `lost` is set too).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from coord_client.recipes.errors import CancelledError
from coord_client.recipes.lock import Lock
from coord_client.recipes.recipe import Recipe
from coord_client.recipes.steps import Await, Steps, operation


class Election(Recipe):
    """Contend for leadership of `path`; `identifier` names us in `contenders()`."""

    def __init__(self, client: Any, path: str, identifier: str | None = None) -> None:
        self.client = client
        self.lock = self.same_kind(Lock)(client, path, identifier)

    @operation
    def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Steps[None]:
        """Wait to be elected, then call `func(*args, **kwargs)` as the leader
        (with asyncio, awaiting what it returns); returns when it does (or at
        once after `cancel()`)."""
        if not callable(func):
            raise ValueError("leader function is not callable")
        try:
            yield from self.lock.acquire.steps()
            try:
                result = func(*args, **kwargs)
                if self.driver.asynchronous and isinstance(result, Awaitable):
                    yield Await(result)
            finally:
                yield from self.lock.release.steps()
        except CancelledError:
            pass

    def cancel(self) -> None:
        """Stop waiting to be elected."""
        self.lock.cancel()

    @operation
    def contenders(self) -> Steps[list[str]]:
        """The contenders' identifiers, the leader first."""
        return (yield from self.lock.contenders.steps())

    @property
    def is_leader(self) -> bool:
        """Elected, with the session confirmed."""
        return self.lock.is_acquired

    @property
    def lost(self) -> Any:
        """Set when the session is gone, and leadership with it (an Event)."""
        return self.lock.lost
