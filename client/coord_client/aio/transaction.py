"""`AioTransaction`: the threaded client's TransactionRequest, committed with `await`."""

from __future__ import annotations

from typing import Any

from coord_client.transaction import TransactionRequest


class AioTransaction(TransactionRequest):
    """Collect ops as kazoo does, then `await t.commit()`: one result per op, a
    failure as exception instances in the list. `async with` commits on exit."""

    async def commit(self) -> list[Any]:  # type: ignore[override]
        return await self.commit_async()

    def __enter__(self) -> TransactionRequest:
        raise TypeError("use `async with` with the asyncio client's transaction")

    async def __aenter__(self) -> AioTransaction:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            await self.commit()
