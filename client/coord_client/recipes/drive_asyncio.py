"""The asyncio driver: performs a recipe's requests (recipes/steps.py) with
the `coord_client.aio.Client` coroutines, waiting on asyncio.Event."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from coord_client.exceptions import NoNodeError
from coord_client.recipes import steps

T = TypeVar("T")


class AsyncioDriver:
    """Runs a recipe's generator as a coroutine on the running loop."""

    asynchronous = True

    async def run(self, client: Any, work: steps.Steps[T]) -> T:
        run = steps.Run(work)
        while (request := run.next()) is not None:
            try:
                run.sent(await self._perform(client, request))
            except BaseException as error:  # cancellation too: the generator cleans up
                run.thrown(error)
        return run.value  # type: ignore[return-value]

    def start(self, client: Any, work: steps.Steps[T]) -> asyncio.Future[T]:
        """Run as a task, started now: await it for the result."""
        return asyncio.ensure_future(self.run(client, work))

    def event(self) -> asyncio.Event:
        return asyncio.Event()

    def mutex(self) -> asyncio.Lock:
        return asyncio.Lock()

    async def _perform(self, client: Any, request: steps.Request) -> Any:
        match request:
            case steps.Call(retry=True) | steps.Commit(retry=True):
                return await self.run(client, steps.retrying(client, request.attempt))
            case steps.Call(method=method, args=args, kwargs=kwargs):
                return await getattr(client, method)(*args, **kwargs)
            case steps.Commit(build=build):
                transaction = client.transaction()
                build(transaction)
                return await transaction.commit()
            case steps.Wait(event=event, timeout=timeout):
                return await _within(event.wait(), timeout)
            case steps.NewEvent():
                return self.event()
            case steps.ReadAll(paths=paths):
                return await _read_all(client, paths)
            case steps.Take(mutex=mutex, blocking=blocking, timeout=timeout):
                if not blocking and mutex.locked():
                    return False
                return await _within(mutex.acquire(), timeout)
            case steps.Await(awaitable=awaitable):
                return await awaitable
        raise TypeError(f"not a recipe request: {request!r}")


async def _within(awaitable: Any, timeout: float | None) -> bool:
    """True once `awaitable` is done; False when `timeout` seconds pass first."""
    try:
        await asyncio.wait_for(awaitable, timeout)
    except TimeoutError:
        return False
    return True


async def _read_all(client: Any, paths: tuple[str, ...]) -> list[bytes]:
    """The data of each node, read at once."""
    results = await asyncio.gather(*(client.get(p) for p in paths), return_exceptions=True)
    found = []
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, NoNodeError):
            raise result
        if not isinstance(result, BaseException):
            found.append(result[0])
    return found


ASYNCIO = AsyncioDriver()
