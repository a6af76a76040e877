"""`Party`: group membership, one ephemeral node per member (kazoo's Party).

A member's node is `<path>/<uuid>__party__` with its identifier as data; it
goes with the member's session, so a crashed member leaves by itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

from coord_client.paths import join, validate_path
from coord_client.recipes.nodes import children, create_once, data_of, delete_owned
from coord_client.recipes.session import Holding

if TYPE_CHECKING:
    from coord_client.client import Client


class Party:
    """`join()`, `leave()`; `len(party)` and iteration over the members' identifiers."""

    _NODE_NAME = "__party__"

    def __init__(self, client: Client, path: str, identifier: str | None = None) -> None:
        self.client = client
        self.path = validate_path(path)
        self.data = str(identifier or "").encode()
        self.node = uuid.uuid4().hex + self._NODE_NAME
        self.create_path = join(self.path, self.node)
        self._holding = Holding(client)

    @property
    def participating(self) -> bool:
        """Joined, and the session that joined has not ended."""
        return self._holding.held

    def join(self) -> None:
        """Become a member (idempotent)."""
        self._holding.listen()
        create_once(self.client, self.create_path, self.data, ephemeral=True, makepath=True)
        self._holding.claim()

    def leave(self) -> bool:
        """Stop being a member; False when we were not one."""
        if not self._holding.held:
            self._holding.drop()
            return False
        delete_owned(self.client, self._holding, self.create_path, 0)
        self._holding.drop()
        return True

    def __len__(self) -> int:
        return len(self._members())

    def __iter__(self) -> Iterator[str]:
        members = [join(self.path, name) for name in self._members()]
        for data in data_of(self.client, members):
            yield data.decode()

    def _members(self) -> list[str]:
        names = children(self.client, self.path)
        return [name for name in names if name.endswith(self._NODE_NAME)]
