"""One line per kind of client error, then a count: a broker outage must not flood the log.

With the broker gone, aiokafka logs the same few ERRORs ("Unable connect to node ...",
"Failed fetch messages ...") on every retry, hundreds of times a second. ``RepeatFilter``
lets the first record of each kind through, drops the repeats for ``window`` seconds,
and then lets one through with how many were dropped. ``summaries()`` reports repeats
still pending (the worker's health monitor logs them, so the count of an outage that ended
is not lost). The worker's own state changes are logged by ``streams.worker.health``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

# The Kafka client libraries whose retries repeat; the worker's own records always pass.
NOISY = ("aiokafka", "kafka", "faust", "mode")
WINDOW_SECONDS = 30.0


@dataclass
class _Seen:
    since: float  # when the last line of this kind was let through
    dropped: int = 0


Key = tuple[str, int, str]


class RepeatFilter(logging.Filter):
    """Drop repeats of a noisy logger's message (same logger, level and format string)."""

    def __init__(
        self,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        noisy: tuple[str, ...] = NOISY,
    ) -> None:
        super().__init__()
        self.window = window
        self.clock = clock
        self.noisy = noisy
        self._seen: dict[Key, _Seen] = {}

    def _is_noisy(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING and any(
            record.name == n or record.name.startswith(f"{n}.") for n in self.noisy
        )

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._is_noisy(record):
            return True
        now = self.clock()
        key = (record.name, record.levelno, str(record.msg))
        seen = self._seen.get(key)
        if seen is None or now - seen.since >= self.window:
            if seen is not None and seen.dropped:
                more = f"and {seen.dropped} more like it in {now - seen.since:.0f} s"
                record.msg = f"{record.getMessage()} [{more}]"
                record.args = None
            self._seen[key] = _Seen(since=now)
            self._forget_quiet(now)
            return True
        seen.dropped += 1
        return False

    def _forget_quiet(self, now: float) -> None:
        # Kinds quiet for a whole window with nothing dropped: memory stays bounded.
        quiet = [k for k, s in self._seen.items() if not s.dropped and now - s.since >= self.window]
        for key in quiet:
            del self._seen[key]

    def summaries(self) -> list[str]:
        """One line per kind with dropped repeats since its last line; resets their counts."""
        now = self.clock()
        lines = []
        for (name, level, msg), seen in sorted(self._seen.items()):
            if seen.dropped:
                what = f"{logging.getLevelName(level)} {name}: {msg!r}"
                lines.append(f"{what} repeated {seen.dropped} times in {now - seen.since:.0f} s")
                seen.since, seen.dropped = now, 0
        return lines

    @property
    def dropped(self) -> int:
        """Repeats dropped and not yet reported."""
        return sum(seen.dropped for seen in self._seen.values())


def install(root: logging.Logger, window: float = WINDOW_SECONDS) -> list[RepeatFilter]:
    """A ``RepeatFilter`` on each handler of ``root`` (one each: a filter counts what it sees)."""
    added = []
    for handler in root.handlers:
        if not any(isinstance(f, RepeatFilter) for f in handler.filters):
            repeat = RepeatFilter(window)
            handler.addFilter(repeat)
            added.append(repeat)
    return added


def installed(root: logging.Logger) -> list[RepeatFilter]:
    """The ``RepeatFilter`` s on ``root``'s handlers."""
    return [f for h in root.handlers for f in h.filters if isinstance(f, RepeatFilter)]
