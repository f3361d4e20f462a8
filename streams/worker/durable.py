"""Table writes that are on the broker before the event that made them counts as handled.

Faust commits a source offset after flushing its producer, but that flush gives up after
0.1 s per buffered message (``ProducerBuffer.flush_atmost``). Under load a commit could
therefore pass an event whose changelog write was still in the buffer, and a SIGKILL then
lost the write for good: the restarted worker recovers the table without it and resumes
after the event. CI saw exactly that (a weekly forecast recovered one update behind).

So every changelog write is tracked here, and the state agent waits for all of them to
be acknowledged before it moves on to the next event (which is when Faust acks the one
before). Offsets are committed only for acked events, hence only for events whose table
writes are durable.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust


class ChangelogWrites:
    """The changelog sends not yet known to be acknowledged by the broker."""

    def __init__(self) -> None:
        self._pending: list[asyncio.Future[Any]] = []

    def add(self, sent: asyncio.Future[Any]) -> None:
        self._pending.append(sent)

    def __len__(self) -> int:
        return len(self._pending)

    async def settle(self) -> None:
        """Wait until every write made so far is acknowledged; a failed send raises.

        The tick timer settles too, concurrently with the state agent: each caller waits
        for every write pending when it calls, even those another caller is waiting for.
        """
        while self._pending:
            waiting = list(self._pending)
            try:
                await asyncio.gather(*waiting)
            finally:
                # A failed send is reported to the callers waiting now, not forever after.
                self._pending = [sent for sent in self._pending if sent not in waiting]


class DurableTable(faust.Table[Any, Any]):
    """A Faust table whose changelog sends are recorded in ``writes``."""

    writes: ChangelogWrites

    def send_changelog(self, *args: Any, **kwargs: Any) -> Any:
        sent = super().send_changelog(*args, **kwargs)
        self.writes.add(sent)
        return sent


def durable_table(app: Any, name: str, writes: ChangelogWrites, **options: Any) -> Any:
    """Define table ``name`` on ``app`` (as ``app.Table`` does), its writes tracked."""
    table = DurableTable(app, name=name, beacon=app.tables.beacon, **options)
    table.writes = writes
    return app.tables.add(table)
