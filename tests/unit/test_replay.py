"""`orderhub replay`: past events through a rule set, on event time."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from dsl.calendar import DEFAULT_CALENDAR
from dsl.compiled import CompiledRule
from streams import replay
from streams.engine import Engine
from tests.unit.engine_rules import at, cap_rule, sla_rule


def line(eid: str, type_: str, when: Any, **fields: Any) -> str:
    record = {"event_id": eid, "type": type_, "event_time": when.isoformat(), "source": "erp"}
    return json.dumps({**record, **fields})


def order_line(eid: str, type_: str, when: Any, oid: str = "O1", **fields: Any) -> str:
    return line(eid, type_, when, order_id=oid, region="east", model="M1", **fields)


EVENTS = [
    line("l1", "inventory.region_limits", at(1), region="east", reasonable_stock=100),
    order_line("r1", "order.received", at(2, 10), quantity=120, amount="10"),
    '{"event_id": "broken", "type": ',
    "",
    order_line("e1", "order.entered", at(2, 10, 30), quantity=120, amount="10"),
    '{"event_id": "x", "type": "order.teleported"}',
    order_line("r2", "order.received", at(2, 11), oid="O2", quantity=1, amount="1"),
    order_line("e2", "order.entered", at(2, 11, 30), oid="O2", quantity=1, amount="1"),
    order_line("n1", "order.entered", at(2, 12), quantity="lots", amount="10"),
    order_line("r3", "order.received", at(2, 15), oid="O3", quantity=1, amount="1"),
]


def engine(*rules: CompiledRule) -> Engine:
    return Engine(list(rules) or [cap_rule(), sla_rule()], {}, DEFAULT_CALENDAR)


def read(lines: list[str]) -> tuple[list[Any], list[tuple[int, str]]]:
    bad: list[tuple[int, str]] = []
    events = list(replay.read_events(lines, lambda n, reason: bad.append((n, reason))))
    return events, bad


def test_bad_lines_are_reported_with_their_numbers_and_skipped() -> None:
    events, bad = read(EVENTS)
    assert [n for n, _ in events] == [1, 2, 5, 7, 8, 10]
    assert [n for n, _ in bad] == [3, 6, 9]
    assert bad[0][1].startswith("not JSON")
    assert bad[1][1] == "unknown event type 'order.teleported'"
    assert bad[2][1].startswith("quantity: ")


def test_replay_judges_events_and_ticks_to_the_last_event_time() -> None:
    events, _ = read(EVENTS)
    result = replay.run(engine(), events, until=None)
    assert result.events == 6 and result.end == at(2, 15)
    assert [(a.rule_id, a.status, a.key.get("order_id")) for a in result.alerts] == [
        ("CAP-1", "firing", "O1"),
    ]
    assert replay.counts(result) == {"CAP-1": (1, 0), "SLA-1": (0, 0)}


def test_until_moves_the_clock_further() -> None:
    events, _ = read(EVENTS)
    result = replay.run(engine(), events, until=at(3, 12))
    late = [a for a in result.alerts if a.rule_id == "SLA-1"]
    assert [(a.key["order_id"], a.at) for a in late] == [("O3", at(2, 16))]
    assert result.end == at(3, 12)


def test_compare_shows_what_the_second_rule_set_adds_and_removes() -> None:
    events, _ = read(EVENTS)
    base = replay.run(engine(cap_rule()), events, until=at(3))
    other = replay.run(engine(sla_rule()), events, until=at(3))
    added, removed = replay.difference(base, other)
    assert [a.rule_id for a in added] == ["SLA-1"]
    assert [a.rule_id for a in removed] == ["CAP-1"]
    table = replay.compare_table(base, other)
    assert table.splitlines()[1].split() == ["CAP-1", "1", "0", "0", "0"]


def test_command_prints_jsonl_on_stdout_and_the_summary_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events_file = tmp_path / "events.jsonl"
    events_file.write_text("\n".join(EVENTS) + "\n", encoding="utf-8")
    monkeypatch.setattr(replay, "load_engine", lambda *_: engine())
    out, err = io.StringIO(), io.StringIO()
    options = replay.ReplayOptions(tmp_path, events_file, until=at(3))
    assert replay.main(options, out, err) == 0
    alerts = [json.loads(text) for text in out.getvalue().splitlines()]
    assert [(a["rule_id"], a["status"]) for a in alerts] == [
        ("CAP-1", "firing"),
        ("SLA-1", "firing"),
    ]
    assert f"{events_file}:3: skipped: not JSON" in err.getvalue()
    assert "6 events, clock at 2026-03-03T10:00:00+08:00, 2 alerts" in err.getvalue()
    summary = {row.split()[0]: row.split()[1:] for row in err.getvalue().splitlines()[-2:]}
    assert summary == {"CAP-1": ["1", "0", "0"], "SLA-1": ["1", "0", "0"]}


def test_command_table_format_and_compare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events_file = tmp_path / "events.jsonl"
    events_file.write_text("\n".join(EVENTS) + "\n", encoding="utf-8")
    sets = {tmp_path / "a": engine(cap_rule()), tmp_path / "b": engine(sla_rule())}
    monkeypatch.setattr(replay, "load_engine", lambda d, *_: sets[d])
    out, err = io.StringIO(), io.StringIO()
    options = replay.ReplayOptions(tmp_path / "a", events_file, tmp_path / "b", "table", at(3))
    replay.main(options, out, err)
    text = out.getvalue()
    assert text.startswith("1 added, 1 removed\n")
    rows = [r.split()[:5] for r in text.splitlines()[2:4]]
    assert rows == [
        ["+", "2026-03-02T16:00:00+08:00", "firing", "warning", "SLA-1"],
        ["-", "2026-03-02T10:30:00+08:00", "firing", "critical", "CAP-1"],
    ]


def test_unreadable_events_file_is_a_replay_error(tmp_path: Path) -> None:
    options = replay.ReplayOptions(tmp_path, tmp_path / "missing.jsonl")
    with pytest.raises(replay.ReplayError, match="cannot read"):
        replay.main(options, io.StringIO(), io.StringIO())


def test_events_file_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\xff\xfe\x00 not text\n")
    options = replay.ReplayOptions(tmp_path, events)
    with pytest.raises(replay.ReplayError, match="not UTF-8") as info:
        replay.main(options, io.StringIO(), io.StringIO())
    assert info.value.exit_code == 2


# --- with the real rule files (compiler and loader) -------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
RECEIPTS = [
    order_line("r1", "order.received", at(6, 17, 30), quantity=1, amount="10"),
    order_line("n1", "order.entered", at(9, 10), quantity=1, amount="10"),
]


def copy_rules(tmp_path: Path, name: str, edit: tuple[str, str] | None = None) -> Path:
    target = tmp_path / name
    (target / "calendars").mkdir(parents=True)
    for src in [*(ROOT / "rules").glob("*.rule"), *(ROOT / "rules/calendars").glob("*.yaml")]:
        text = src.read_text(encoding="utf-8")
        if edit is not None and src.name == "sla.rule":
            text = text.replace(*edit)
        folder = target / "calendars" if src.suffix == ".yaml" else target
        (folder / src.name).write_text(text, encoding="utf-8")
    return target


def test_seed_rules_replay_a_late_entry_over_the_weekend() -> None:
    events, _ = read(RECEIPTS)
    result = replay.run(replay.load_engine(ROOT / "rules"), events, until=None)
    sla = [(a.status, a.at) for a in result.alerts if a.rule_id == "SLA-1"]
    assert sla == [("firing", at(9, 9, 30)), ("resolved", at(9, 10))]


def test_compare_a_relaxed_rule_removes_its_alerts(tmp_path: Path) -> None:
    relaxed = copy_rules(tmp_path, "relaxed", ("within 1 business hour", "within 2 business hours"))
    events, _ = read(RECEIPTS)
    base = replay.run(replay.load_engine(ROOT / "rules"), events, until=None)
    other = replay.run(replay.load_engine(relaxed), events, until=None)
    added, removed = replay.difference(base, other)
    assert added == []
    assert [(a.rule_id, a.status) for a in removed] == [("SLA-1", "firing"), ("SLA-1", "resolved")]


def test_a_rule_set_with_errors_is_refused_with_its_diagnostics(tmp_path: Path) -> None:
    broken = copy_rules(tmp_path, "broken", ("expect order.entered", "expect order.enterd"))
    with pytest.raises(replay.ReplayError) as info:
        replay.load_engine(broken)
    assert info.value.exit_code == 1
    assert "sla.rule:" in str(info.value) and "E200" in str(info.value)


def test_replay_command_with_until_and_bad_lines(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from orderhub.cli_rules import replay as replay_command

    events_file = tmp_path / "events.jsonl"
    events_file.write_text("\n".join([*RECEIPTS[:1], "{oops"]) + "\n", encoding="utf-8")
    args = ["--rules", str(ROOT / "rules"), str(events_file), "--until", "2026-03-09T12:00"]
    result = CliRunner().invoke(replay_command, args)
    assert result.exit_code == 0, result.output
    alerts = [json.loads(text) for text in result.stdout.splitlines()]
    assert [(a["rule_id"], a["at"]) for a in alerts] == [("SLA-1", "2026-03-09T09:30:00+08:00")]
    assert f"{events_file}:2: skipped: not JSON" in result.stderr


def test_replay_command_exit_codes(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from orderhub.cli_rules import replay as replay_command

    runner = CliRunner()
    missing = runner.invoke(replay_command, ["--rules", str(ROOT / "rules"), "nope.jsonl"])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    broken = copy_rules(tmp_path, "broken", ("expect order.entered", "expect order.enterd"))
    (tmp_path / "e.jsonl").write_text("", encoding="utf-8")
    bad = runner.invoke(replay_command, ["--rules", str(broken), str(tmp_path / "e.jsonl")])
    assert bad.exit_code == 1 and "E200" in bad.stderr
    until = runner.invoke(
        replay_command, ["--rules", str(ROOT / "rules"), str(tmp_path / "e.jsonl"), "--until", "x"]
    )
    assert until.exit_code == 2 and "--until 'x'" in until.stderr
