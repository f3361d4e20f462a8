"""`orderhub rules check | fmt`: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from orderhub.commands.rules import rules
from tests.dsl.test_parser import seed_rule_headers

THREE = Path("tests/dsl/golden/bad/three_mistakes.rule")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(rules, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_of_the_seed_rules_is_clean() -> None:
    code, out, _ = run("check", "rules")
    assert code == 0
    n_files = len(list(Path("rules").glob("*.rule")))
    n_rules = len(seed_rule_headers())
    assert out == f"{n_files} file(s), {n_rules} rule(s) loaded: 0 errors, 0 warnings\n"


def test_check_prints_every_diagnostic_with_source_and_caret() -> None:
    code, out, _ = run("check", str(THREE))
    assert code == 1
    assert out.splitlines()[:4] == [
        f"{THREE}:6:23: E100 '==' is not an operator",
        "  when event.quantity == 3",
        "                      ^~",
        "hint: compare with a single '=': a = b",
    ]
    assert out.splitlines()[-1] == "1 file(s), 0 rule(s) loaded: 3 errors, 0 warnings"


def test_check_json() -> None:
    code, out, err = run("check", "--format", "json", str(THREE))
    assert code == 1
    data = json.loads(out)
    assert [(d["code"], d["line"], d["col"]) for d in data] == [
        ("E100", 6, 23),
        ("E201", 14, 8),
        ("E203", 23, 8),
    ]
    assert set(data[0]) == {
        "code", "message", "file", "line", "col", "end_line", "end_col", "hint", "severity"
    }  # fmt: skip
    assert "3 errors" in err


def test_missing_path_is_a_usage_error() -> None:
    code, _, err = run("check", "no/such/dir")
    assert code == 2
    assert "no such file or directory" in err


def test_fmt_check_and_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "r.rule"
    path.write_text('rule A "a" {\n    severity info\n}\n', encoding="utf-8")
    code, out, _ = run("fmt", "--check", str(path))
    assert (code, out) == (1, f"would reformat {path}\n")
    code, out, _ = run("fmt", str(path))
    assert (code, out) == (0, f"reformatted {path}\n")
    assert path.read_text() == 'rule A "a" {\n  severity info\n}\n'
    assert run("fmt", "--check", str(path))[0] == 0


def test_fmt_check_of_the_seed_rules_passes() -> None:
    assert run("fmt", "--check", "rules") == (0, "", "")


def test_fmt_refuses_a_file_with_syntax_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.rule"
    path.write_text('rule A "a" {\n  when a == b\n}\n', encoding="utf-8")
    code, _, err = run("fmt", str(path))
    assert code == 1
    assert "E100" in err and "not formatted" in err


def test_check_resolves_calendars_for_a_file_outside_the_rules_folder(tmp_path: Path) -> None:
    caps = tmp_path / "caps.rule"
    text = Path("rules/caps.rule").read_text(encoding="utf-8")
    caps.write_text(text.replace('"cn-mainland-2026"', '"cn-mainland-2027"'), encoding="utf-8")
    code, out, _ = run("check", str(caps))
    assert code == 1
    assert out.splitlines()[0] == f"{caps}:11:10: E205 unknown calendar 'cn-mainland-2027'"


def test_check_shows_a_calendar_s_bad_date_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "calendars").mkdir()
    calendar = tmp_path / "calendars" / "cn.yaml"
    calendar.write_text("name: cn-mainland-2026\nworkdays:\n  - 2026-13-01\n", encoding="utf-8")
    (tmp_path / "caps.rule").write_text(Path("rules/caps.rule").read_text("utf-8"), "utf-8")
    code, out, _ = run("check", str(tmp_path))
    assert code == 1
    assert out.splitlines()[:3] == [
        f"{calendar}:3:5: E010 workdays: '2026-13-01' is not a date YYYY-MM-DD",
        "  - 2026-13-01",
        "    ^",
    ]
