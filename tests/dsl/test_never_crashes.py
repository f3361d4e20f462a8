"""The rule language never crashes: whatever the depth, length or size of the input, the
parser, checker, formatter and loader answer with diagnostics; and the messages an author
gets for the slips that used to mislead say what was written and what to write."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl import ast as a
from dsl.check import check
from dsl.diagnostics import Diagnostic, render_all
from dsl.errors import FormatError
from dsl.fmt import format_source
from dsl.loader import load_report
from dsl.parser import parse

HEAD = 'rule R "r" {\n  severity info\n  on order.entered\n  key order_id\n  message "m"\n'
SPAN = a.Span("f.rule", 1, 1, 1, 2)


def diagnostics(text: str) -> list[Diagnostic]:
    parsed = parse(text, "f.rule")
    return [*parsed.diagnostics, *check(parsed.tree, {"cn-mainland-2026"}).diagnostics]


def rule(body: str) -> str:
    return HEAD + body + "\n}\n"


# --- generated: deep, long and wide -----------------------------------------------------------

ATOMS = st.sampled_from(["event.quantity", "1", "order.amount", "7d", '"x"', "true", "cap"])
OPERATORS = st.sampled_from([" + ", " - ", " * ", " or ", " and ", " > ", " = ", " in "])


@st.composite
def expressions(draw: st.DrawFn) -> str:
    """One expression: a chain (long), wrapped in parentheses, `not`, `-` or calls (deep)."""
    count = draw(st.integers(1, 400))
    op = draw(OPERATORS)
    # Past three terms the chain goes on with an unknown name: a long chain is checked, but
    # not compiled (the compiler is not part of this promise).
    text = op.join(draw(ATOMS) for _ in range(min(count, 3)))
    text += op.join(["", *["cap"] * (count - 3)])
    for _ in range(draw(st.integers(0, 3))):
        depth = draw(st.integers(0, 600))
        opener, closer = draw(st.sampled_from([("(", ")"), ("not ", ""), ("-", ""), ("f(", ")")]))
        text = opener * depth + text + closer * depth
    return text


@st.composite
def rule_files(draw: st.DrawFn) -> str:
    """Many rules (wide), each with generated clauses, tiers nested deep, a message."""
    rules = []
    for n in range(draw(st.integers(1, 12))):
        clause = draw(st.sampled_from(["when", "where", "let x =", "expect order.shipped where"]))
        tiers = draw(st.integers(0, 150))
        body = f'  {clause} {draw(expressions())}\n  message "{{{draw(expressions())}}}"'
        body = "tier 1d {\n" * tiers + body + "\n}" * tiers
        rules.append(HEAD.replace("rule R", f"rule R{n}") + body + "\n}\n")
    return "\n".join(rules)


def only_diagnostics(text: str, tmp: Path) -> None:
    """Every stage answers; none raises (``FormatError`` is the formatter's answer)."""
    diags = diagnostics(text)
    render_all(diags, {"f.rule": text})
    try:
        format_source(text, "f.rule")
    except FormatError as err:
        assert err.diagnostics
    path = tmp / "f.rule"
    path.write_text(text, encoding="utf-8")
    report = load_report([path])
    assert all(isinstance(d, Diagnostic) for d in report.diagnostics)


# Calendar files: each key present or not, right or wrong in kind, dates that are not
# dates, ranges the wrong way round, YAML nested deep and YAML that is not YAML.
DATES = st.sampled_from(["2026-02-15", "2026-02-30", "2026-13-01", "0000-01-01", "soon", "1", ""])
VALUES = st.one_of(
    DATES,
    st.integers(-(10**20), 10**20),
    st.sampled_from(["[", "{", "~", "[[[[", "- -", "!!python/object:os.system", '"\\x"']),
    st.integers(0, 400).map(lambda depth: "[" * depth + "1" + "]" * depth),
)


@st.composite
def calendar_files(draw: st.DrawFn) -> str:
    """A calendar YAML file named "cn" (so the generated rules' `calendar "cn"` resolve)."""
    lines = ["name: cn"] if draw(st.booleans()) else [f"name: {draw(VALUES)}"]
    if draw(st.booleans()):
        lines.append(f"timezone: {draw(st.sampled_from(['Asia/Shanghai', 'Mars/Base', '']))}")
    if draw(st.booleans()):
        hours = draw(st.sampled_from(['["09:00", "12:00"]', '["18:00", "09:00"]', '["25:00"]']))
        lines.append(f"working_hours:\n  - {hours}")
    holidays = draw(st.lists(st.tuples(VALUES, VALUES), max_size=4))
    if holidays or draw(st.booleans()):
        lines.append("holidays:" + "".join(f"\n  - {{from: {a}, to: {b}}}" for a, b in holidays))
    workdays = draw(st.lists(VALUES, max_size=4))
    if workdays:
        lines.append("workdays:" + "".join(f"\n  - {d}" for d in workdays))
    return "\n".join(draw(st.permutations(lines))) + "\n"


DEEP = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
FILES = settings(DEEP, max_examples=12)


@DEEP
@given(expressions())
def test_any_expression_gives_only_diagnostics(expr: str) -> None:
    for text in (rule(f"  when {expr}"), rule(f'  when true\n  message "{{{expr}}}"')):
        diags = diagnostics(text)
        if a.nesting(parse(text, "f.rule").tree) > a.MAX_NESTING:
            raise AssertionError("a tree past the limit reached the checker")
        assert all(isinstance(d, Diagnostic) for d in diags)


@FILES
@given(rule_files())
def test_any_rule_file_gives_only_diagnostics(text: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        only_diagnostics(text, Path(tmp))


@FILES
@given(rule_files(), st.lists(calendar_files(), min_size=1, max_size=3))
def test_any_rule_file_with_any_calendars_gives_only_diagnostics(
    text: str, calendars: list[str]
) -> None:
    """Rules that use a calendar, loaded with generated calendar files beside them."""
    import tempfile

    text = text.replace("  severity info\n", '  severity info\n  calendar "cn"\n')
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "calendars"
        folder.mkdir()
        for n, calendar in enumerate(calendars):
            (folder / f"c{n}.yaml").write_text(calendar, encoding="utf-8")
        only_diagnostics(text, Path(tmp))
        report = load_report([Path(tmp)])
        render_all(report.diagnostics, {**report.calendar_sources, **report.sources})
        problems = [d for d in report.diagnostics if d.span.file.endswith(".yaml")]
        assert all(d.code == "E010" and d.span.line >= 1 for d in problems)


def test_500_nested_parentheses_are_one_e104_at_the_clause() -> None:
    [diag] = diagnostics(rule("  when " + "(" * 500 + "event.quantity > 1" + ")" * 500))
    assert (diag.code, diag.span.line, diag.span.col) == ("E104", 6, 3)
    assert diag.message == "nested 503 levels deep; at most 100"


def test_a_chain_of_400_plus_terms_is_e104_and_loads_nothing(tmp_path: Path) -> None:
    path = tmp_path / "long.rule"
    path.write_text(rule("  when " + " + ".join(["event.quantity"] * 400) + " > 1"), "utf-8")
    report = load_report([path])
    assert [d.code for d in report.diagnostics] == ["E104"]
    assert report.rules == []


def test_a_long_chain_within_the_limit_still_checks_clean() -> None:
    assert diagnostics(rule("  when " + " or ".join(["event.quantity > 1"] * 40))) == []


def test_a_hand_built_tree_past_the_limit_is_e104_in_the_checker() -> None:
    cond: a.Expr = a.Bool(True, SPAN)
    for _ in range(3000):
        cond = a.Unary("not", cond, SPAN)
    tree = parse(rule("  when true"), "f.rule").tree
    [r] = tree.rules
    deep = a.Rule(r.id, r.name, (*r.clauses[:-1], a.WhenClause(cond, SPAN)), r.span)
    got = check(a.RuleFile("f.rule", (deep,), ()), None).diagnostics
    assert [(d.code, d.message) for d in got] == [("E104", "nested 3002 levels deep; at most 100")]


def test_a_large_file_is_parsed_with_every_rule_at_its_line() -> None:
    rules = [
        HEAD.replace("rule R", f"rule R{n}") + "  when event.quantity > 1\n}\n" for n in range(300)
    ]
    text = "\n".join(rules) + 'rule BAD "b" {\n  when (event.quantity > 1\n}\n'
    parsed = parse(text, "f.rule")
    assert len(parsed.tree.rules) == 300
    [diag] = parsed.diagnostics
    assert (diag.code, diag.span.line, diag.span.col) == ("E101", 300 * 8 + 1, 8)


# --- the messages -----------------------------------------------------------------------------


def test_wrong_operators_are_named_as_written_with_the_right_one() -> None:
    for written, meant in ((">>", ">"), ("< <", "<"), ("=>", ">="), ("=<", "<="), ("<>", "!=")):
        [diag] = diagnostics(rule(f"  when event.quantity {written} 1"))
        assert diag.message == f"'{written}' is not an operator"
        assert diag.hint is not None and diag.hint.startswith(f"did you mean '{meant}'?")
        assert (diag.span.line, diag.span.col) == (6, 23)


def test_a_name_starting_with_or_after_a_value_is_not_split() -> None:
    [diag] = diagnostics(rule("  when event.quantity > 1 order_id"))
    assert diag.message == "unexpected name 'order_id' after a value"
    assert (diag.span.col, diag.span.end_col) == (27, 35)


def test_names_starting_with_keywords_are_names() -> None:
    body = "  let order_total = order.amount\n  let android = 1\n  when order_total > 1 CNY"
    assert diagnostics(rule(body + " and android > 0")) == []


def test_an_unclosed_parenthesis_is_reported_at_itself() -> None:
    [diag] = diagnostics(rule("  when (event.quantity > 1\n  let x = 1"))
    assert (diag.code, diag.message, diag.span.line, diag.span.col) == (
        "E101",
        "unclosed '('",
        6,
        8,
    )
    assert diag.hint == "close it with ) before 'let'"


def test_an_event_rule_without_key_is_a_warning() -> None:
    text = 'rule K-1 "k" {\n  severity info\n  on order.entered\n  message "m"\n}\n'
    [diag] = diagnostics(text)
    assert (diag.code, diag.severity, diag.span.line) == ("W302", "warning", 1)
    assert diag.message == "rule K-1 has no `key`: all its alerts are one alert"


def test_a_message_takes_plain_quotes_inside_its_expressions() -> None:
    plain = rule('  when true\n  message "signed: {signed_by("sales_manager")}"').replace(
        '  message "m"\n', ""
    )
    assert diagnostics(plain) == []
    [template] = [
        c for c in parse(plain, "f.rule").tree.rules[0].clauses if isinstance(c, a.MessageClause)
    ]
    [_, call] = template.template.parts
    assert isinstance(call, a.Call) and call.args == (a.Text("sales_manager", call.args[0].span),)
    assert call.args[0].span.col == 31
    assert format_source(plain, "f.rule").count('{signed_by("sales_manager")}') == 1


def test_the_escaped_spelling_still_reads() -> None:
    old = rule('  when true\n  message "{signed_by(\\"sales_manager\\")}"').replace(
        '  message "m"\n', ""
    )
    assert diagnostics(old) == []


# --- calendars --------------------------------------------------------------------------------

CALENDAR = "name: cn\ntimezone: Asia/Shanghai\nholidays:\n  - {from: 2026-02-30, to: 2026-03-01}\n"


def test_a_bad_date_in_a_calendar_is_e010_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "calendars").mkdir()
    calendar = tmp_path / "calendars" / "cn.yaml"
    calendar.write_text(CALENDAR, encoding="utf-8")
    (tmp_path / "a.rule").write_text(rule('  calendar "cn"\n  when true'), encoding="utf-8")
    [diag] = load_report([tmp_path]).diagnostics
    assert (diag.code, diag.span.file, diag.span.line, diag.span.col) == (
        "E010",
        str(calendar),
        4,
        12,
    )
    assert diag.message == "holidays[0].from: '2026-02-30' is not a date YYYY-MM-DD"


def test_an_unknown_calendar_outside_the_rules_folder_is_e205(tmp_path: Path) -> None:
    (tmp_path / "a.rule").write_text(rule('  calendar "cn-mainland-2027"\n  when true'), "utf-8")
    report = load_report([tmp_path / "a.rule"], None, Path("rules/calendars"))
    [diag] = report.diagnostics
    assert (diag.code, diag.message) == ("E205", "unknown calendar 'cn-mainland-2027'")
    assert diag.hint == "did you mean 'cn-mainland-2026'?"
