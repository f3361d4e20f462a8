"""What each Alertmanager still has to get, when to try again, and what may be committed. Pure.

Each Alertmanager (``--url``; two for an HA pair) is a ``Target`` with its own pending
notices: one that is away does not hold the others back, and gets everything once back.
The sink commits an offset of the alerts topic only when every target has every notice
folded up to there (``Outbox.committable``); a crash before that reads them again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from connectors.alertmanager.mapping import Notice

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0


def backoff(failures: int, first: float = BACKOFF_FIRST, most: float = BACKOFF_MAX) -> float:
    """Seconds to wait after the ``failures``-th failure in a row: 1, 2, 4 … 30."""
    return float(min(most, first * 2 ** max(0, failures - 1)))


@dataclass
class Target:
    """One Alertmanager and what it has not acknowledged yet."""

    url: str
    pending: dict[str, Notice] = field(default_factory=dict)  # latest notice per fingerprint
    # Send every firing alert with the next push: at start, on each re-send, and after a
    # failure (an Alertmanager that was away may have lost them).
    resync: bool = True
    failures: int = 0
    retry_at: float = 0.0  # monotonic seconds

    def due(self, now: float) -> bool:
        return (self.resync or bool(self.pending)) and now >= self.retry_at


@dataclass
class Outbox:
    """Every target's pending notices and the offset folded so far."""

    targets: list[Target]
    folded: int | None = None  # next offset of the alerts topic after the records folded

    @classmethod
    def to(cls, urls: Iterable[str]) -> Outbox:
        return cls([Target(url) for url in urls])

    def add(self, notices: Iterable[Notice], next_offset: int) -> None:
        """Notices folded from records up to ``next_offset`` (exclusive), for every target."""
        for notice in notices:
            for target in self.targets:
                target.pending[notice.alert.fingerprint] = notice
        self.folded = next_offset

    def resync_all(self) -> None:
        for target in self.targets:
            target.resync = True

    def due(self, now: float) -> list[Target]:
        return [t for t in self.targets if t.due(now)]

    def succeeded(self, target: Target, sent: Iterable[str]) -> None:
        """``target`` acknowledged the notices of fingerprints ``sent`` (and the resync)."""
        for fp in sent:
            target.pending.pop(fp, None)
        target.resync = False
        target.failures = 0
        target.retry_at = 0.0

    def failed(self, target: Target, now: float) -> float:
        """``target`` did not answer or refused: keep everything, retry after a back-off."""
        target.failures += 1
        target.resync = True
        target.retry_at = now + backoff(target.failures)
        return target.retry_at - now

    def committable(self) -> int | None:
        """The offset to commit: what was folded, once every target has all of it."""
        if any(t.pending for t in self.targets):
            return None
        return self.folded

    def next_attempt(self) -> float | None:
        """The earliest monotonic time a waiting target may be tried again."""
        waiting = [t.retry_at for t in self.targets if t.pending or t.resync]
        return min(waiting) if waiting else None
