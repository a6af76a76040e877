"""The asyncio driver: performs a recipe's requests (recipes/steps.py) with
the `coord_client.aio.Client` coroutines, waiting on asyncio.Event."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, TypeVar

from coord_client.recipes import steps

T = TypeVar("T")

_detached: set[asyncio.Future[Any]] = set()  # tasks of callbacks, running


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

    def detach(self, result: Any) -> None:
        """Run a coroutine a user's callback returned as a task (kept until done)."""
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            _detached.add(task)
            task.add_done_callback(_detached.discard)

    def event(self) -> asyncio.Event:
        return asyncio.Event()

    def mutex(self, reentrant: bool = False) -> asyncio.Lock:
        """An asyncio.Lock: a callback that waits for it runs as its own task,
        so `reentrant` (which a thread needs) asks nothing more."""
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
            case steps.Gather(calls=calls):
                calling = (getattr(client, c.method)(*c.args, **c.kwargs) for c in calls)
                return await asyncio.gather(*calling, return_exceptions=True)
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


ASYNCIO = AsyncioDriver()
