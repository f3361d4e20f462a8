"""The rule-test runner itself, on a scripted engine: what a passing and a failing case
look like to an analyst. The real rules run in ``test_rule_files.py``."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contract.events import Alert, Event, Penalty
from streams.core.state import StateView, Tables
from streams.offline.ruletest import (
    CaseResult,
    RuleTestCase,
    RuleTestError,
    parse_test_file,
    render,
    run_case,
    same_value,
    summary,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
HEAD = "rules: [x.rule]\ndefaults: {order_id: O1, region: east, model: M1}\ntests:\n"


def alert(status: str = "firing", **values: object) -> Alert:
    return Alert(
        fingerprint="f",
        rule_id="CAP-1",
        rule_name="cap",
        severity="critical",
        status=status,  # type: ignore[arg-type]
        key={"region": "east", "order_id": "O1"},
        message="m",
        values=dict(values),
        at=datetime(2026, 3, 2, 10, tzinfo=SHANGHAI),
        penalty=Penalty(amount=Decimal("200.00"), who="region manager"),
    )


class Scripted:
    """An engine that answers every event with the alerts ``script`` returns, and records
    what it saw."""

    def __init__(self, script: Callable[[Tables, Event], list[Alert]]) -> None:
        self.script = script
        self.events: list[str] = []
        self.ticks: list[datetime] = []

    def on_event(self, tables: Tables, event: Event, seq: int) -> list[Alert]:
        self.events.append(event.type)
        return self.script(tables, event)

    def on_tick(self, tables: Tables, now: datetime) -> list[Alert]:
        self.ticks.append(now)
        return []


def one_case(body: str) -> RuleTestCase:
    return parse_test_file(HEAD + body, Path("rules/tests/t.yaml")).cases[0]


def run(body: str, engine: Scripted) -> CaseResult:
    return run_case(one_case(body), lambda: engine, "t.yaml", SHANGHAI)


CASE = """\
  - name: c
    tables:
      - {type: inventory.region_limits, reasonable_stock: 100}
    events:
      - {at: 2026-03-02 10:00, type: order.entered, quantity: 50, amount: 10}
      - {advance_to: 2026-03-03 09:00}
"""


def test_exact_expectation_passes_and_seeds_reach_tables_but_not_rules() -> None:
    def script(tables: Tables, event: Event) -> list[Alert]:
        assert StateView(tables).region_reasonable_stock("east") == 100
        return [alert(cap=50, waited=timedelta(days=7, minutes=1))]

    engine = Scripted(script)
    result = run(
        CASE + "    expect:\n"
        "      - {rule: CAP-1, key: {region: east}, at: 2026-03-02 10:00, severity: critical,\n"
        "         values: {cap: 50, waited: 7d1min}, penalty: {amount: 200 CNY}}\n",
        engine,
    )
    assert result.ok, result.problems
    assert engine.events == ["order.entered"]  # the seed event was not evaluated
    assert engine.ticks == [datetime(2026, 3, 3, 9, tzinfo=SHANGHAI)]


def test_an_unexpected_alert_fails_the_case() -> None:
    result = run(CASE + "    expect_none: true\n", Scripted(lambda t, e: [alert(cap=50)]))
    assert not result.ok
    assert result.problems[0].startswith("unexpected alert: CAP-1 firing")
    assert "cap=50" in result.problems[0]


def test_an_extra_alert_beside_the_expected_one_fails_the_case() -> None:
    engine = Scripted(lambda t, e: [alert(cap=50), alert("resolved")])
    result = run(CASE + "    expect:\n      - {rule: CAP-1}\n", engine)
    assert [p.split(":")[0] for p in result.problems] == ["unexpected alert"]
    assert "CAP-1 resolved" in result.problems[0]


def test_a_wrong_value_shows_the_closest_alert_and_the_difference() -> None:
    engine = Scripted(lambda t, e: [alert(cap=60)])
    result = run(CASE + "    expect:\n      - {rule: CAP-1, values: {cap: 50}}\n", engine)
    text = render(result)
    assert text.splitlines()[0] == "FAIL t.yaml: c"
    assert "missing alert:    CAP-1 firing {}" in text
    assert "values.cap: expected 50, got 60" in text
    assert "unexpected alert: CAP-1 firing" in text
    assert summary([result]) == "0 passed, 1 failed"


def test_each_expected_alert_needs_its_own_actual_alert() -> None:
    engine = Scripted(lambda t, e: [alert(cap=50)])
    body = CASE + "    expect:\n      - {rule: CAP-1}\n      - {rule: CAP-1, values: {cap: 50}}\n"
    result = run(body, engine)
    assert len(result.problems) == 1
    assert result.problems[0].startswith("missing alert:    CAP-1 firing")


@pytest.mark.parametrize(
    ("expected", "actual", "same"),
    [
        ("30000 CNY", Decimal("30000.00"), True),
        ("30000 CNY", Decimal("29999.99"), False),
        (50, 50, True),
        ("10%", Decimal("0.1"), True),
        ("10d", timedelta(days=10), True),
        ("10d", timedelta(days=10, seconds=1), False),
        ("2026-03-20 15:00", datetime(2026, 3, 20, 15, tzinfo=SHANGHAI), True),
        ("2026-03-20 15:00", datetime(2026, 3, 20, 15, tzinfo=ZoneInfo("UTC")), False),
        (True, True, True),
        (True, 1, False),
        ("region manager", "region manager", True),
    ],
)
def test_values_are_written_the_way_rules_write_them(
    expected: object, actual: object, same: bool
) -> None:
    assert same_value(expected, actual, SHANGHAI) is same


def test_defaults_fill_only_fields_the_event_type_has() -> None:
    case = one_case(CASE + "    expect_none: true\n")
    seed = case.seed_events[0]
    assert seed.model_dump(exclude={"event_time", "event_id"}) == {
        "type": "inventory.region_limits",
        "source": "rules-test",
        "region": "east",
        "reasonable_stock": 100,
    }
    assert seed.event_time == datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)  # the timeline's start


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (CASE, "give either `expect:` (a list) or `expect_none: true`"),
        (CASE + "    expect: []\n", "`expect:` is empty; write `expect_none: true`"),
        (CASE + "    expect_none: true\n    expected: []\n", "unknown field(s) ['expected']"),
        (
            "  - name: c\n    events:\n      - {at: 2026-03-02 10:00, type: order.entred}\n"
            "    expect_none: true\n",
            "unknown event type 'order.entred'",
        ),
        (
            "  - name: c\n    events:\n      - {type: order.cancelled}\n    expect_none: true\n",
            "an event needs `at:`",
        ),
    ],
)
def test_format_mistakes_are_reported_with_their_place(body: str, message: str) -> None:
    with pytest.raises(RuleTestError, match=re.escape("rules/tests/t.yaml: tests[1]")) as info:
        one_case(body)
    assert message in str(info.value)
