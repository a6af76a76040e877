"""coord/rpc/eager.py: a coroutine started in the caller's turn."""

from __future__ import annotations

import asyncio

import pytest

from coord.rpc.eager import Started


def test_runs_up_to_its_first_wait_at_once_and_the_rest_when_awaited() -> None:
    asyncio.run(_runs_up_to_its_first_wait_at_once_and_the_rest_when_awaited())


async def _runs_up_to_its_first_wait_at_once_and_the_rest_when_awaited() -> None:
    steps: list[str] = []
    gate = asyncio.get_running_loop().create_future()

    async def work() -> str:
        steps.append("before")
        value = await gate
        steps.append("after")
        return value

    started = Started(work())
    assert steps == ["before"]  # no turn of the loop has run
    gate.set_result("done")
    assert await started == "done"
    assert steps == ["before", "after"]


def test_one_that_ends_at_once_gives_its_result() -> None:
    asyncio.run(_one_that_ends_at_once_gives_its_result())


async def _one_that_ends_at_once_gives_its_result() -> None:
    async def work() -> int:
        return 7

    assert await Started(work()) == 7


def test_an_error_raised_at_once_is_raised_where_it_is_awaited() -> None:
    asyncio.run(_an_error_raised_at_once_is_raised_where_it_is_awaited())


async def _an_error_raised_at_once_is_raised_where_it_is_awaited() -> None:
    async def work() -> None:
        raise ValueError("refused")

    started = Started(work())
    with pytest.raises(ValueError, match="refused"):
        await started


def test_cancelling_the_task_that_awaits_it_cancels_the_coroutine() -> None:
    asyncio.run(_cancelling_the_task_that_awaits_it_cancels_the_coroutine())


async def _cancelling_the_task_that_awaits_it_cancels_the_coroutine() -> None:
    cancelled = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.get_running_loop().create_future()  # never done
        except asyncio.CancelledError:
            cancelled.set()
            raise

    started = Started(work())

    async def finish() -> None:
        await started

    task = asyncio.create_task(finish())
    await asyncio.sleep(0)  # the task awaits the coroutine's future
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()
