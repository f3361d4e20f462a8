"""`orderhub rules test` on a test file a user got wrong: a failed result, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.offline.ruletest import RuleTestError, parse_test_file, run_test_file


@pytest.mark.parametrize("zone", ["Mars/Base", "../etc"])
def test_unknown_timezone_is_a_test_file_error(zone: str) -> None:
    text = f"rules: [x.rule]\ntimezone: {zone}\ntests: []\n"
    with pytest.raises(RuleTestError, match=f"t.yaml: timezone: unknown time zone '{zone}'"):
        parse_test_file(text, Path("rules/tests/t.yaml"))


def test_run_test_file_reports_an_unknown_timezone_as_one_failure(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("rules: [x.rule]\ntimezone: Mars/Base\ntests: []\n", encoding="utf-8")
    [result] = run_test_file(path)
    assert (result.name, result.ok) == ("(file)", False)
    assert "unknown time zone 'Mars/Base'" in result.problems[0]
