"""The assessment ledger (考核台账), pure: alerts in, ledger entries out.

Every firing alert of a business rule is a breach, and its penalty (if any) the fine. An
entry is identified by the alert's fingerprint and the time it fired (``at``), so:

* the same firing alert delivered twice (a redelivery, a crash before the journal write:
  the engine then publishes it again identical) is one entry;
* a new firing after a resolve (or a new triggering event while firing, e.g. a second
  delay caused by an unreleased order) has a new ``at``, hence is a new breach — the
  policies fine "per occurrence" (每次);
* a resolved alert makes no entry and changes none: a breach stays a breach.

Operational alerts are not entries: ``RULESET-LOAD`` (a rule file that does not load) and
the alerts of any rule labelled ``assessment = "exempt"`` (e.g. CAP-LIMITS: master data is
missing, nobody breached anything).

An analyst corrects the ledger with an ``assessment.void`` event: the entry stays, marked
voided with the reason, who and when. Voiding an unknown entry, or one voided already, is
reported as a value (``VoidResult.problem``), never raised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from contract.assessment import DEPARTMENT_LABEL, DEPARTMENTS, LedgerEntry
from contract.events import Alert, AssessmentVoid, Event

__all__ = ["DEPARTMENTS", "DEPARTMENT_LABEL"]  # re-exported: the kpi code reads them here

# A rule labelled ``assessment = "exempt"`` raises operational alerts, not breaches.
ASSESSMENT_LABEL = "assessment"
EXEMPT = "exempt"
# Rule ids of alerts the hub raises about itself, not about the business.
OPERATIONAL_RULES: frozenset[str] = frozenset({"RULESET-LOAD"})

VoidProblem = Literal["unknown_entry", "already_voided"]


def entry_id(fingerprint: str, at: datetime) -> str:
    """The entry's stable id: sha256 of the alert's fingerprint and firing time, 16 hex digits.

    The time is taken in UTC, so the same instant written with another offset is the same id.
    """
    instant = at.astimezone(UTC).isoformat()
    return hashlib.sha256(f"{fingerprint}\n{instant}".encode()).hexdigest()[:16]


def is_assessed(alert: Alert) -> bool:
    """Whether the alert's rule is a business rule whose firings are breaches."""
    if alert.rule_id in OPERATIONAL_RULES:
        return False
    return alert.labels.get(ASSESSMENT_LABEL) != EXEMPT


def entry_from_alert(alert: Alert, *, region: str | None = None) -> LedgerEntry | None:
    """The ledger entry a firing alert makes; None for a resolved or an operational alert.

    ``region`` is the region to book the entry on when the alert's key names none (an SLA
    alert is keyed by order only: the caller looks the order's region up). The key's own
    region wins.
    """
    if alert.status != "firing" or not is_assessed(alert):
        return None
    penalty = alert.penalty
    return LedgerEntry(
        entry_id=entry_id(alert.fingerprint, alert.at),
        rule_id=alert.rule_id,
        tier=alert.labels.get("tier", ""),
        severity=alert.severity,
        key=dict(alert.key),
        region=alert.key.get("region") or region,
        who=penalty.who if penalty is not None else None,
        department=alert.labels.get(DEPARTMENT_LABEL),
        amount=penalty.amount if penalty is not None else Decimal(0),
        at=alert.at,
        fingerprint=alert.fingerprint,
        message=alert.message,
        rule_set=alert.rule_set,
    )


@dataclass(frozen=True)
class VoidResult:
    """What a void did: the entry as it is now (None when unknown) and the problem, if any."""

    void: AssessmentVoid
    entry: LedgerEntry | None
    problem: VoidProblem | None = None

    @property
    def message(self) -> str:
        """One line for a log or a report."""
        if self.problem == "unknown_entry":
            return f"void {self.void.event_id}: no ledger entry {self.void.entry_id}"
        if self.problem == "already_voided" and self.entry is not None:
            return (
                f"void {self.void.event_id}: entry {self.void.entry_id} was voided already "
                f"by {self.entry.voided_by} at {self.entry.voided_at}"
            )
        return f"void {self.void.event_id}: entry {self.void.entry_id} voided by {self.void.by}"


