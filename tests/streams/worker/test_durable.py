"""An event counts as handled only once its table writes are on the broker
(``streams.worker.durable``): settle waits for every write made so far, including the ones a
concurrent caller (the tick timer) is already waiting for."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.worker.durable import ChangelogWrites


def test_settle_waits_until_every_write_is_acknowledged() -> None:
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        writes = ChangelogWrites()
        first: asyncio.Future[Any] = loop.create_future()
        second: asyncio.Future[Any] = loop.create_future()
        writes.add(first)
        writes.add(second)
        seen: list[str] = []

        async def broker() -> None:
            await asyncio.sleep(0.01)
            first.set_result("ack 1")
            seen.append("acked first")
            await asyncio.sleep(0.01)
            second.set_result("ack 2")
            seen.append("acked second")

        acks = asyncio.create_task(broker())
        await writes.settle()
        seen.append("settled")
        await acks
        assert len(writes) == 0
        return seen

    assert asyncio.run(scenario()) == ["acked first", "acked second", "settled"]


def test_a_second_caller_waits_for_writes_the_first_is_already_waiting_for() -> None:
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        writes = ChangelogWrites()
        table_write: asyncio.Future[Any] = loop.create_future()
        writes.add(table_write)
        seen: list[str] = []

        async def tick() -> None:
            await writes.settle()
            seen.append("tick settled")

        ticking = asyncio.create_task(tick())
        await asyncio.sleep(0)  # the tick now waits for the event's write

        async def event() -> None:
            await writes.settle()
            seen.append("event settled")

        handling = asyncio.create_task(event())
        await asyncio.sleep(0.01)
        assert seen == []  # neither returns before the broker acknowledges
        table_write.set_result("ack")
        await asyncio.gather(ticking, handling)
        return sorted(seen)

    assert asyncio.run(scenario()) == ["event settled", "tick settled"]


def test_a_failed_write_is_reported_once() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        writes = ChangelogWrites()
        lost: asyncio.Future[Any] = loop.create_future()
        lost.set_exception(ConnectionError("broker gone"))
        writes.add(lost)
        with pytest.raises(ConnectionError, match="broker gone"):
            await writes.settle()
        await writes.settle()  # reported: the next event is not failed for it again
        assert len(writes) == 0

    asyncio.run(scenario())
