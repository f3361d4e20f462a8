"""The live worker's clock: an event-time watermark over several sources.

Rules are judged on event time, so the clock that fires deadlines must agree with it. The
worker merges several input topic-partitions into one stream, and they do not arrive in
event-time order with respect to each other: a warehouse count dated Friday may be applied
before an order entry dated Monday that sits on another topic. A clock that jumped to the
latest event time seen would fire Monday's deadlines before Monday's events arrived.

So, as in Flink or Kafka Streams, the watermark is the *minimum* over the sources of the
latest event time each has delivered: no deadline fires until every source has moved past
it. A source that has been quiet for ``idle_seconds`` of real time no longer holds the
watermark back (otherwise a topic that rarely speaks, such as plans, would stop the clock).
When every source is quiet, the clock moves on in real time from the latest event, so a
demo week replayed today behaves as if it had just happened and a quiet afternoon still
fires its deadlines.

The clock never goes back. This is the shell's side: it reads ``time.monotonic``
(injectable for tests); the engine itself never reads a clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

# Real seconds after which a source that sent nothing stops holding the watermark back.
IDLE_SECONDS = 5.0


@dataclass
class _Source:
    latest: datetime  # the latest event time this source delivered
    seen_at: float  # monotonic time of its last event


class WatermarkClock:
    """Event-time watermark: the slowest active source, then real time once all are quiet."""

    def __init__(
        self, monotonic: Callable[[], float] = time.monotonic, idle_seconds: float = IDLE_SECONDS
    ) -> None:
        self._monotonic = monotonic
        self._idle = idle_seconds
        self._sources: dict[str, _Source] = {}
        self._last: datetime | None = None  # the latest value now() returned

    def observe(self, event_time: datetime, source: str = "") -> None:
        """Note that ``source`` (e.g. ``"orderhub.orders:2"``) delivered ``event_time``."""
        if event_time.tzinfo is None:
            raise ValueError(f"the clock needs aware times, got {event_time.isoformat()}")
        now = self._monotonic()
        known = self._sources.get(source)
        if known is None or event_time > known.latest:
            self._sources[source] = _Source(event_time, now)
        else:
            known.seen_at = now  # a late or redelivered event: the source is still alive

    def now(self) -> datetime | None:
        """The watermark; None before any event."""
        candidate = self._candidate()
        if candidate is None:
            return None
        if self._last is None or candidate > self._last:
            self._last = candidate
        return self._last

    def _candidate(self) -> datetime | None:
        if not self._sources:
            return None
        mono = self._monotonic()
        active = [s.latest for s in self._sources.values() if mono - s.seen_at < self._idle]
        if active:
            return min(active)
        newest = max(self._sources.values(), key=lambda s: s.latest)
        quiet_for = max(0.0, mono - max(s.seen_at for s in self._sources.values()))
        return newest.latest + timedelta(seconds=quiet_for)
