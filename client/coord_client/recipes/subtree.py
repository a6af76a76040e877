"""`SubtreeWatch`: the one persistent recursive watch of a recipe that follows
a subtree (TreeCache, Config). A lost session takes its watches with it, so
the recipe arms it again when the client is back with a new session."""

from __future__ import annotations

import contextlib

from coord_client.exceptions import CoordError
from coord_client.ops import Watcher
from coord_client.recipes.steps import Steps, once


class SubtreeWatch:
    """`arm()` (idempotent), `disarm()` when the session is lost, `close()`;
    `arm` and `close` are steps of the recipe's algorithm."""

    def __init__(self, path: str, callback: Watcher) -> None:
        self._path = path
        self._callback = callback
        self._armed = False

    def arm(self) -> Steps[None]:
        if not self._armed:
            yield once("add_watch", self._path, self._callback, recursive=True)
            self._armed = True

    def disarm(self) -> None:
        """The session, and the watch with it, is gone."""
        self._armed = False

    def close(self) -> Steps[None]:
        if self._armed:
            self._armed = False
            with contextlib.suppress(CoordError):  # a stopped client has no watch left
                yield once("remove_watch", self._path, self._callback)
