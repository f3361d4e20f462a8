"""Exactly-once judging: staged writes, the commit journal, and what a crash leaves.

``Judging`` runs here on plain dicts with a fake broker: a send can fail, and a "crash"
keeps only what was acknowledged (a copy of the tables and the journal at that moment), as
a restarted worker recovers them from the changelogs.
"""

from __future__ import annotations

import asyncio
import copy
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from contract.events import Alert, Event, parse_event
from streams.core.journal import HEAD, Head, Overlay, Staging, journal_parts, part_key, read_commit
from streams.core.state import Tables, empty_tables
from streams.worker.durable import ChangelogWrites
from streams.worker.judging import Judging

TZ = timezone(timedelta(hours=8))


def order_event(n: int, qty: int) -> Event:
    return parse_event(
        {"event_id": f"e{n}", "type": "order.confirmed", "source": "erp",
         "event_time": (datetime(2026, 3, 2, 9, tzinfo=TZ) + timedelta(minutes=n)).isoformat(),
         "order_id": f"O{n}", "region": "east", "model": "X1", "quantity": qty, "amount": "10"}
    )  # fmt: skip


class InTransitCap:
    """A rule hook: alerts when east's in-transit quantity reaches 10, with the value."""

    def __init__(self) -> None:
        self.judged: list[int] = []

    def on_event(self, tables: Tables, event: Event, seq: int) -> list[Alert]:
        self.judged.append(seq)
        qty = int((tables["in_transit_region"].get("east") or {}).get("qty", 0))
        tables["rule_clock"]["count"] = {"n": len(self.judged)}  # the engine's own state
        if qty < 10:
            return []
        return [
            Alert(fingerprint=f"fp{seq}", rule_id="CAP", rule_name="cap", severity="critical",
                  status="firing", key={"order_id": event.order_id},  # type: ignore[attr-defined]
                  message=f"in transit {qty}", values={"in_transit": qty}, at=event.event_time)
        ]  # fmt: skip

    def on_tick(self, tables: Tables, now: datetime) -> list[Alert]:
        return []

    def status(self) -> dict[str, Any]:
        return {"version": None, "errors": []}


