"""Readable views of alerts and dead letters: filters, event-time order, table rows. Pure.

``orderhub alerts tail | list`` and ``orderhub dlq tail | replay`` read the records; this
module decides which to show, in what order and how a row looks. Times are shown in the
business time zone (``ORDERHUB_TIMEZONE``), the zone the rules are written in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

_UNITS = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_DURATION = re.compile(r"(\d+)\s*(min|s|m|h|d|w)")
_NEVER = datetime.min.replace(tzinfo=UTC)


class SinceError(ValueError):
    """A ``--since`` value that is neither a time nor a duration."""


def parse_since(text: str, now: datetime, zone: tzinfo) -> datetime:
    """``--since``: an ISO date or time (without an offset: in the business ``zone``), a
    duration back from ``now`` (``90s``, ``30m``, ``2h``, ``7d``, ``1w``, ``1h30m``), or
    ``now``."""
    value = text.strip().lower()
    if value == "now":
        return now
    if (back := _duration(value)) is not None:
        return now - back
    try:
        if len(value) == 10:  # a date alone: its start in the business time zone
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=zone)
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SinceError(
            f"{text!r} is neither a time (2026-03-09, 2026-03-09T08:00+08:00) "
            "nor a duration (30m, 2h, 7d)"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=zone)


def _duration(value: str) -> timedelta | None:
    """``1h30m`` as a timedelta; None unless the whole text is a duration."""
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value.replace(" ", ""):
        return None
    return sum((int(n) * _UNITS[u] for n, u in parts), timedelta())


def instant(value: Any) -> datetime:
    """An ISO time as an aware datetime (no offset: UTC); anything else sorts first."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        return instant(datetime.fromisoformat(str(value)))
    except ValueError:
        return _NEVER


# --- alerts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts to show: any of ``rules`` (ids, any case), of ``severities``, of
    ``statuses``, raised or resolved at or after ``since``. Empty = no condition."""

    rules: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    since: datetime | None = None

    @classmethod
    def of(
        cls,
        rules: Iterable[str] = (),
        severities: Iterable[str] = (),
        statuses: Iterable[str] = (),
        since: datetime | None = None,
    ) -> AlertFilter:
        return cls(
            frozenset(r.upper() for r in rules), frozenset(severities), frozenset(statuses), since
        )

    @property
    def active(self) -> bool:
        return bool(self.rules or self.severities or self.statuses or self.since)

    def keeps(self, value: Any) -> bool:
        """Whether ``value`` (a decoded record) is shown. A record that is not an alert is
        shown only when nothing is filtered: no condition can hold of it."""
        if not is_alert(value):
            return not self.active
        return (
            (not self.rules or str(value["rule_id"]).upper() in self.rules)
            and (not self.severities or value.get("severity") in self.severities)
            and (not self.statuses or value.get("status") in self.statuses)
            and (self.since is None or instant(value["at"]) >= self.since)
        )


def is_alert(value: Any) -> bool:
    return isinstance(value, Mapping) and "rule_id" in value and "at" in value


def in_event_time(values: Iterable[Any]) -> list[Any]:
    """Alerts by event time (``at``; ties keep the topic's order), anything else after."""
    return sorted(values, key=lambda v: (0, instant(v["at"])) if is_alert(v) else (1, _NEVER))


ALERT_WIDTHS = (19, 8, 8, 8, 22)  # time, rule, severity, status, key; the message is last


def local_time(value: Any, zone: tzinfo) -> str:
    """An ISO time in the business time zone, to the second: ``2026-03-09 09:30:00``."""
    at = instant(value)
    if at is _NEVER:
        return str(value)
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def key_text(key: Any) -> str:
    if isinstance(key, Mapping):
        return ",".join(f"{k}={v}" for k, v in key.items()) or "-"
    return str(key) if key else "-"


def fixed_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """Cells padded to fixed widths (the last one free), two spaces apart: the rows of a
    tail line up although it cannot know the rows still to come."""
    padded = [c.ljust(w) for c, w in zip(cells, widths, strict=False)]
    return "  ".join([*padded, *cells[len(widths) :]]).rstrip()


def alert_header(zone_name: str) -> str:
    return fixed_row(
        ["time", "rule", "severity", "status", "key", f"message (times in {zone_name})"],
        ALERT_WIDTHS,
    )


def alert_row(value: Any, zone: tzinfo) -> str:
    """One alert as a table row; a record that is no alert as its text."""
    if not is_alert(value):
        return value if isinstance(value, str) else repr(value)
    cells = [
        local_time(value["at"], zone),
        str(value["rule_id"]),
        str(value.get("severity", "-")),
        str(value.get("status", "-")),
        key_text(value.get("key")),
        str(value.get("message", "")),
    ]
    return fixed_row(cells, ALERT_WIDTHS)


# --- dead letters --------------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    """A record of the dead-letter topic: its value (a dead letter, or any JSON), when it
    was dead-lettered (the record's timestamp) and its offset on the topic."""

    value: Any
    time: datetime
    offset: int


@dataclass(frozen=True)
class LetterFilter:
    """Which dead letters to show: any of ``reasons``, dead-lettered at or after ``since``."""

    reasons: frozenset[str] = frozenset()
    since: datetime | None = None

    def keeps(self, letter: Letter) -> bool:
        reason = letter.value.get("reason") if isinstance(letter.value, Mapping) else None
        return (not self.reasons or reason in self.reasons) and (
            self.since is None or letter.time >= self.since
        )


LETTER_WIDTHS = (19, 14, 28, 7)  # time, reason, source, size; the error is last


def letter_header(zone_name: str) -> str:
    return fixed_row(
        ["time", "reason", "source", "bytes", f"error (times in {zone_name})"], LETTER_WIDTHS
    )


def letter_source(value: Mapping[str, Any]) -> str:
    """Where the record came from: ``topic[partition]@offset``."""
    return f"{value.get('topic', '?')}[{value.get('partition', '?')}]@{value.get('offset', '?')}"


def letter_row(letter: Letter, zone: tzinfo) -> str:
    value = letter.value
    when = local_time(letter.time, zone)
    if not isinstance(value, Mapping):
        return fixed_row([when, "-", "-", "-", str(value)], LETTER_WIDTHS)
    cells = [
        when,
        str(value.get("reason", "-")),
        letter_source(value),
        str(value.get("size", "-")),
        str(value.get("error", "")),
    ]
    return fixed_row(cells, LETTER_WIDTHS)
