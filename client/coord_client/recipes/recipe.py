"""The public side of a recipe: which driver its operations run on, and what
is acquired and released (locks, semaphores) as a context manager.

A recipe class is threaded; `for_asyncio(cls)` is the same class run by the
asyncio driver, whose operations are coroutines and which is an async
context manager. The asyncio client's recipe attributes are those classes.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self, TypeVar

from coord_client.recipes.drive_asyncio import ASYNCIO
from coord_client.recipes.drive_threads import THREADED
from coord_client.recipes.session import Holding
from coord_client.recipes.steps import Driver, Steps, operation

R = TypeVar("R", bound=type)


class Recipe:
    """A recipe object: its `client`, and the `driver` its operations run on."""

    driver: ClassVar[Driver] = THREADED
    client: Any

    def same_kind(self, recipe: R) -> R:
        """`recipe` run by our driver: for a recipe built on another one."""
        return for_asyncio(recipe) if self.driver.asynchronous else recipe

    def threaded_only(self, instead: str) -> None:
        """Refuse what cannot await (`len()`, iteration) on the asyncio side."""
        if self.driver.asynchronous:
            raise TypeError(f"the asyncio {type(self).__name__} cannot: use {instead}")


@functools.cache
def for_asyncio(recipe: R) -> R:
    """The recipe class whose operations are coroutines (`await lock.acquire()`)."""
    return type(  # type: ignore[return-value]
        recipe.__name__,
        (recipe,),
        {"driver": ASYNCIO, "__module__": recipe.__module__, "__doc__": recipe.__doc__},
    )


class Holder(Recipe, ABC):
    """What is acquired and released (locks, semaphores): its state as the
    session allows; `with` (threaded) or `async with` (asyncio) takes it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._holding = Holding(client, lost=self.driver.event())
        self._acquired = False

    @property
    def is_acquired(self) -> bool:
        """Held, with the session confirmed: False while it is suspended."""
        return self._acquired and self._holding.active

    @property
    def lost(self) -> Any:
        """Set when the session that held (or waited for) it is gone (an Event)."""
        return self._holding.lost

    @abstractmethod
    def acquire(self) -> Any:
        """Take the lease or lock; each recipe has its own way (an operation)."""

    @operation
    def release(self) -> Steps[bool]:
        """Let go, deleting our node; False when nothing was held."""
        if not self._acquired:
            return False
        self._acquired = False
        yield from self._let_go()
        return True

    @abstractmethod
    def _let_go(self) -> Steps[None]:
        """Delete our node if we made one, and be ready for the next acquire."""

    def __enter__(self) -> Self:
        if self.driver.asynchronous:
            raise TypeError(f"use 'async with' with the asyncio {type(self).__name__}")
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    async def __aenter__(self) -> Self:
        if not self.driver.asynchronous:
            raise TypeError(f"use 'with' with the threaded {type(self).__name__}")
        await self.acquire()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.release()
