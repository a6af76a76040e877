"""The node operations recipes share, safe to repeat after a connection loss."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coord_client.exceptions import (
    NodeExistsError,
)
from coord_client.recipes.waiting import retrying

if TYPE_CHECKING:
    from coord_client.client import Client


def create_once(
    client: Client, path: str, value: bytes = b"", ephemeral: bool = False, makepath: bool = False
) -> bool:
    """Create `path`; False when it is there already (made by a create repeated
    after a connection loss when the name is only ours, or by someone else)."""
    try:
        retrying(client, lambda: client.create(path, value, ephemeral=ephemeral, makepath=makepath))
    except NodeExistsError:
        return False
    return True
