"""The live worker's clock: the event-time watermark, advancing in real time.

Rules are judged on event time, so the clock that fires deadlines between events must
agree with it: ``now()`` is the latest event time seen plus the real time that has passed
since that event arrived. A demo week replayed today therefore behaves as if it had just
happened, and a worker that lags behind its input never fires a deadline early.

This is the shell's side: it reads ``time.monotonic`` (injectable for tests). The engine
itself never reads a clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta


class WatermarkClock:
    """Event-time watermark that keeps moving in real time after the latest event."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._watermark: datetime | None = None
        self._anchor = 0.0

    def observe(self, event_time: datetime) -> None:
        """Move the watermark to ``event_time`` if that is later than ``now()``.

        The clock never goes back: an event older than the clock (late, or redelivered)
        leaves it where it is.
        """
        if event_time.tzinfo is None:
            raise ValueError(f"the clock needs aware times, got {event_time.isoformat()}")
        current = self.now()
        if current is None or event_time > current:
            self._watermark = event_time
            self._anchor = self._monotonic()

    def now(self) -> datetime | None:
        """The watermark plus the real time since it was set; None before any event."""
        if self._watermark is None:
            return None
        elapsed = max(0.0, self._monotonic() - self._anchor)
        return self._watermark + timedelta(seconds=elapsed)