class Broker:
    """Alerts sent; ``fail_after`` sends succeed, then sending raises."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.sent: list[Alert] = []
        self.fail_after = fail_after

    async def send(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            if self.fail_after is not None and len(self.sent) >= self.fail_after:
                raise ConnectionError("broker away")
            self.sent.append(alert)


def judging(tables: Any, journal: dict[str, Any], broker: Broker) -> Judging:
    return Judging(tables, journal, ChangelogWrites(), broker.send)


async def no_error(text: str) -> None:
    raise AssertionError(text)


def run_events(j: Judging, hook: InTransitCap, events: list[tuple[int, Event]]) -> list[bool]:
    async def go() -> list[bool]:
        return [await j.event(hook, e, seq, no_error) for seq, e in events]

    return asyncio.run(go())


EVENTS = [(seq, order_event(seq, 4)) for seq in range(5)]  # in transit 4, 8, 12, 16, 20


def test_redelivered_events_are_not_judged_again_against_later_tables() -> None:
    tables, journal, broker, hook = empty_tables(), {}, Broker(), InTransitCap()
    j = judging(tables, journal, broker)
    assert run_events(j, hook, EVENTS) == [True] * 5
    fired = [a.values["in_transit"] for a in broker.sent]
    assert fired == [12, 16, 20]
    # A restart: tables and journal as recovered, Kafka redelivers from offset 1.
    restarted = judging(copy.deepcopy(tables), copy.deepcopy(journal), broker)
    assert run_events(restarted, hook, EVENTS[1:]) == [False] * 4
    assert [a.values["in_transit"] for a in broker.sent] == fired  # no alert "in transit 20" twice
    assert hook.judged == [0, 1, 2, 3, 4]


def test_a_crash_before_the_journal_judges_the_event_again_on_the_same_tables() -> None:
    tables, journal, hook = empty_tables(), {}, InTransitCap()
    broker = Broker(fail_after=1)  # the alert of seq 3 cannot be sent
    j = judging(tables, journal, broker)
    assert run_events(j, hook, EVENTS[:3]) == [True] * 3
    with pytest.raises(ConnectionError):
        run_events(j, hook, EVENTS[3:4])
    # Nothing of seq 3 reached the tables: the restarted worker judges it on what seq 2 left.
    assert tables["in_transit_region"]["east"]["qty"] == 12
    broker.fail_after = None
    restarted = judging(copy.deepcopy(tables), copy.deepcopy(journal), broker)
    assert run_events(restarted, hook, EVENTS[3:]) == [True, True]
    assert [a.values["in_transit"] for a in broker.sent] == [12, 16, 20]


def test_a_commit_cut_short_is_completed_from_the_journal() -> None:
    tables, journal, broker, hook = empty_tables(), {}, Broker(), InTransitCap()
    j = judging(tables, journal, broker)
    run_events(j, hook, EVENTS[:2])
    before = copy.deepcopy(tables)  # what the changelogs held when the worker died ...
    run_events(j, hook, EVENTS[2:3])  # ... after journaling seq 2, before its table writes
    restarted = judging(before, copy.deepcopy(journal), broker)
    assert run_events(restarted, hook, EVENTS[2:3]) == [False]  # judged: skipped
    assert before["in_transit_region"]["east"]["qty"] == 12  # its writes applied from the journal
    assert before["rule_clock"]["count"] == {"n": 3}


def test_a_failing_rule_keeps_the_events_effect_and_drops_the_rules_writes() -> None:
    class Broken(InTransitCap):
        def on_event(self, tables: Tables, event: Event, seq: int) -> list[Alert]:
            tables["rule_clock"]["half-done"] = {"seq": seq}
            raise KeyError("engine bug")

    tables, errors = empty_tables(), []

    async def note(text: str) -> None:
        errors.append(text)

    j = judging(tables, {}, Broker())
    assert asyncio.run(j.event(Broken(), order_event(0, 4), 0, note))
    assert tables["in_transit_region"]["east"]["qty"] == 4
    assert "half-done" not in tables["rule_clock"]
    assert errors == ["rule hook failed: KeyError: 'engine bug'"]


def test_the_overlay_reads_through_and_keeps_writes_aside() -> None:
    base = {"a": {"qty": 1}, "b": {"qty": 2}}
    overlay = Overlay(base)
    overlay["c"] = {"qty": 3}
    del overlay["a"]
    assert dict(overlay) == {"b": {"qty": 2}, "c": {"qty": 3}}
    assert "a" not in overlay and overlay.get("a") is None and len(overlay) == 2
    assert base == {"a": {"qty": 1}, "b": {"qty": 2}}
    staging = Staging({"t": base})
    staging.tables["t"]["c"] = {"qty": 3}
    del staging.tables["t"]["a"]
    staging.commit()
    assert base == {"b": {"qty": 2}, "c": {"qty": 3}} and not staging.dirty


def test_a_large_commit_is_split_into_parts_and_read_back_whole() -> None:
    writes = {"orders": {f"O{n}": {"blob": "x" * 1000} for n in range(600)}}
    parts = journal_parts(7, writes)
    assert len(parts) == 3  # 600 KB of writes in parts of at most 256 KB
    journal: dict[str, Any] = {part_key(7, i): p for i, p in enumerate(parts)}
    journal[HEAD] = Head(7, 41, len(parts)).to_json()
    head, changes = read_commit(journal) or (None, None)
    assert head == Head(7, 41, 3) and changes == writes


def test_the_next_commits_parts_do_not_overwrite_the_last_one() -> None:
    journal: dict[str, Any] = {part_key(1, 0): journal_parts(1, {"t": {"k": {"v": 1}}})[0]}
    journal[HEAD] = Head(1, 5, 1).to_json()
    # Commit 2's parts are written, then the worker dies before its head.
    journal[part_key(2, 0)] = journal_parts(2, {"t": {"k": {"v": 2}}})[0]
    assert read_commit(journal) == (Head(1, 5, 1), {"t": {"k": {"v": 1}}})
