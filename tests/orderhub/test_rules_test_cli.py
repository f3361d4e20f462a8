"""`orderhub rules test`: what an analyst sees, and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from orderhub.commands.rules import rules

CAPS = Path(__file__).resolve().parents[2] / "rules" / "caps.rule"

CASE = """\
rules: [{rules}]
defaults: {{order_id: O1, region: east, model: M1, amount: 1000}}
tests:
  - name: at the cap
    tables:
      - {{type: inventory.region_limits, reasonable_stock: 100}}
      - {{type: inventory.model_limits, reasonable_stock: 100, upper_limit: 1000}}
    events:
      - {{at: 2026-03-02 10:00, type: order.entered, quantity: 100}}
    expect:
      - {{rule: CAP-1, key: {{order_id: O1}}, values: {{cap: {cap}}}}}
"""


def write(tmp: Path, cap: int) -> Path:
    path = tmp / "caps_test.yaml"
    path.write_text(CASE.format(rules=CAPS, cap=cap), encoding="utf-8")
    return path


def test_a_passing_file_prints_ok_and_exits_0(tmp_path: Path) -> None:
    result = CliRunner().invoke(rules, ["test", str(write(tmp_path, 100))])
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        f"ok   {tmp_path / 'caps_test.yaml'}: at the cap",
        "1 passed, 0 failed",
    ]


def test_a_failing_case_prints_the_difference_and_exits_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(rules, ["test", str(tmp_path)])  # a directory of tests
    assert result.exit_code == 2  # nothing written yet: no test files
    result = CliRunner().invoke(rules, ["test", str(write(tmp_path, 99))])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"FAIL {tmp_path / 'caps_test.yaml'}: at the cap"
    assert "        values.cap: expected 99, got 100" in lines
    assert lines[-1] == "0 passed, 1 failed"


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(rules, ["test", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2


def test_json_formats_list_each_case_with_its_problems(tmp_path: Path) -> None:
    passing, failing = write(tmp_path, 100), tmp_path / "failing.yaml"
    failing.write_text(CASE.format(rules=CAPS, cap=99), encoding="utf-8")
    result = CliRunner().invoke(rules, ["test", "--format", "jsonl", str(passing), str(failing)])
    assert result.exit_code == 1
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first == {"file": str(passing), "case": "at the cap", "ok": True, "problems": []}
    assert (second["file"], second["ok"]) == (str(failing), False)
    assert "    values.cap: expected 99, got 100" in second["problems"]
    assert result.stderr == "1 passed, 1 failed\n"  # stdout holds the data alone
    listed = CliRunner().invoke(rules, ["test", "--format", "json", str(passing), str(failing)])
    assert (listed.exit_code, json.loads(listed.stdout)) == (1, [first, second])
