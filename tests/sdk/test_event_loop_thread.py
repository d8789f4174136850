"""EventLoopThread: sync calls on a private loop, in a plain script and inside a running loop."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fabric_chat_runtime.errors import ClientClosedError
from fabric_chat_runtime.sync import EventLoopThread


async def _thread_name() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


async def _numbers(n: int):  # type: ignore[no-untyped-def]
    for i in range(n):
        await asyncio.sleep(0)
        yield i


def test_runs_coroutines_and_iterators_on_its_own_thread() -> None:
    loop = EventLoopThread("t")
    try:
        assert loop.run(_thread_name()) == "t-loop"
        assert list(loop.iterate(_numbers(3))) == [0, 1, 2]
        with pytest.raises(ZeroDivisionError):
            loop.run(_divide())
    finally:
        loop.close()
    with pytest.raises(ClientClosedError):
        loop.run(_thread_name())
    loop.close()  # idempotent


async def _divide() -> float:
    return 1 / 0


async def test_works_inside_a_running_event_loop() -> None:
    # As in Jupyter: this thread already runs a loop; the sync calls never touch it.
    loop = EventLoopThread("jupyter")
    try:
        assert loop.run(_thread_name()) == "jupyter-loop"
    finally:
        loop.close()


def test_callbacks_run_in_order_on_the_callback_thread() -> None:
    loop = EventLoopThread("cb")
    seen: list[tuple[int, str]] = []
    done = threading.Event()

    def record(item: int) -> None:
        seen.append((item, threading.current_thread().name))
        if item == 4:
            done.set()

    submit = loop.callback(record)

    async def fire() -> None:
        for i in range(5):
            submit(i)

    try:
        loop.run(fire())
        assert done.wait(10)
    finally:
        loop.close()
    assert [i for i, _ in seen] == [0, 1, 2, 3, 4]
    assert all(name.startswith("cb") and name != "cb-loop" for _, name in seen)
