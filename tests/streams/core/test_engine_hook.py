"""The live side of the engine: the watermark clock and the reloading rule hook."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dsl.ast import Span
from dsl.compiled import CompiledRule
from dsl.diagnostics import Diagnostic
from streams.core.engine import EngineError
from streams.core.state import apply_event, empty_tables
from streams.worker.clock import WatermarkClock
from streams.worker.rulehook import LiveRules, live_rules
from tests.streams.core.engine_rules import at, cap_rule, event, order_event, sla_rule


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


# --- clock ----------------------------------------------------------------------------------


def test_clock_is_none_before_the_first_event() -> None:
    assert WatermarkClock(FakeTime()).now() is None


def test_clock_advances_in_real_time_after_the_latest_event() -> None:
    mono = FakeTime()
    clock = WatermarkClock(mono)
    clock.observe(at(2, 10))
    assert clock.now() == at(2, 10)
    mono.t += 90
    assert clock.now() == at(2, 10) + timedelta(seconds=90)
    clock.observe(at(5, 10))  # a later event moves it forward at once
    assert clock.now() == at(5, 10)


def test_clock_never_goes_back_for_an_older_event() -> None:
    mono = FakeTime()
    clock = WatermarkClock(mono)
    clock.observe(at(2, 10))
    mono.t += 60
    assert clock.now() == at(2, 10, 1)
    clock.observe(at(2, 9))
    clock.observe(at(2, 10, 0))  # older than the clock, which has moved on by a minute
    assert clock.now() == at(2, 10, 1)


def test_clock_waits_for_the_slowest_active_source() -> None:
    """A Friday stock count on one topic must not fire Monday's deadlines on another."""
    mono = FakeTime()
    clock = WatermarkClock(mono)
    clock.observe(at(2, 9), "orderhub.orders:0")
    clock.observe(at(6, 18), "orderhub.inventory:0")
    assert clock.now() == at(2, 9)
    clock.observe(at(2, 11), "orderhub.orders:0")
    assert clock.now() == at(2, 11)


def test_a_quiet_source_stops_holding_the_clock_back() -> None:
    mono = FakeTime()
    clock = WatermarkClock(mono, idle_seconds=5)
    clock.observe(at(2, 9), "orderhub.plans:0")
    clock.observe(at(2, 12), "orderhub.orders:0")
    mono.t += 3
    clock.observe(at(2, 13), "orderhub.orders:0")
    assert clock.now() == at(2, 9)  # plans spoke 3 s ago: still active
    mono.t += 3
    assert clock.now() == at(2, 13)  # plans quiet for 6 s: only orders count
    mono.t += 30  # all quiet: real time since the last event (33 s) moves the clock on
    assert clock.now() == at(2, 13) + timedelta(seconds=33)


# --- hook -----------------------------------------------------------------------------------

RULES = {"caps.rule": cap_rule(), "sla.rule": sla_rule()}


def fake_loader(paths: Sequence[Path]) -> tuple[list[CompiledRule], list[Diagnostic]]:
    """Each file holds one hand-built rule; a file whose text says BAD has an error."""
    rules: list[CompiledRule] = []
    diags: list[Diagnostic] = []
    for path in paths:
        if "BAD" in path.read_text(encoding="utf-8"):
            span = Span(str(path), 3, 5, 3, 9)
            diags.append(Diagnostic("E202", "unknown name 'qty'", span))
        else:
            rules.append(RULES[path.name])
    return rules, diags


def rules_dir(tmp_path: Path, **texts: str) -> Path:
    for name, text in texts.items():
        (tmp_path / f"{name}.rule").write_text(text, encoding="utf-8")
    return tmp_path


def hook(directory: Path, mono: FakeTime | None = None) -> LiveRules:
    """A hook with its own watermark clock on fake monotonic time."""
    mono = mono or FakeTime()
    clock = WatermarkClock(mono)
    return LiveRules(directory, loader=fake_loader, monotonic=mono, clock=clock, check_every=5)


def test_without_a_clock_of_its_own_the_hook_ticks_at_the_given_time(tmp_path: Path) -> None:
    live = LiveRules(rules_dir(tmp_path, sla="ok"), loader=fake_loader)
    tables = empty_tables()
    received = order_event("r1", "order.received", at(2, 10), quantity=1, amount="1")
    apply_event(tables, received, 1)
    live.on_event(tables, received, 1)
    [alert] = live.on_tick(tables, at(2, 12))
    assert alert.at == at(2, 11)


