"""Parser: seed files parse, syntax errors are friendly and positioned, recovery per rule."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from dsl import ast as a
from dsl.diagnostics import Diagnostic
from dsl.parser import _FileParser, parse

SEEDS = sorted(Path("rules").glob("*.rule"))


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_every_seed_file_parses_without_diagnostics(path: Path) -> None:
    result = parse(path.read_text(encoding="utf-8"), str(path))
    assert result.diagnostics == ()
    assert result.tree.rules


def seed_rule_headers() -> list[str]:
    """Rule ids as written at the start of `rule` lines: an oracle independent of the parser."""
    pattern = re.compile(r'^rule\s+(\S+)\s+"', re.MULTILINE)
    return [m for p in sorted(Path("rules").glob("*.rule")) for m in pattern.findall(p.read_text())]


def test_seed_rule_ids_and_counts() -> None:
    ids = [r.id.name for p in SEEDS for r in parse(p.read_text(), str(p)).tree.rules]
    assert sorted(ids) == sorted(seed_rule_headers())
    assert {"CAP-1", "DEP-2", "PLAN-1", "SLA-10-RECEIPT"} <= set(ids)


def _codes(src: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.col) for d in parse(src, "f.rule").diagnostics]


def test_double_equals_is_e100_with_hint_under_the_operator() -> None:
    src = 'rule A "a" {\n  on order.entered\n  when event.quantity == 3\n}\n'
    [diag] = parse(src, "f.rule").diagnostics
    assert (diag.code, diag.span.line, diag.span.col, diag.span.end_col) == ("E100", 3, 23, 25)
    assert diag.message == "'==' is not an operator"
    assert diag.hint == "compare with a single '=': a = b"


def test_duration_without_unit_is_e103() -> None:
    src = 'rule A "a" {\n  after order.entered\n  expect order.confirmed within 7\n}\n'
    [diag] = parse(src, "f.rule").diagnostics
    assert diag.code == "E103"
    assert diag.hint is not None and "7d" in diag.hint


def test_bad_duration_unit_is_e103_on_the_unit() -> None:
    src = 'rule A "a" {\n  after order.entered\n  expect order.confirmed within 7days\n}\n'
    [diag] = parse(src, "f.rule").diagnostics
    assert (diag.code, diag.span.line, diag.span.col, diag.span.end_col) == ("E103", 3, 34, 38)


def test_unknown_clause_keyword_suggests_the_right_one() -> None:
    [diag] = parse('rule A "a" {\n  severty info\n}\n', "f.rule").diagnostics
    assert (diag.code, diag.message, diag.hint) == (
        "E100",
        "unknown clause 'severty'",
        "did you mean 'severity'?",
    )


def test_missing_closing_brace_is_reported_and_the_next_rule_still_parses() -> None:
    src = 'rule A "a" {\n  severity info\n  on order.entered\n\nrule B "b" {\n  severity info\n}\n'
    result = parse(src, "f.rule")
    [diag] = result.diagnostics
    assert (diag.code, diag.span.line, diag.span.col) == ("E101", 3, 19)
    assert diag.message == "missing '}' at the end of the rule"
    assert [r.id.name for r in result.tree.rules] == ["B"]


def test_unterminated_text_is_e102() -> None:
    assert _codes('rule A "a {\n  severity info\n}\n') == [("E102", 1, 8)]


def test_one_syntax_error_per_broken_rule_and_good_rules_kept() -> None:
    src = (
        'rule A "a" {\n  when a $ b\n}\nrule B "b" {\n  severity info\n}\nrule C "c" { when x = }\n'
    )
    result = parse(src, "f.rule")
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("E100", 2), ("E100", 7)]
    assert [r.id.name for r in result.tree.rules] == ["B"]


def test_comments_are_collected_not_parsed() -> None:
    src = '# head\nrule A "a" {  # header\n  severity info  # trailing\n}\n'
    result = parse(src, "f.rule")
    assert [(c.text, c.span.line) for c in result.tree.comments] == [
        ("# head", 1),
        ("# header", 2),
        ("# trailing", 3),
    ]


def parse_expression(text: str) -> tuple[a.Expr | None, list[Diagnostic]]:
    """One expression at line 1, column 1, as a message template's expression is parsed."""
    parser = _FileParser(text, "<string>")
    return parser._parse_expr(text, 1, 1), parser.diags


def test_every_node_has_a_span_and_keywords_are_field_names_after_a_dot() -> None:
    expr, diags = parse_expression("event.month = next_month(deadline)")
    assert diags == []
    assert isinstance(expr, a.Binary)
    assert expr.span == a.Span("<string>", 1, 1, 1, 35)
    assert expr.left == a.Name(("event", "month"), a.Span("<string>", 1, 1, 1, 12))


def test_literals_have_units_and_values() -> None:
    expr, _ = parse_expression("30% * 200 CNY + 3 business hours")
    assert isinstance(expr, a.Binary) and isinstance(expr.left, a.Binary)
    assert expr.left.left == a.Percent(Decimal("0.3"), "30", a.Span("<string>", 1, 1, 1, 4))
    assert isinstance(expr.right, a.DurationLit)
    assert (expr.right.count, expr.right.unit, expr.right.business) == (3, "h", True)
    assert expr.right.text == "3 business hours"


def test_message_template_expressions_are_positioned_in_the_file() -> None:
    src = 'rule A "a" {\n  message "Order {order_id}: {signed_by(\\"vice_president\\")}"\n}\n'
    result = parse(src, "f.rule")
    assert result.diagnostics == ()
    message = result.tree.rules[0].clauses[0]
    assert isinstance(message, a.MessageClause)
    parts = message.template.parts
    assert parts[0] == "Order "
    assert parts[1] == a.Name(("order_id",), a.Span("f.rule", 2, 19, 2, 27))
    assert isinstance(parts[3], a.Call) and parts[3].args[0] == a.Text(
        "vice_president", a.Span("f.rule", 2, 41, 2, 59)
    )


def test_template_braces_escape_and_errors() -> None:
    ok = parse('rule A "a" {\n  message "{{literal}} {order_id}"\n}\n', "f.rule")
    assert ok.tree.rules[0].clauses[0].template.parts[0] == "{literal} "  # type: ignore[union-attr]
    bad = parse('rule A "a" {\n  message "x {order_id"\n}\n', "f.rule")
    assert [(d.code, d.message) for d in bad.diagnostics] == [("E100", "unclosed { in message")]
