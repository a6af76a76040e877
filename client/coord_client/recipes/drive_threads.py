"""The threaded driver: performs a recipe's requests (recipes/steps.py) with
the blocking `coord_client.Client` calls, waiting on threading.Event."""

from __future__ import annotations

import threading
from typing import Any, TypeVar

from coord_client.recipes import steps

T = TypeVar("T")


class ThreadedDriver:
    """Runs a recipe's generator to its end in the calling thread."""

    asynchronous = False

    def run(self, client: Any, work: steps.Steps[T]) -> T:
        run = steps.Run(work)
        while (request := run.next()) is not None:
            try:
                run.sent(self._perform(client, request))
            except BaseException as error:  # the generator decides what it means
                run.thrown(error)
        return run.value  # type: ignore[return-value]

    def start(self, client: Any, work: steps.Steps[T]) -> T:
        """Run now, as `run` (a thread has nothing to start in the background)."""
        return self.run(client, work)

    def detach(self, result: Any) -> None:
        """A plain callback's result means nothing here."""

    def event(self) -> threading.Event:
        return threading.Event()

    def mutex(self, reentrant: bool = False) -> Any:
        return threading.RLock() if reentrant else threading.Lock()

    def _perform(self, client: Any, request: steps.Request) -> Any:
        match request:
            case steps.Call(retry=True) | steps.Commit(retry=True):
                return self.run(client, steps.retrying(client, request.attempt))
            case steps.Call(method=method, args=args, kwargs=kwargs):
                return getattr(client, method)(*args, **kwargs)
            case steps.Commit(build=build):
                transaction = client.transaction()
                build(transaction)
                return transaction.commit()
            case steps.Wait(event=event, timeout=timeout):
                return event.wait(timeout)
            case steps.NewEvent():
                return self.event()
            case steps.Gather(calls=calls):
                pending = [getattr(client, c.method + "_async")(*c.args, **c.kwargs) for c in calls]
                return [_outcome(result.get) for result in pending]
            case steps.Take(mutex=mutex, blocking=blocking, timeout=timeout):
                return mutex.acquire(blocking, -1 if timeout is None or not blocking else timeout)
        raise TypeError(f"not a recipe request: {request!r}")


def _outcome(get: Any) -> Any:
    """`get()`, or the error it raised."""
    try:
        return get()
    except Exception as error:  # each call's own outcome, as asyncio.gather gives it
        return error


THREADED = ThreadedDriver()
