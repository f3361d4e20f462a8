"""`orderhub connect csv --dry-run`: events on stdout, rejections on stderr, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from orderhub.commands.connect import connect

NAME = "华北区域周需求计划表_2026-11-02.csv"


def test_dry_run_prints_events_as_jsonl_and_rejections_on_stderr(tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes("型号,周一,需求数量\nX1,2026-11-02,120\nX2,2026-11-02,abc\n".encode("gb18030"))
    result = CliRunner().invoke(connect, ["csv", "--dry-run", str(path)])
    assert result.exit_code == 1  # a row was rejected
    [event] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (event["type"], event["region"], event["model"], event["quantity"]) == (
        "plan.weekly",
        "华北",
        "X1",
        120,
    )
    assert result.stderr.splitlines() == [
        f"{NAME}:3: bad_quantity: 需求数量/quantity 'abc' is not a whole number "
        "from 0 to 1,000,000,000",
        "    | X2,2026-11-02,abc",
    ]


def test_dry_run_of_a_clean_file_exits_0_and_region_option_applies(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("model,week_start,quantity\nX1,2026-11-02,5\n", encoding="utf-8-sig")
    result = CliRunner().invoke(connect, ["csv", "--dry-run", "--region", "华东", str(path)])
    assert (result.exit_code, result.stderr) == (0, "")
    assert json.loads(result.stdout)["region"] == "华东"


def test_dry_run_of_an_unreadable_file_says_why_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("a,b\n1,2\n")
    result = CliRunner().invoke(connect, ["csv", "--dry-run", str(path)])
    assert result.exit_code == 1
    assert result.stderr.startswith("export.csv: no_header: ")


def test_connect_alertmanager_needs_an_http_url_before_it_touches_kafka() -> None:
    missing = CliRunner().invoke(connect, ["alertmanager"])
    assert missing.exit_code == 2 and "--url" in missing.stderr
    wrong = CliRunner().invoke(connect, ["alertmanager", "--url", "127.0.0.1:9093"])
    assert wrong.exit_code == 2
    assert "'127.0.0.1:9093' is not an http(s) URL" in wrong.stderr
    too_often = CliRunner().invoke(
        connect, ["alertmanager", "--url", "http://a:9093", "--resend-interval", "0"]
    )
    assert too_often.exit_code == 2


def test_dry_run_formats_table_and_json(tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes("型号,周一,需求数量\nX1,2026-11-02,120\nX22,2026-11-02,7\n".encode("gb18030"))
    listed = CliRunner().invoke(connect, ["csv", "--dry-run", "--format", "json", str(path)])
    events = json.loads(listed.stdout)
    assert listed.exit_code == 0
    assert [(e["region"], e["model"], e["quantity"]) for e in events] == [
        ("华北", "X1", 120),
        ("华北", "X22", 7),
    ]
    lines = CliRunner().invoke(connect, ["csv", "--dry-run", str(path)]).stdout  # jsonl
    assert [json.loads(line) for line in lines.splitlines()] == events
    table = CliRunner().invoke(connect, ["csv", "--dry-run", "--format", "table", str(path)])
    rows = table.stdout.splitlines()
    assert rows[0].split() == ["type", "event_time", "region", "model", "week_start", "quantity"]
    assert rows[2].split()[2:] == ["华北", "X1", "2026-11-02", "120"]
    # 华北 takes two terminal columns a character: the model column still lines up
    assert rows[2].index("X1") + 2 == rows[0].index("model")


def test_format_without_dry_run_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("model,week_start,quantity\nX1,2026-11-02,5\n", encoding="utf-8")
    result = CliRunner().invoke(connect, ["csv", "--format", "json", str(path)])
    assert result.exit_code == 2 and "--format applies to --dry-run" in result.output
