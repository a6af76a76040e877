"""The node operations recipes share, safe to repeat after a connection loss."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from coord_client.exceptions import (
    CoordError,
    NodeExistsError,
    NoNodeError,
    RolledBackError,
    RuntimeInconsistency,
    SessionExpiredError,
)
from coord_client.recipes.session import Holding
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


def data_of(client: Client, paths: Iterable[str]) -> list[bytes]:
    """The data of each node, read in one round trip; nodes gone meanwhile are skipped."""
    pending = [client.get_async(path) for path in paths]
    found = []
    for result in pending:
        with contextlib.suppress(NoNodeError):
            found.append(result.get()[0])
    return found


def delete_owned(client: Client, holding: Holding, path: str, version: int) -> None:
    """Delete a node `holding` made, in one delete that checks its version;
    not when it went with its session (a node by that name now is not ours)."""
    if not holding.held:
        return
    # gone already (a repeated delete), or with the session
    with contextlib.suppress(NoNodeError, SessionExpiredError):
        retrying(client, lambda: client.delete(path, version=version))


def transaction_error(results: list[object]) -> CoordError | None:
    """The error that made a transaction fail (not the ops it undid), None when it applied."""
    for result in results:
        if isinstance(result, CoordError) and not isinstance(
            result, RolledBackError | RuntimeInconsistency
        ):
            return result
    return None
