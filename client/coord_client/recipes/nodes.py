"""The node operations recipes share, safe to repeat after a connection loss."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coord_client.exceptions import (
    CoordError,
    NodeExistsError,
    NoNodeError,
    RolledBackError,
    RuntimeInconsistency,
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


def children(client: Client, path: str) -> list[str]:
    """The child names of `path`; none when it does not exist."""
    try:
        return retrying(client, lambda: client.get_children(path))
    except NoNodeError:
        return []


def transaction_error(results: list[object]) -> CoordError | None:
    """The error that made a transaction fail (not the ops it undid), None when it applied."""
    for result in results:
        if isinstance(result, CoordError) and not isinstance(
            result, RolledBackError | RuntimeInconsistency
        ):
            return result
    return None