def test_a_bad_file_is_logged_and_the_good_ones_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        live = hook(rules_dir(tmp_path, caps="ok", sla="BAD"))
    assert list(live.engine.rules) == ["CAP-1"]
    assert f"{tmp_path / 'sla.rule'}:3:5: E202 unknown name 'qty'" in caplog.text


def test_reload_keeps_the_live_rules_when_the_new_set_has_errors(tmp_path: Path) -> None:
    live = hook(rules_dir(tmp_path, caps="ok"))
    (tmp_path / "sla.rule").write_text("BAD", encoding="utf-8")
    problems = live.reload()
    assert problems == (f"{tmp_path / 'sla.rule'}:3:5: E202 unknown name 'qty'",)
    assert list(live.engine.rules) == ["CAP-1"]
    (tmp_path / "sla.rule").write_text("fixed", encoding="utf-8")
    assert live.reload() == ()
    assert sorted(live.engine.rules) == ["CAP-1", "SLA-1"]


def test_a_broken_calendar_file_does_not_take_the_rules_down(tmp_path: Path) -> None:
    live = hook(rules_dir(tmp_path, caps="ok"))
    (tmp_path / "calendars").mkdir()
    (tmp_path / "calendars" / "x.yaml").write_text("name: [", encoding="utf-8")
    [problem] = live.reload()
    assert "not valid YAML" in problem and list(live.engine.rules) == ["CAP-1"]


def test_on_tick_reloads_changed_files_and_fires_on_the_watermark(tmp_path: Path) -> None:
    mono = FakeTime()
    live = hook(rules_dir(tmp_path, caps="ok"), mono)
    (tmp_path / "sla.rule").write_text("new", encoding="utf-8")
    tables = empty_tables()
    received = order_event("r1", "order.received", at(2, 10), quantity=1, amount="1")
    apply_event(tables, received, 1)
    assert live.on_event(tables, received, 1) == []  # SLA-1 not live yet: no watch
    mono.t += 6
    assert live.on_tick(tables, at(30)) == []  # the wall clock's `now` is not used
    assert "SLA-1" in live.engine.rules
    received2 = order_event("r2", "order.received", at(2, 10, 5), oid="O2", quantity=1, amount="1")
    apply_event(tables, received2, 2)
    live.on_event(tables, received2, 2)
    mono.t += 3601  # just over one real hour after the latest event
    [alert] = live.on_tick(tables, at(30))
    assert alert.key == {"order_id": "O2"} and alert.at == at(2, 11, 5)


def test_after_a_restart_the_tick_carries_on_from_the_engine_watermark(tmp_path: Path) -> None:
    directory = rules_dir(tmp_path, sla="ok")
    tables = empty_tables()
    first = hook(directory)
    received = order_event("r1", "order.received", at(2, 10), quantity=1, amount="1")
    apply_event(tables, received, 1)
    first.on_event(tables, received, 1)
    first.engine.on_tick(tables, at(2, 10, 30))
    mono = FakeTime()
    restarted = hook(directory, mono)
    assert restarted.on_tick(tables, at(30)) == []  # clock resumes at 10:30
    mono.t += 3601
    [alert] = restarted.on_tick(tables, at(30))
    assert alert.at == at(2, 11)


def test_no_event_ever_means_no_tick(tmp_path: Path) -> None:
    live = hook(rules_dir(tmp_path, caps="ok"))
    tables: Any = empty_tables()
    assert live.on_tick(tables, at(2)) == []
    limits = event("l1", "inventory.region_limits", at(1), region="east", reasonable_stock=1)
    assert live.on_event(tables, limits, 1) == []


def test_live_rules_uses_the_business_time_zone_for_the_default_calendar(tmp_path: Path) -> None:
    live = live_rules(rules_dir(tmp_path, sla="ok"), "Europe/Berlin", fake_loader)
    assert str(live.engine.rules["SLA-1"].calendar.zone) == "Europe/Berlin"
    with pytest.raises(EngineError, match="unknown business time zone"):
        live_rules(tmp_path, "Mars/Olympus", fake_loader)
