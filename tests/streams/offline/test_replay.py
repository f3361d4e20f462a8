"""`orderhub replay`: past events through a rule set, on event time."""

from __future__ import annotations

import io
import json
import re
import tracemalloc
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dsl.calendar import DEFAULT_CALENDAR
from dsl.compiled import CompiledRule
from streams.core.engine import Engine
from streams.offline import replay
from tests.streams.core.engine_rules import at, cap_rule, sla_rule
from tests.streams.offline.event_lines import read_events


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
    events = list(read_events(lines, lambda n, reason: bad.append((n, reason))))
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

ROOT = Path(__file__).resolve().parents[3]
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

    from orderhub.commands.replay import replay as replay_command

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

    from orderhub.commands.replay import replay as replay_command

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


# --- event-time order and bounded memory ------------------------------------------------------

DEMO = ROOT / "deploy" / "demo" / "events.jsonl"


def run_command(*args: str) -> Any:
    from click.testing import CliRunner

    from orderhub.commands.replay import replay as replay_command

    return CliRunner().invoke(replay_command, ["--rules", str(ROOT / "rules"), *args])


def demo_with_lines_moved_to_the_end(tmp_path: Path, count: int) -> tuple[Path, list[int]]:
    """The demo week with ``count`` events of a time no other event has moved to the end:
    sorted by time (stable) they go back exactly where they were."""
    lines = DEMO.read_text(encoding="utf-8").splitlines()
    times = Counter(_time(text) for text in lines)
    unique = [
        i for i, text in enumerate(lines) if _time(text) is not None and times[_time(text)] == 1
    ]
    moved = unique[10 : 10 + count * 20 : 20]  # spread over the week, none the latest
    kept = [text for i, text in enumerate(lines) if i not in moved]
    target = tmp_path / "shuffled.jsonl"
    target.write_text("\n".join([*kept, *(lines[i] for i in moved)]) + "\n", encoding="utf-8")
    first_moved = len(kept) + 1  # line number of the first moved line in the new file
    return target, list(range(first_moved, first_moved + count))


def _time(text: str) -> str | None:
    try:
        found = json.loads(text).get("event_time")
    except ValueError:
        return None
    return found if isinstance(found, str) else None


def test_out_of_order_lines_give_the_alerts_of_the_sorted_file_and_are_counted(
    tmp_path: Path,
) -> None:
    in_order = run_command(str(DEMO))
    shuffled, moved = demo_with_lines_moved_to_the_end(tmp_path, 5)
    result = run_command(str(shuffled))
    assert in_order.exit_code == result.exit_code == 0, result.output
    assert len(in_order.stdout.splitlines()) == 43
    assert result.stdout == in_order.stdout  # the same alerts, in the same order
    notes = [t for t in result.stderr.splitlines() if "event-time order" in t]
    assert len(notes) == 1 and notes[0].startswith(
        f"{shuffled}: 5 line(s) earlier than a line before them moved into event-time order"
    )
    assert f"(first: line {moved[0]} (" in notes[0]
    assert "event-time order" not in in_order.stderr  # an ordered file: not a word


def test_strict_order_refuses_out_of_order_input_naming_the_lines(tmp_path: Path) -> None:
    shuffled, moved = demo_with_lines_moved_to_the_end(tmp_path, 5)
    result = run_command("--strict-order", str(shuffled))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"{shuffled}: 5 line(s) out of event-time order: line {moved[0]} (" in result.stderr
    named = [int(n) for n in re.findall(r"; line (\d+) \(", result.stderr)]
    assert named == moved[1:]
    assert run_command("--strict-order", str(DEMO)).exit_code == 0


def test_index_sorts_stably_and_names_the_late_lines() -> None:
    text = "\n".join(
        [
            line("a", "inventory.stock_level", at(2, 10), model="M1", on_hand=1),
            line("b", "inventory.stock_level", at(2, 9), model="M1", on_hand=2),
            "# a comment",
            line("c", "inventory.stock_level", at(2, 10), model="M1", on_hand=3),
            line("d", "inventory.stock_level", at(2, 9), model="M1", on_hand=4),
        ]
    )
    stream = io.BytesIO(text.encode("utf-8"))
    index = replay.index_events(stream, lambda n, reason: None)
    assert (len(index), index.late) == (4, 2)
    assert [n.split(" (")[0] for n in index.named] == ["line 2", "line 5"]
    ordered = [(seq, e.event_id) for seq, e in replay.events_in_order(stream, index)]
    assert ordered == [(1, "b"), (2, "d"), (3, "a"), (4, "c")]  # seq grows in time order


class Discard(io.StringIO):
    """An output that keeps nothing: what the replay itself holds is measured, not the
    alerts printed (they go to a pipe or a file)."""

    def write(self, text: str) -> int:
        return len(text)


def few_open_orders(path: Path, count: int) -> None:
    """``count`` events of five orders, received and entered a minute apart, over and over
    (every 100th pair written entered-first, so the replay must sort): the open state
    stays five orders whatever ``count`` is."""
    start = at(2, 9)
    with path.open("w", encoding="utf-8") as out:
        for pair in range(count // 2):
            oid, when = f"O{pair % 5}", start + timedelta(minutes=pair * 3)
            fields = {"oid": oid, "quantity": 1, "amount": "1"}
            received = order_line(f"r{pair}", "order.received", when, **fields)
            entered = order_line(f"e{pair}", "order.entered", when + timedelta(minutes=1), **fields)
            both = [entered, received] if pair % 100 == 0 else [received, entered]
            out.write("\n".join(both) + "\n")


def test_replay_memory_follows_the_open_state_not_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = tmp_path / "events.jsonl"
    count = 20_000  # enough to tell 16 bytes an event from 2 KB; more only takes longer
    few_open_orders(events, count)
    engine = replay.load_engine(ROOT / "rules")  # loaded before measuring: not the events'
    monkeypatch.setattr(replay, "load_engine", lambda *_: engine)

    # What holding the events would take: a sample of them, parsed and kept.
    tracemalloc.start()
    with events.open(encoding="utf-8") as lines:
        sample = [replay.parse_line(text) for _, text in zip(range(1000), lines, strict=False)]
    held = tracemalloc.get_traced_memory()[0] / len(sample) * count
    tracemalloc.stop()
    del sample

    err = io.StringIO()
    tracemalloc.start()
    try:
        code = replay.main(replay.ReplayOptions(ROOT / "rules", events), Discard(), err)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0
    assert f"{count} events, clock at " in err.getvalue()
    assert f"{count // 200} line(s) earlier than a line before them" in err.getvalue()
    assert held > count * 1000  # about 2 KB an event
    # Kept: the index (16 bytes an event, more while sorting) and five orders' state.
    assert peak < held / 10, (peak, held)
