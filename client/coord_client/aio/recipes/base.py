"""How the asyncio recipes wait and hold: the threaded recipes' rules
(recipes/waiting.py, recipes/session.py) with asyncio events.

`Holding` itself is shared: it only listens to states and reads the session
id, which the asyncio client gives synchronously. Waits end when a watch
fires or the session is lost; a ConnectionLoss is repeated while the session
lives on, for calls that are safe to repeat.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from coord_client.exceptions import (
    ConnectionLoss,
    NodeExistsError,
)
from coord_client.recipes.waiting import suspension

if TYPE_CHECKING:
    from coord_client.aio.client import Client

T = TypeVar("T")

__all__ = ["create_once", "retrying"]


async def wait_for(event: asyncio.Event, timeout: float | None) -> bool:
    """True once `event` is set; False when `timeout` seconds pass first."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        return False
    return True


async def wait_connected(client: Client, timeout: float | None = None) -> None:
    """Return once the session is no longer suspended, or `timeout` passed."""
    settled = asyncio.Event()
    with suspension(client, settled) as suspended:
        if suspended:
            await wait_for(settled, timeout)


async def retrying(client: Client, call: Callable[[], Awaitable[T]]) -> T:
    """`await call()`, repeated after each ConnectionLoss while the session
    lives on, for at most two session timeouts (the threaded `retrying`)."""
    deadline = time.monotonic() + 2 * client.session_timeout
    while True:
        try:
            return await call()
        except ConnectionLoss:
            if client.client_id is None or time.monotonic() > deadline:
                raise
            await wait_connected(client, client.session_timeout)


async def create_once(
    client: Client, path: str, value: bytes = b"", ephemeral: bool = False, makepath: bool = False
) -> bool:
    """Create `path`; False when it is there already."""
    try:
        await retrying(
            client, lambda: client.create(path, value, ephemeral=ephemeral, makepath=makepath)
        )
    except NodeExistsError:
        return False
    return True
