"""What recipes learn from the client's connection states.

`Wakeup` ends a wait when a watch fires or when the session is lost, so no
wait outlives its session. `Holding` tells a holder (of a lock, a lease)
whether its node still stands for it: SUSPENDED means "stop acting until the
session is confirmed", CONNECTED with the same session means the node is
still there (only its owner deletes it, and the session never ended), LOST or
a new session means it is gone.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from coord_client.events import KazooState

if TYPE_CHECKING:
    from coord_client.client import Client


def session_id(client: Client) -> int | None:
    """The client's session id now, None while it has none."""
    ident = client.client_id
    return ident[0] if ident else None


class Wakeup:
    """An Event set by a watch (call the object with the event) or by the loss of
    the session; listens to the session while used as a context manager."""

    def __init__(self, client: Client, event: Any = None) -> None:
        """`event`: a threading.Event unless given (the asyncio recipes give an
        asyncio.Event)."""
        self._client = client
        self.event = event if event is not None else threading.Event()

    def __call__(self, *_: Any) -> None:
        self.event.set()

    def __enter__(self) -> Wakeup:
        self._client.add_listener(self._on_state)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._client.remove_listener(self._on_state)

    def _on_state(self, state: KazooState) -> None:
        if state is KazooState.LOST:
            self.event.set()


class Holding:
    """Whether what this client holds still stands for it.

    `claim()` when the holder's node is made, `drop()` when it lets go. In
    between, `active` is False while the session is suspended, and for good
    once the session is lost or replaced (then `lost` is set). A node that is
    not ephemeral outlives its session, so only suspension counts for it.
    """

    def __init__(self, client: Client, ephemeral: bool = True, lost: Any = None) -> None:
        """`lost` is the event to set (a threading.Event unless given: the
        asyncio recipes give an asyncio.Event)."""
        self._client = client
        self.ephemeral = ephemeral
        self.lost = lost if lost is not None else threading.Event()
        self._session: int | None = None
        self._suspended = False
        self._listening = False

    @property
    def held(self) -> bool:
        """Claimed and not lost, whether or not the session is confirmed now."""
        return self._session is not None

    @property
    def active(self) -> bool:
        """Held, and the session that made the node is the one connected now."""
        if self._session is None or self._suspended:
            return False
        return not self.ephemeral or session_id(self._client) == self._session

    def listen(self) -> None:
        """Follow the session from now on (before the node is made)."""
        self.lost.clear()
        self._suspended = self._client.state is KazooState.SUSPENDED
        if not self._listening:
            self._listening = True
            self._client.add_listener(self._on_state)

    def claim(self) -> None:
        """The node is made and ours: we hold it under the current session."""
        self._session = session_id(self._client)

    def confirm(self) -> None:
        """The server has just shown the node is still ours."""
        self._suspended = False

    def drop(self) -> None:
        """Let go: stop following the session."""
        self._session = None
        if self._listening:
            self._listening = False
            self._client.remove_listener(self._on_state)

    def _on_state(self, state: KazooState) -> None:
        if state is KazooState.SUSPENDED:
            self._suspended = True
        elif state is KazooState.CONNECTED:
            if self.ephemeral and self._session not in (None, session_id(self._client)):
                self.lose()  # a new session: the old one's ephemeral node is gone
            self._suspended = False
        elif self.ephemeral:
            self.lose()

    def lose(self) -> None:
        """The node is gone (the session ended, or the server no longer has it)."""
        self._session = None
        self.lost.set()
