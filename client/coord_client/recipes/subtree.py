"""`SubtreeWatch`: the one persistent recursive watch of a recipe that follows
a subtree (TreeCache, Config). A lost session takes its watches with it, so
the recipe arms it again when the client is back with a new session."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from coord_client.exceptions import CoordError
from coord_client.ops import Watcher

if TYPE_CHECKING:
    from coord_client.client import Client


class SubtreeWatch:
    """`arm()` (idempotent), `disarm()` when the session is lost, `close()`."""

    def __init__(self, client: Client, path: str, callback: Watcher) -> None:
        self._client = client
        self._path = path
        self._callback = callback
        self._armed = False

    def arm(self) -> None:
        if not self._armed:
            self._client.add_watch(self._path, self._callback, recursive=True)
            self._armed = True

    def disarm(self) -> None:
        """The session, and the watch with it, is gone."""
        self._armed = False

    def close(self) -> None:
        if self._armed:
            self._armed = False
            with contextlib.suppress(CoordError):  # a stopped client has no watch left
                self._client.remove_watch(self._path, self._callback)
