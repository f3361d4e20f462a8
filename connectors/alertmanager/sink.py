"""The sink's loop: read the alerts topic, push to every Alertmanager, commit when all have it.

Each turn: fold the new records into the firing set (``firing``) and every target's pending
notices (``delivery``); every ``resend_interval`` seconds mark every firing alert to be
sent again (Alertmanager resolves an alert whose ``endsAt`` passes); push to each target
that is due; once every target has everything folded, write the firing set's changes to
the state topic, then commit the offset. A crash anywhere before the commit repeats the
work after the restart, never skips it: pushes are idempotent, folding converges.

The loop sees Kafka and HTTP through ``Source``, ``StateStore`` and ``Push``, so
``tests/connectors/test_alertmanager_sink.py`` drives it with fakes and a fake clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from connectors.alertmanager.delivery import Outbox, Target
from connectors.alertmanager.firing import FiringSet
from connectors.alertmanager.mapping import Notice, to_alertmanager
from connectors.alertmanager.push import PushResult
from connectors.exceptions import ConnectorError
from contract.events import Alert

log = logging.getLogger(__name__)

RESEND_SECONDS = 60.0
# Prometheus sets endsAt 4 re-send intervals ahead: three pushes may be lost before
# Alertmanager times a firing alert out.
ENDS_AHEAD_RESENDS = 4


class SinkError(ConnectorError):
    """Kafka did not take the sink's state or its offset commit (retried next turn)."""


class Source(Protocol):
    """The alerts topic as (offset, value) records; the group's committed offset."""

    def poll(self, timeout: float) -> list[tuple[int, bytes]]: ...

    def commit(self, offset: int) -> None: ...


class StateStore(Protocol):
    """The firing set on the sink's compacted topic."""

    def load(self) -> FiringSet: ...

    def save(self, changes: Mapping[str, Notice | None]) -> None: ...


Push = Callable[[str, Sequence[dict[str, Any]]], PushResult]


@dataclass
class Counters:
    """Plain counters for a metrics collector (``/metrics`` reads them, per URL)."""

    pushes_ok: dict[str, int] = field(default_factory=dict)
    pushes_failed: dict[str, int] = field(default_factory=dict)
    alerts_rejected: int = 0  # pushes Alertmanager answered 400 (invalid alerts dropped)
    records_skipped: int = 0  # alerts-topic records that are not an Alert
    commits: int = 0
    alerts_firing: int = 0


class AlertmanagerSink:
    """The alerts topic pushed to every Alertmanager of ``urls``."""

    def __init__(
        self,
        source: Source,
        store: StateStore,
        urls: Sequence[str],
        push: Push,
        generator_base: str,
        resend_interval: float = RESEND_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.source, self.store, self.push = source, store, push
        self.generator_base = generator_base
        self.resend_interval = resend_interval
        self.clock, self.wall = clock, wall
        self.outbox = Outbox.to(urls)
        self.counters = Counters(
            pushes_ok=dict.fromkeys(urls, 0), pushes_failed=dict.fromkeys(urls, 0)
        )
        self.firing = FiringSet()
        self.committed: int | None = None
        self.next_resend = 0.0

    def start(self) -> None:
        """Rebuild the firing set; every target gets all of it with its first push."""
        self.firing = self.store.load()
        self.counters.alerts_firing = len(self.firing)
        self.next_resend = self.clock() + self.resend_interval
        log.info("alertmanager sink: %d alert(s) firing at start", len(self.firing))

    def step(self, max_wait: float = 1.0) -> None:
        """One turn: read, re-send when due, push, commit."""
        self._fold(self.source.poll(self._poll_timeout(max_wait)))
        now = self.clock()
        if now >= self.next_resend:
            self.outbox.resync_all()
            self.next_resend = now + self.resend_interval
        for target in self.outbox.due(now):
            self._push(target)
        self._commit()

    def run(self, stop: threading.Event) -> None:
        self.start()
        while not stop.is_set():
            self.step()

    def _poll_timeout(self, max_wait: float) -> float:
        """Wait for records no longer than until the next retry or re-send."""
        wake = min(self.next_resend, self.outbox.next_attempt() or self.next_resend)
        return max(0.0, min(max_wait, wake - self.clock()))

    def _fold(self, records: Sequence[tuple[int, bytes]]) -> None:
        for offset, value in records:
            try:
                alert = Alert.model_validate_json(value)
            except ValidationError as exc:
                # Not an alert (a foreign producer): nothing to push, and no reason to stop.
                self.counters.records_skipped += 1
                log.warning("alertmanager sink: offset %d is not an alert: %s", offset, exc)
                self.outbox.add([], offset + 1)
                continue
            self.outbox.add([self.firing.apply(alert)], offset + 1)
        self.counters.alerts_firing = len(self.firing)

    def _push(self, target: Target) -> None:
        notices = {**(self.firing.entries if target.resync else {}), **target.pending}
        now = self.wall()
        ahead = timedelta(seconds=ENDS_AHEAD_RESENDS * self.resend_interval)
        bodies = [to_alertmanager(n, now, ahead, self.generator_base) for n in notices.values()]
        result = self.push(target.url, bodies) if bodies else PushResult(True)
        if not result.ok:
            self.counters.pushes_failed[target.url] += 1
            wait = self.outbox.failed(target, self.clock())
            log.warning(
                "alertmanager sink: %s did not take %d alert(s): %s; retrying in %.0f s",
                target.url,
                len(bodies),
                result.detail,
                wait,
            )
            return
        if result.rejected:
            self.counters.alerts_rejected += 1
            log.error("alertmanager sink: %s refused invalid alerts: %s", target.url, result.detail)
        if target.failures:
            log.info("alertmanager sink: %s takes alerts again", target.url)
        self.counters.pushes_ok[target.url] += 1
        self.outbox.succeeded(target, list(notices))

    def _commit(self) -> None:
        offset = self.outbox.committable()
        if offset is None or offset == self.committed:
            return
        changes = self.firing.take_dirty()
        try:
            self.store.save(changes)
            self.source.commit(offset)
        except SinkError as exc:
            self.firing.restore(changes)
            log.warning("alertmanager sink: cannot commit offset %d yet: %s", offset, exc)
            return
        self.committed = offset
        self.counters.commits += 1
