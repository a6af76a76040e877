"""`Party`: group membership, one ephemeral node per member (kazoo's Party).

A member's node is `<path>/<uuid>__party__` with its identifier as data; it
goes with the member's session, so a crashed member leaves by itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from coord_api.paths import join, validate_path
from coord_client.recipes.recipe import Recipe
from coord_client.recipes.session import Holding
from coord_client.recipes.steps import (
    Steps,
    children,
    create_once,
    delete_owned,
    identifiers,
    operation,
)


class Party(Recipe):
    """`join()`, `leave()`, `members()` (the members' identifiers); threaded,
    `len(party)` and iteration too."""

    _NODE_NAME = "__party__"

    def __init__(self, client: Any, path: str, identifier: str | None = None) -> None:
        self.client = client
        self.path = validate_path(path)
        self.data = str(identifier or "").encode()
        self.node = uuid.uuid4().hex + self._NODE_NAME
        self.create_path = join(self.path, self.node)
        self._holding = Holding(client, lost=self.driver.event())

    @property
    def participating(self) -> bool:
        """Joined, and the session that joined has not ended."""
        return self._holding.held

    @operation
    def join(self) -> Steps[None]:
        """Become a member (idempotent)."""
        self._holding.listen()
        yield from create_once(self.create_path, self.data, ephemeral=True, makepath=True)
        self._holding.claim()

    @operation
    def leave(self) -> Steps[bool]:
        """Stop being a member; False when we were not one."""
        was = self._holding.held
        if was:
            yield from delete_owned(self._holding, self.create_path, 0)
        self._holding.drop()
        return was

    @operation
    def members(self) -> Steps[list[str]]:
        """The members' identifiers."""
        names = yield from children(self.path)
        mine = (join(self.path, name) for name in names if name.endswith(self._NODE_NAME))
        return (yield from identifiers(mine))

    def __len__(self) -> int:
        self.threaded_only("`len(await party.members())`")
        return len(self.members())

    def __iter__(self) -> Iterator[str]:
        self.threaded_only("`await party.members()`")
        return iter(self.members())
