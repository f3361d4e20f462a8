"""Loader: directories, calendars, duplicate ids across files, bad files rejected alone."""

from __future__ import annotations

from pathlib import Path

from dsl.loader import calendar_names, load_report, load_rules
from tests.dsl.test_parser import seed_rule_headers

GOOD = 'rule {id} "r" {{\n  severity info\n  on order.entered\n  key order_id\n  message "m"\n}}\n'


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_seed_rule_set_loads_completely() -> None:
    rules, diags = load_rules([Path("rules")])
    assert diags == []
    assert sorted(r.id for r in rules) == sorted(seed_rule_headers())


def test_calendar_names_come_from_the_yaml_files() -> None:
    assert calendar_names(Path("rules/calendars")) == {"cn-mainland-2026"}


def test_a_bad_file_is_rejected_and_the_others_still_load(tmp_path: Path) -> None:
    write(tmp_path / "a.rule", GOOD.format(id="A-1"))
    write(tmp_path / "sub" / "b.rule", GOOD.format(id="B-1").replace("entered", "enterd"))
    rules, diags = load_rules([tmp_path])
    assert [r.id for r in rules] == ["A-1"]
    assert [(d.code, Path(d.span.file).name, d.span.line) for d in diags] == [("E200", "b.rule", 3)]


def test_duplicate_rule_ids_across_files_are_errors_at_both_places(tmp_path: Path) -> None:
    one = write(tmp_path / "one.rule", GOOD.format(id="DUP"))
    two = write(tmp_path / "two.rule", "\n" + GOOD.format(id="DUP"))
    write(tmp_path / "three.rule", GOOD.format(id="OK"))
    rules, diags = load_rules([tmp_path])
    assert [r.id for r in rules] == ["OK"]
    assert [(d.code, d.span.file, d.span.line) for d in diags] == [
        ("E206", str(one), 1),
        ("E206", str(two), 2),
    ]
    assert diags[0].hint == f"also defined at {two}:2; rule ids must be unique"


def test_unknown_calendar_uses_the_calendars_dir(tmp_path: Path) -> None:
    write(tmp_path / "calendars" / "x.yaml", "name: plant-calendar\n")
    write(tmp_path / "r.rule", 'calendar "cn-mainland-2026"\n' + GOOD.format(id="A"))
    _, diags = load_rules([tmp_path])
    assert [(d.code, d.message) for d in diags] == [("E205", "unknown calendar 'cn-mainland-2026'")]
    _, diags = load_rules([tmp_path], calendars_dir=Path("rules/calendars"))
    assert diags == []


def test_an_unreadable_file_is_an_io_diagnostic(tmp_path: Path) -> None:
    report = load_report([tmp_path / "missing.rule"])
    assert [d.code for d in report.diagnostics] == ["E000"]
    assert report.rules == []
