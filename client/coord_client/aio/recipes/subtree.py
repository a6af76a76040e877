"""`Following`: what the asyncio recipes that follow a subtree with ONE
persistent recursive watch (Config, TreeCache) share: the watch is set at the
start and set again when the client is back with a new session (a lost
session takes its watches with it), and changes are taken one at a time, in
the order they came, under an asyncio.Lock."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from coord_client.events import KazooState, WatchedEvent
from coord_client.exceptions import ConnectionLoss, NoNodeError, SessionExpiredError

if TYPE_CHECKING:
    from coord_client.aio.client import Client

GONE = (SessionExpiredError, ConnectionLoss, NoNodeError)


class Following(ABC):
    """Call `_follow(client, path)` in `__init__`, `_start_following()` under
    `_lock`, `_stop_following()` to close."""

    _client: Client
    _closed: bool

    def _follow(self, client: Client, path: str) -> None:
        self._followed = path
        self._lock = asyncio.Lock()  # one change at a time, in the order they came
        self._armed = False
        self._tasks: set[asyncio.Task[Any]] = set()

    def _call(self, callback: Callable[..., Any], *args: Any) -> None:
        """Call a user's callback; a coroutine it returns runs as a task."""
        result = callback(*args)
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @abstractmethod
    async def _on_event(self, event: WatchedEvent) -> None:
        """A change under the path."""

    @abstractmethod
    async def _reload(self) -> None:
        """Read the subtree again after the client came back."""

    def _state_changed(self, state: KazooState) -> None:  # noqa: B027 (a hook)
        """Told after each change of state, under the lock."""

    async def _start_following(self) -> None:
        self._client.add_listener(self._on_state)
        await self._arm()

    async def _stop_following(self) -> None:
        self._closed = True
        self._client.remove_listener(self._on_state)
        if self._armed:
            self._armed = False
            with contextlib.suppress(*GONE):  # a stopped client has no watch left
                await self._client.remove_watch(self._followed, self._on_event)

    async def _arm(self) -> None:
        if not self._armed:
            await self._client.add_watch(self._followed, self._on_event, recursive=True)
            self._armed = True

    async def _on_state(self, state: KazooState) -> None:
        async with self._lock:
            if self._closed:
                return
            if state is KazooState.LOST:
                self._armed = False  # the watch went with the session
            elif state is KazooState.CONNECTED:
                with contextlib.suppress(*GONE):
                    await self._arm()
                    await self._reload()
            self._state_changed(state)
