"""Input records merged into event-time order before they reach the events topic.

The events topic is the one order in which the tables change and the rules judge. Ingest
fills it from several input topic-partitions, and Faust hands those over in whatever order
it fetches them: in a burst, an ETA update can be applied before the order that set the
promised date, although it happened later. ``orderhub replay`` judges on event time, so
live and replay disagreed (the demo week: 40–42 live alerts, 43 replayed).

So ingest holds each record briefly and forwards them in event-time order, the way a
k-way merge of sorted inputs does. Each source (input topic-partition) stays first in,
first out: records of one order keep their order whatever their times. The oldest head
of all sources is forwarded as soon as no other source can still deliver something
earlier, that is when every other source has a record waiting or has already delivered
one at least as late; a source that is silent holds a head back for at most ``window``
seconds of real time. A quiet system therefore forwards each record after ``window``
seconds, a busy one at once; 0 forwards everything as it arrives.

Pure: the caller passes the real time (``monotonic``) and does the Kafka I/O.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from contract.settings import REORDER_WINDOW_SECONDS

T = TypeVar("T")

# Real seconds a record waits at most for a silent source. Settings: ORDERHUB_REORDER_WINDOW.
WINDOW_SECONDS = REORDER_WINDOW_SECONDS


@dataclass
class _Held(Generic[T]):
    at: datetime
    arrived: float
    item: T


class EventTimeMerge(Generic[T]):
    """Holds records per source and releases them in event-time order."""

    def __init__(
        self, window: float = WINDOW_SECONDS, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._window = window
        self._monotonic = monotonic
        self._queues: dict[str, deque[_Held[T]]] = {}
        self._latest: dict[str, datetime] = {}  # the latest event time each source delivered

    def expect(self, sources: Iterable[str]) -> None:
        """The sources that may deliver (the worker's input partitions, seen or not yet).

        A source no longer expected (a partition handed to another worker) is forgotten
        once it holds nothing.
        """
        expected = set(sources)
        for source in [s for s, queue in self._queues.items() if not queue]:
            if source not in expected:
                del self._queues[source]
                self._latest.pop(source, None)
        for source in expected:
            self._queues.setdefault(source, deque())

    def push(self, source: str, at: datetime, item: T) -> None:
        self._queues.setdefault(source, deque()).append(_Held(at, self._monotonic(), item))
        if source not in self._latest or at > self._latest[source]:
            self._latest[source] = at

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def next_ready(self) -> tuple[str, T] | None:
        """The record to forward next, if one may go now (it stays held until ``pop``)."""
        heads = [(queue[0].at, source) for source, queue in self._queues.items() if queue]
        if not heads:
            return None
        at, source = min(heads)
        head = self._queues[source][0]
        if self._monotonic() - head.arrived < self._window and self._may_come_earlier(source, at):
            return None
        return source, head.item

    def pop(self, source: str) -> T:
        """Remove ``source``'s head, once it has been forwarded."""
        return self._queues[source].popleft().item

    def _may_come_earlier(self, source: str, at: datetime) -> bool:
        """Whether another source, silent now, might still deliver a record dated before
        ``at`` (it has delivered nothing yet, or only earlier records)."""
        return any(
            not queue and (other not in self._latest or self._latest[other] < at)
            for other, queue in self._queues.items()
            if other != source
        )
