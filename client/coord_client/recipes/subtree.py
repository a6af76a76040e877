"""What a recipe that follows a subtree with ONE persistent recursive watch
shares (TreeCache, Config): the watch is set at the start and set again when
the client is back with a new session (a lost session takes its watches with
it), and changes, of the tree and of the session, are taken one at a time,
in the order they came."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from typing import Any

from coord_client.events import KazooState, WatchedEvent
from coord_client.exceptions import ConnectionLoss, CoordError, NoNodeError, SessionExpiredError
from coord_client.recipes.recipe import Recipe
from coord_client.recipes.steps import Steps, T, holding, once

GONE = (SessionExpiredError, ConnectionLoss, NoNodeError)


class Following(Recipe, ABC):
    """Call `_follow(path)` in `__init__`; `_start_following(work)` to arm the
    watch and run `work` (the first read), `_stop_following()` to close."""

    def _follow(self, path: str) -> None:
        self._followed = path
        self._lock = self.driver.mutex(reentrant=True)  # user callbacks may call back in
        self._armed = False
        self._closed = False

    def _locked(self, work: Steps[T]) -> Steps[T]:
        return holding(self._lock, work)

    @abstractmethod
    def _changed(self, event: WatchedEvent) -> Steps[None]:
        """A change under the path (under the lock)."""

    @abstractmethod
    def _reload(self) -> Steps[None]:
        """Read the subtree again after the client came back (under the lock)."""

    def _told(self, state: KazooState) -> None:
        """After each change of the session's state (under the lock)."""

    def _start_following(self, work: Steps[None]) -> Steps[None]:
        self.client.add_listener(self._on_state)
        yield from self._locked(self._armed_then(work))

    def _armed_then(self, work: Steps[None]) -> Steps[None]:
        yield from self._arm()
        yield from work

    def _stop_following(self) -> Steps[None]:
        self._closed = True
        self.client.remove_listener(self._on_state)
        if self._armed:
            self._armed = False
            with contextlib.suppress(CoordError):  # a stopped client has no watch left
                yield once("remove_watch", self._followed, self._on_event)

    def _arm(self) -> Steps[None]:
        if not self._armed:
            yield once("add_watch", self._followed, self._on_event, recursive=True)
            self._armed = True

    def _on_event(self, event: WatchedEvent) -> Any:
        """The watch (a coroutine, asyncio, run by the client as a task)."""
        return self.driver.run(self.client, self._locked(self._event(event)))

    def _event(self, event: WatchedEvent) -> Steps[None]:
        if not self._closed:
            yield from self._changed(event)

    def _on_state(self, state: KazooState) -> Any:
        return self.driver.run(self.client, self._locked(self._session_changed(state)))

    def _session_changed(self, state: KazooState) -> Steps[None]:
        if self._closed:
            return
        if state is KazooState.LOST:
            self._armed = False  # the watch went with the session
        elif state is KazooState.CONNECTED:
            with contextlib.suppress(*GONE):
                yield from self._arm()
                yield from self._reload()
        self._told(state)
