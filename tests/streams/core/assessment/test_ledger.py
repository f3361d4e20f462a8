"""The assessment ledger: one entry per alert identity, breaches stay, voids are kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from contract.events import Alert, AssessmentVoid, OrderDelayReported, Penalty
from streams.core.assessment.ledger import (
    Ledger,
    apply_void,
    entry_from_alert,
    entry_id,
    expired,
    ledger_from_alerts,
    month_of,
    regions_of,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 9, 10, 0, tzinfo=CST)


def alert(
    rule_id: str = "REL-2",
    *,
    status: str = "firing",
    at: datetime = T0,
    key: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    penalty: Penalty | None = None,
) -> Alert:
    return Alert.model_validate(
        {
            "fingerprint": f"fp-{rule_id}",
            "rule_id": rule_id,
            "rule_name": rule_id,
            "severity": "warning",
            "status": status,
            "key": key if key is not None else {"order_id": "O-1"},
            "labels": labels if labels is not None else {"department": "sales"},
            "message": f"{rule_id} fired",
            "at": at,
            "penalty": penalty,
            "rule_set": "v1",
        }
    )


def void(entry: str, *, by: str = "analyst-li", event_id: str = "V-1") -> AssessmentVoid:
    return AssessmentVoid(
        event_id=event_id,
        event_time=T0 + timedelta(days=3),
        source="orderhub",
        entry_id=entry,
        reason="clerk was on approved leave",
        by=by,
    )


def test_a_firing_alert_with_a_penalty_is_a_breach_with_its_fine() -> None:
    fined = alert(penalty=Penalty(amount=Decimal("50.00"), who="clerk-zhang"))
    entry = entry_from_alert(fined, region="east")
    assert entry is not None
    assert entry.entry_id == entry_id("fp-REL-2", T0)
    assert (entry.rule_id, entry.who, entry.amount, entry.currency) == (
        "REL-2",
        "clerk-zhang",
        Decimal("50.00"),
        "CNY",
    )
    assert (entry.department, entry.region, entry.at, entry.fingerprint) == (
        "sales",
        "east",
        T0,
        "fp-REL-2",
    )
    assert entry.voided is False


def test_a_breach_without_penalty_has_amount_zero_and_the_keys_region_wins() -> None:
    entry = entry_from_alert(alert("DEP-2", key={"order_id": "O-1", "region": "north"}), region="x")
    assert entry is not None
    assert (entry.amount, entry.who, entry.region) == (Decimal(0), None, "north")


def test_resolved_and_operational_alerts_are_not_entries() -> None:
    assert entry_from_alert(alert(status="resolved")) is None
    assert entry_from_alert(alert("RULESET-LOAD", labels={})) is None
    assert entry_from_alert(alert("CAP-LIMITS", labels={"assessment": "exempt"})) is None


def test_the_entry_id_is_the_same_instant_whatever_the_offset() -> None:
    assert entry_id("fp", T0) == entry_id("fp", T0.astimezone(UTC))
    assert entry_id("fp", T0) != entry_id("fp", T0 + timedelta(seconds=1))
    assert entry_id("fp", T0) != entry_id("fp2", T0)


def test_a_redelivered_alert_is_one_entry() -> None:
    ledger = ledger_from_alerts([alert(), alert(), alert()])
    assert len(ledger.entries) == 1


def test_firing_again_after_a_resolve_is_a_new_breach_and_the_first_stays() -> None:
    later = T0 + timedelta(days=2)
    stream = [alert(), alert(status="resolved", at=T0 + timedelta(hours=1)), alert(at=later)]
    ledger = ledger_from_alerts(stream)
    assert [e.at for e in ledger.select(zone=SHANGHAI)] == [T0, later]
    assert all(not e.voided for e in ledger.entries.values())


def test_a_void_keeps_the_entry_and_says_who_when_and_why() -> None:
    ledger = ledger_from_alerts([alert()])
    eid = entry_id("fp-REL-2", T0)
    result = ledger.void(void(eid))
    assert result.problem is None
    entry = ledger.entries[eid]
    assert (entry.voided, entry.void_reason, entry.voided_by, entry.voided_at) == (
        True,
        "clerk was on approved leave",
        "analyst-li",
        T0 + timedelta(days=3),
    )
    assert (entry.rule_id, entry.at) == ("REL-2", T0)  # the breach is still there


def test_voiding_an_unknown_entry_is_reported_not_raised() -> None:
    ledger = Ledger()
    result = ledger.void(void("0123456789abcdef"))
    assert (result.problem, result.entry) == ("unknown_entry", None)
    assert ledger.problems == [result]
    assert "no ledger entry 0123456789abcdef" in result.message


def test_a_second_void_is_reported_and_the_first_one_counts() -> None:
    ledger = ledger_from_alerts([alert()])
    eid = entry_id("fp-REL-2", T0)
    ledger.void(void(eid))
    second = ledger.void(void(eid, by="analyst-wang", event_id="V-2"))
    assert second.problem == "already_voided"
    assert ledger.entries[eid].voided_by == "analyst-li"


def test_apply_void_is_pure() -> None:
    entry = entry_from_alert(alert())
    assert entry is not None
    result = apply_void(entry, void(entry.entry_id))
    assert entry.voided is False
    assert result.entry is not None and result.entry.voided is True


def test_months_are_business_months_and_select_filters_month_and_region() -> None:
    # 2026-11-30 20:00 UTC is already December 1st in Shanghai.
    late = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    assert month_of(late, SHANGHAI) == "2026-12"
    ledger = ledger_from_alerts(
        [
            alert("A", key={"order_id": "O-1", "region": "east"}),
            alert("B", key={"order_id": "O-2", "region": "west"}),
            alert("C", key={"order_id": "O-3", "region": "east"}, at=late),
        ]
    )
    chosen = ledger.select(month="2026-11", region="east", zone=SHANGHAI)
    assert [e.rule_id for e in chosen] == ["A"]


def test_order_regions_come_from_the_events_for_order_keyed_alerts() -> None:
    delay = OrderDelayReported(
        event_id="E-1",
        event_time=T0,
        source="erp",
        order_id="O-1",
        region="south",
        model="M-1",
    )
    ledger = ledger_from_alerts([alert()], regions=regions_of([delay]))
    assert [e.region for e in ledger.entries.values()] == ["south"]


def test_entries_older_than_the_retention_in_months_expire() -> None:
    entry = entry_from_alert(alert())  # November 2026
    assert entry is not None
    assert not expired(entry, datetime(2027, 12, 31, tzinfo=CST), 13, SHANGHAI)
    assert expired(entry, datetime(2028, 1, 1, tzinfo=CST), 13, SHANGHAI)