def apply_void(entry: LedgerEntry | None, void: AssessmentVoid) -> VoidResult:
    """Void ``entry`` (the ledger's entry of ``void.entry_id``, None when it has none).

    The first void of an entry counts; a later one is reported and changes nothing, so a
    redelivered void is harmless.
    """
    if entry is None:
        return VoidResult(void, None, "unknown_entry")
    if entry.voided:
        return VoidResult(void, entry, "already_voided")
    voided = entry.model_copy(
        update={
            "voided": True,
            "void_reason": void.reason,
            "voided_by": void.by,
            "voided_at": void.event_time,
        }
    )
    return VoidResult(void, voided)


def month_of(at: datetime, zone: ZoneInfo) -> str:
    """The business month (``YYYY-MM``) of a time, in the company's time zone."""
    return at.astimezone(zone).strftime("%Y-%m")


def months_between(earlier: str, later: str) -> int:
    """Whole months from one ``YYYY-MM`` to another (negative when ``later`` is earlier)."""
    y1, m1 = (int(part) for part in earlier.split("-"))
    y2, m2 = (int(part) for part in later.split("-"))
    return (y2 - y1) * 12 + (m2 - m1)


def expired(entry: LedgerEntry, now: datetime, months: int, zone: ZoneInfo) -> bool:
    """Whether the entry leaves the ledger at ``now``: it keeps the current business month
    and the ``months`` before it (13 by default: this month and the same month last year,
    for a year-on-year comparison)."""
    return months_between(month_of(entry.at, zone), month_of(now, zone)) > months


def encode(entry: LedgerEntry) -> dict[str, Any]:
    """The entry as the table and the assessment topic hold it (JSON)."""
    return entry.model_dump(mode="json")


def decode(data: Mapping[str, Any]) -> LedgerEntry:
    """An entry from its JSON (``encode``'s inverse)."""
    return LedgerEntry.model_validate(data)


@dataclass
class Ledger:
    """An in-memory ledger (offline: replay's alerts; tests): entries by id, in order added."""

    entries: dict[str, LedgerEntry] = field(default_factory=dict)
    problems: list[VoidResult] = field(default_factory=list)

    def add_alert(self, alert: Alert, *, region: str | None = None) -> LedgerEntry | None:
        """Book a firing alert; returns the entry when it is new, None otherwise."""
        entry = entry_from_alert(alert, region=region)
        if entry is None or entry.entry_id in self.entries:
            return None
        self.entries[entry.entry_id] = entry
        return entry

    def void(self, void: AssessmentVoid) -> VoidResult:
        """Apply a void; a problem is kept in ``problems`` and returned."""
        result = apply_void(self.entries.get(void.entry_id), void)
        if result.problem is None and result.entry is not None:
            self.entries[result.entry.entry_id] = result.entry
        else:
            self.problems.append(result)
        return result

    def select(
        self, *, month: str | None = None, region: str | None = None, zone: ZoneInfo
    ) -> list[LedgerEntry]:
        """Entries of a business month and region (None: all), by time then id."""
        return select(self.entries.values(), month=month, region=region, zone=zone)


def select(
    entries: Iterable[LedgerEntry],
    *,
    month: str | None = None,
    region: str | None = None,
    zone: ZoneInfo,
) -> list[LedgerEntry]:
    """Entries of a business month and region (None: all), sorted by time then id."""
    chosen = [
        e
        for e in entries
        if (month is None or month_of(e.at, zone) == month)
        and (region is None or e.region == region)
    ]
    return sorted(chosen, key=lambda e: (e.at, e.entry_id))


def ledger_from_alerts(
    alerts: Iterable[Alert],
    voids: Iterable[AssessmentVoid] = (),
    *,
    regions: Mapping[str, str] | None = None,
) -> Ledger:
    """The ledger of a stream of alerts (e.g. replay's), then the voids applied.

    ``regions`` maps order ids to regions for alerts whose key names an order but no region.
    """
    ledger = Ledger()
    for alert in alerts:
        order_id = alert.key.get("order_id")
        region = regions.get(order_id) if regions is not None and order_id else None
        ledger.add_alert(alert, region=region)
    for void in voids:
        ledger.void(void)
    return ledger


def regions_of(events: Iterable[Event]) -> dict[str, str]:
    """Order id -> region, from the order-keyed events (for ``ledger_from_alerts``)."""
    regions: dict[str, str] = {}
    for event in events:
        order_id = getattr(event, "order_id", None)
        region = getattr(event, "region", None)
        if isinstance(order_id, str) and isinstance(region, str):
            regions[order_id] = region
    return regions


def iter_active(entries: Iterable[LedgerEntry]) -> Iterator[LedgerEntry]:
    """The entries that count (not voided)."""
    return (e for e in entries if not e.voided)
