"""Checker: names, types, units; all diagnostics in one run, positioned, with hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsl.check import check
from dsl.diagnostics import Diagnostic
from dsl.loader import load_report
from dsl.parser import parse

CALENDARS = {"cn-mainland-2026"}


def diagnose(
    body: str, head: str = 'rule R "r" {\n', tail: str = "\n}\n", keyless: bool = False
) -> list[Diagnostic]:
    """Every diagnostic of the rule; the no-`key` warning (W302) only with ``keyless``:
    most samples here are event rules without `key`, and W302 has tests of its own."""
    src = head + body + tail
    parsed = parse(src, "f.rule")
    diags = [*parsed.diagnostics, *check(parsed.tree, CALENDARS).diagnostics]
    return [d for d in diags if keyless or d.code != "W302"]


def summary(diags: list[Diagnostic]) -> list[tuple[str, int, int, str]]:
    return [(d.code, d.span.line, d.span.col, d.message) for d in diags]


EVENT_RULE = '  severity warning\n  on order.entered\n  key order_id\n  message "m"\n'


@pytest.mark.parametrize("path", sorted(Path("rules").glob("*.rule")), ids=lambda p: p.name)
def test_every_seed_file_checks_clean(path: Path) -> None:
    parsed = parse(path.read_text(encoding="utf-8"), str(path))
    assert check(parsed.tree, CALENDARS).diagnostics == ()


def test_three_mistakes_give_exactly_three_positioned_diagnostics() -> None:
    report = load_report([Path("tests/dsl/golden/bad/three_mistakes.rule")])
    assert [(d.code, d.span.line, d.span.col) for d in report.diagnostics] == [
        ("E100", 6, 23),
        ("E201", 14, 8),
        ("E203", 23, 8),
    ]
    assert report.diagnostics[2].message == "cannot compare duration with money"
    assert report.diagnostics[1].hint == "did you mean 'quantity'?"


def test_unknown_event_type_suggests_close_names() -> None:
    [d] = diagnose('  severity info\n  on order.shiped\n  message "m"')
    assert (d.code, d.span.line, d.span.col) == ("E200", 3, 6)
    assert d.hint == "did you mean 'order.shipped' or 'order.packed' or 'order.submitted'?"


def test_field_must_exist_on_every_trigger_type() -> None:
    ok = diagnose('  severity info\n  on shipment.dispatched, shipment.eta_updated\n'
                  '  when event.eta is present\n  message "m"')  # fmt: skip
    assert ok == []
    [d] = diagnose('  severity info\n  on shipment.dispatched, shipment.eta_updated\n'
                   '  when event.carrier = "x"\n  message "m"')  # fmt: skip
    assert (d.code, d.message) == ("E201", "unknown field 'carrier' of shipment.eta_updated")


def test_money_compared_with_a_plain_number_hints_the_currency() -> None:
    [d] = diagnose(EVENT_RULE + "  when order.amount >= 500000")
    assert (d.code, d.message) == ("E203", "cannot compare money with number")
    assert d.hint == "write the amount with its currency, e.g. 500000 CNY"


def test_date_plus_duration_is_an_error_with_a_hint() -> None:
    [d] = diagnose(EVENT_RULE + "  let x = order.promised_date - 3d\n  when x > event.time")
    assert d.code == "E203"
    assert d.hint is not None and "start_of_day" in d.hint


def test_units_of_arithmetic() -> None:
    body = EVENT_RULE + (
        "  let due = 30% * order.amount\n"
        "  let waited = event.time - order.received_at\n"
        "  let soon = event.time + 2 business days\n"
        "  when due > 100 CNY and waited > 1d and soon > event.time"
    )
    assert diagnose(body) == []


def test_unknown_name_unknown_function_and_table_get_suggestions() -> None:
    body = EVENT_RULE + (
        "  let cap = stock.upper_limt[event.model]\n"
        "  when cap > 1 and weekdy(event.time) = Mon and capp > 1"
    )
    got = summary(diagnose(body))
    assert [g[0] for g in got] == ["E202", "E204", "E202"]
    hints = [d.hint for d in diagnose(body)]
    assert hints == [
        "did you mean 'stock.upper_limit'?",
        "did you mean 'weekday'?",
        "did you mean 'cap'?",
    ]


def test_signed_by_roles_are_checked_against_the_event_schema() -> None:
    [d] = diagnose(EVENT_RULE + '  when signed_by("vice_presdent")')
    assert (d.code, d.hint) == ("E207", "did you mean 'vice_president'?")


def test_text_compared_with_an_enum_field_must_be_one_of_its_values() -> None:
    [d] = diagnose(
        '  severity info\n  on order.delay_reported\n  when event.cause = "sales_not_relased"\n'
        '  message "m"'
    )
    assert (d.code, d.hint) == ("E207", "did you mean 'sales_not_released'?")


def test_unknown_calendar_and_severity() -> None:
    got = diagnose('  severity critcal\n  calendar "cn-mainland-2025"\n  on order.entered\n'
                   '  message "m"')  # fmt: skip
    assert [(d.code, d.hint) for d in got] == [
        ("E207", "did you mean 'critical'?"),
        ("E205", "did you mean 'cn-mainland-2026'?"),
    ]


def test_clauses_by_kind_and_required_clauses() -> None:
    got = summary(diagnose('  after order.entered\n  when true\n  message "m"'))
    assert [(g[0], g[1]) for g in got] == [("E209", 1), ("E209", 1), ("E208", 3)]
    assert got[0][3] == "rule R needs `expect`"
    assert got[1][3] == "rule R needs `severity`"


def test_deadline_rule_needs_a_time() -> None:
    got = diagnose(
        '  severity info\n  after order.entered\n  expect order.confirmed\n  message "m"'
    )
    assert [(d.code, d.message) for d in got] == [("E209", "rule R needs `within`")]


def test_schedule_rule_has_no_event_outside_expect() -> None:
    got = diagnose(
        "  severity info\n  every month on day 20 at 15:00\n  for each region\n"
        "  expect plan.monthly where event.region = region\n"
        '  key region\n  message "{event.region}"'
    )
    assert [(d.code, d.span.line) for d in got] == [("E202", 7)]


def test_order_is_unknown_for_events_without_an_order_id() -> None:
    [d] = diagnose('  severity info\n  on plan.monthly\n  when order.special\n  message "m"')
    assert (d.code, d.message) == ("E202", "no order record here: plan.monthly has no order_id")


def test_presence_needs_an_optional_value() -> None:
    [d] = diagnose(EVENT_RULE + "  when event.quantity is present")
    assert d.code == "E203"
    assert diagnose(EVENT_RULE + "  when order.promised_date is missing") == []


def test_warnings_for_unused_let_and_a_rule_that_never_fires() -> None:
    got = diagnose(EVENT_RULE + "  let unused = 1\n  when false")
    assert [(d.code, d.severity) for d in got] == [("W301", "warning"), ("W300", "warning")]


def test_duplicate_rule_id_in_one_file() -> None:
    src = 'rule A "a" {\n  severity info\n  on order.entered\n  message "m"\n}\n' * 2
    parsed = parse(src, "f.rule")
    got = check(parsed.tree, None).diagnostics
    assert [(d.code, d.span.line) for d in got if d.is_error] == [("E206", 6)]


def test_diagnostics_come_back_sorted_by_position() -> None:
    got = diagnose(EVENT_RULE + "  let a = b\n  when c and d")
    lines = [(d.span.line, d.span.col) for d in got]
    assert lines == sorted(lines)
    assert len(got) >= 3


def test_a_rule_with_a_penalty_and_no_department_is_warned_about() -> None:
    fined = EVENT_RULE + '  penalty 50 CNY to "clerk"\n'
    [d] = diagnose(fined)
    assert (d.code, d.span.line, d.span.col, d.severity) == ("W303", 1, 6, "warning")
    assert d.message == "rule R has a penalty but names no responsible department"
    assert diagnose(fined + '  label department = "sales"\n') == []


def test_a_penalty_in_a_tier_needs_a_department_too_and_it_must_be_known() -> None:
    body = (
        "  severity warning\n  after order.entered\n  expect order.confirmed\n  key order_id\n"
        '  label department = "marketing"\n'
        '  tier 1d {\n    message "late"\n    penalty 10 CNY to "clerk"\n  }\n'
    )
    [d] = diagnose(body)
    assert (d.code, d.span.line, d.message) == ("W304", 6, "unknown department 'marketing'")
    assert d.hint == "the departments are sales, review, production, quality, warehouse, logistics"
