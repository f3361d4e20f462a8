"""The live assessment ledger: alerts in, entries on a table and the assessment topic.

The ledger agent reads the alerts topic and books every firing alert of a business rule
(``streams.core.assessment.ledger``) exactly once, however often the alert is delivered:

1. an entry whose id the ``ledger`` table holds is booked already: nothing to do;
2. otherwise the entry is sent to the compacted ``<prefix>.assessment`` topic (keyed by its
   id) and, once the broker acknowledged it, written to the table, and the agent waits for
   the table's changelog write before the alert counts as handled.

A crash between 2's send and its table write repeats the send with the same key and value
after the restart: the compacted topic keeps one record, the table one entry. A crash after
the table write skips the redelivered alert. So the ledger has no entry twice and none
missing, whatever the alerts topic holds twice.

A void (``assessment.void``, on the corrections topic, through ingest and the events topic)
is applied by the state agent through ``void``: the entry is kept, marked voided, sent to
the topic and written to the table the same way; a repeated void changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from contract.assessment import LedgerEntry
from contract.events import Alert, AssessmentVoid
from streams.core.assessment.ledger import (
    apply_void,
    decode,
    encode,
    entry_from_alert,
    expired,
    select,
)
from streams.worker.durable import ChangelogWrites

log = logging.getLogger(__name__)

Send = Callable[[str, bytes], Awaitable[None]]
# Pruning reads every entry: once per hour of event time is plenty for months.
PRUNE_EVERY = timedelta(hours=1)
# How many void problems (unknown entries, second voids) the web view shows.
RECENT_PROBLEMS = 100


class LiveLedger:
    """The ledger table, the assessment topic and the one lock both writers take."""

    def __init__(
        self,
        table: MutableMapping[str, Any],
        orders: MutableMapping[str, Any],
        writes: ChangelogWrites,
        send: Send,
        *,
        months: int,
        zone: ZoneInfo,
    ) -> None:
        self.table = table
        self.orders = orders  # the state's order records: the region of an order-keyed alert
        self.writes = writes
        self.send = send
        self.months = months
        self.zone = zone
        self.lock = asyncio.Lock()
        self.problems: deque[str] = deque(maxlen=RECENT_PROBLEMS)
        self.pruned_at: datetime | None = None

    def _region(self, alert: Alert) -> str | None:
        order_id = alert.key.get("order_id")
        record = self.orders.get(order_id) if order_id else None
        region = record.get("region") if isinstance(record, dict) else None
        return region if isinstance(region, str) else None

    async def _book(self, entry: LedgerEntry) -> None:
        """Send, then write and wait for the changelog: see the module docstring."""
        await self.send(entry.entry_id, entry.model_dump_json().encode("utf-8"))
        self.table[entry.entry_id] = encode(entry)
        await self.writes.settle()

    async def alert(self, value: bytes) -> LedgerEntry | None:
        """Book the alert in ``value`` (the alerts topic's JSON); the entry when new."""
        try:
            alert = Alert.model_validate_json(value)
        except ValidationError as exc:
            log.warning("ledger: a record on the alerts topic is no alert: %s", exc)
            return None
        entry = entry_from_alert(alert, region=self._region(alert))
        if entry is None:
            return None
        async with self.lock:
            if entry.entry_id in self.table:
                return None  # booked already: a redelivered or repeated alert
            await self._book(entry)
        return entry

    async def void(self, void: AssessmentVoid) -> LedgerEntry | None:
        """Apply a void; the voided entry, or None when there was nothing to do."""
        async with self.lock:
            raw = self.table.get(void.entry_id)
            result = apply_void(decode(raw) if raw is not None else None, void)
            if result.problem is not None:
                if not _same_void(result.entry, void):
                    log.warning("ledger: %s", result.message)
                    self.problems.append(result.message)
                return None
            assert result.entry is not None  # no problem: the entry was there
            await self._book(result.entry)
            return result.entry

    async def prune(self, now: datetime) -> int:
        """Entries older than the months kept leave the table (the compacted topic keeps
        them: it is the record); at most once per ``PRUNE_EVERY`` of event time."""
        if self.pruned_at is not None and now - self.pruned_at < PRUNE_EVERY:
            return 0
        self.pruned_at = now
        async with self.lock:
            old = [
                key
                for key, raw in self.table.items()
                if expired(decode(raw), now, self.months, self.zone)
            ]
            for key in old:
                del self.table[key]
            await self.writes.settle()
        if old:
            log.info("retention: %d ledger entries left the table", len(old))
        return len(old)

    def view(self, month: str | None, region: str | None) -> dict[str, Any]:
        """The ``/assessment/ledger`` document."""
        entries = select(
            (decode(raw) for raw in self.table.values()), month=month, region=region, zone=self.zone
        )
        return {
            "month": month,
            "region": region,
            "entries": [encode(e) for e in entries],
            "problems": list(self.problems),
        }


def _same_void(entry: LedgerEntry | None, void: AssessmentVoid) -> bool:
    """The entry carries this very void (the void redelivered after a crash)."""
    return (
        entry is not None
        and entry.voided
        and entry.voided_by == void.by
        and entry.voided_at == void.event_time
        and entry.void_reason == void.reason
    )
