"""One command-line convention: `--format table|json|jsonl` on every data command (old
spellings as hidden aliases), `--follow` on the tails, the exit codes of README "Exit
codes" through `orderhub.cli.run`, and `orderhub --version`."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from contract.settings import get_settings
from orderhub.cli import run
from orderhub.output import JsonArrayWriter, row

ROOT = Path(__file__).resolve().parents[2]
THREE = ROOT / "tests/dsl/golden/bad/three_mistakes.rule"


def orderhub(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``orderhub ARGS`` as the console script runs it: exit status, stdout, stderr."""
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ORDERHUB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ORDERHUB_TOPIC_PREFIX", "conv")
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "ORDERHUB_KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# --- version and exit codes ---------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = orderhub(capsys, "--version")
    assert (code, out) == (0, f"orderhub {version('orderhub')}\n")
    assert version("orderhub") == "0.1.0"


def test_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert orderhub(capsys, "rules", "check", str(ROOT / "rules"))[0] == 0  # ok
    assert orderhub(capsys, "rules", "check", str(THREE))[0] == 1  # the rules are bad
    assert orderhub(capsys, "kafka", "status")[0] == 1  # not running: not healthy
    code, _, err = orderhub(capsys, "rules", "check", "--format", "xml", str(THREE))
    assert code == 2 and "'xml' is not one of 'table', 'json', 'jsonl'" in err  # usage
    assert orderhub(capsys, "rules", "check", "no/such/dir")[0] == 2  # I/O
    assert orderhub(capsys, "no-such-command")[0] == 2


# --- --format on each data command --------------------------------------------------------


def test_rules_check_formats(capsys: pytest.CaptureFixture[str]) -> None:
    code, listed, _ = orderhub(capsys, "rules", "check", "--format", "json", str(THREE))
    assert code == 1
    expected = [("E100", 6, 23), ("E201", 14, 8), ("E203", 23, 8)]
    assert [(d["code"], d["line"], d["col"]) for d in json.loads(listed)] == expected
    code, lines, err = orderhub(capsys, "rules", "check", "--format", "jsonl", str(THREE))
    assert code == 1
    assert [json.loads(line) for line in lines.splitlines()] == json.loads(listed)
    assert err == "1 file(s), 0 rule(s) loaded: 3 errors, 0 warnings\n"
    table = orderhub(capsys, "rules", "check", str(THREE))
    assert table[1].splitlines()[0] == f"{THREE}:6:23: E100 '==' is not an operator"
    # the old spelling is still accepted, and means table
    assert orderhub(capsys, "rules", "check", "--format", "text", str(THREE)) == table


def test_schema_formats(capsys: pytest.CaptureFixture[str]) -> None:
    from contract.events import EVENT_TYPES, event_json_schema

    code, doc, _ = orderhub(capsys, "schema", "--format", "json")
    assert (code, json.loads(doc)) == (0, event_json_schema())  # the integrators' document
    code, lines, _ = orderhub(capsys, "schema", "--format", "jsonl")
    types = [json.loads(line) for line in lines.splitlines()]
    assert [t["type"] for t in types] == sorted(EVENT_TYPES)
    [entered] = [t["schema"] for t in types if t["type"] == "order.entered"]
    assert {"order_id", "quantity", "event_time"} <= set(entered["required"])
    code, table, _ = orderhub(capsys, "schema")
    rows = [line.split() for line in table.splitlines()]
    assert (code, rows[0]) == (0, ["event", "type", "field", "type", "required"])
    assert ["order.entered", "quantity", "integer", "yes"] in rows
    assert ["order.entered", "event_time", "string", "(date-time)", "yes"] in rows
    [channel] = [line for line in table.splitlines() if line.startswith("order.received  ")
                 and " channel " in line]  # fmt: skip
    assert '"phone" | "fax" | "email"' in channel  # a closed set shows its values


def test_kafka_status_formats(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, doc, _ = orderhub(capsys, "kafka", "status", "--format", "json")
    assert code == 1
    report = json.loads(doc)
    assert (report["running"], report["bootstrap"]) == (False, None)
    assert report["state_dir"] == str(tmp_path / "home" / "kafka")
    code, line, _ = orderhub(capsys, "kafka", "status", "--format", "jsonl")
    assert (code, line.count("\n"), json.loads(line)) == (1, 1, report)
    assert orderhub(capsys, "kafka", "status", "--json") == (1, doc, "")  # hidden alias
    assert orderhub(capsys, "kafka", "status") == (1, "not running\n", "")
    code, _, err = orderhub(capsys, "kafka", "status", "--json", "--format", "table")
    assert code == 2 and "--json contradicts --format table" in err


TABLES: dict[str, dict[str, Any]] = {
    "in_transit_region": {"east": {"qty": 5}, "north": {"qty": 2}},
    "in_transit_model": {"X1": {"qty": 7}},
    "in_transit_region_model": {"east|X1": {"qty": 5}, "north|X1": {"qty": 2}},
    "orders": {"O2": {"status": "entered", "qty": 2}, "O1": {"status": "shipped"}},
}


class FakeWeb:
    """The worker's web endpoint: three in-transit tables and a healthy /healthz."""

    def table(self, name: str) -> dict[str, Any]:
        return TABLES[name]

    def health(self) -> dict[str, Any]:
        return {"healthy": True, "lag": {}}


def test_tables_show_formats(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from streams.worker import control as worker

    monkeypatch.setattr(worker, "client", lambda _settings: FakeWeb())
    code, doc, _ = orderhub(capsys, "tables", "show", "in-transit", "--format", "json")
    assert code == 0
    assert json.loads(doc) == {
        "region": {"east": 5, "north": 2},
        "model": {"X1": 7},
        "region_model": [
            {"region": "east", "model": "X1", "qty": 5},
            {"region": "north", "model": "X1", "qty": 2},
        ],
    }
    assert orderhub(capsys, "tables", "show", "in-transit", "--json")[1] == doc  # alias
    _, lines, _ = orderhub(capsys, "tables", "show", "in-transit", "--format", "jsonl")
    assert [json.loads(line) for line in lines.splitlines()] == [
        {"region": "east", "qty": 5},
        {"region": "north", "qty": 2},
        {"model": "X1", "qty": 7},
        {"region": "east", "model": "X1", "qty": 5},
        {"region": "north", "model": "X1", "qty": 2},
    ]
    _, table, _ = orderhub(capsys, "tables", "show", "in-transit")
    assert table.splitlines()[:5] == [
        "In transit per region",
        "region  qty",
        "------  ---",
        "east      5",
        "north     2",
    ]
    _, lines, _ = orderhub(capsys, "tables", "show", "orders", "--format", "jsonl")
    assert [json.loads(line) for line in lines.splitlines()] == [
        {"key": "O1", "status": "shipped"},
        {"key": "O2", "status": "entered", "qty": 2},
    ]


def test_replay_formats(capsys: pytest.CaptureFixture[str]) -> None:
    demo = str(ROOT / "deploy/demo/events.jsonl")
    base = ["replay", "--rules", str(ROOT / "rules"), demo]
    code, lines, _ = orderhub(capsys, *base)
    assert code == 0
    alerts = [json.loads(line) for line in lines.splitlines()]
    assert len(alerts) > 3 and {a["status"] for a in alerts} == {"firing", "resolved"}
    code, doc, _ = orderhub(capsys, *base, "--format", "json")
    assert (code, json.loads(doc)) == (0, alerts)
    code, table, _ = orderhub(capsys, *base, "--format", "table")
    assert code == 0
    assert table.split()[:6] == ["at", "status", "severity", "rule", "key", "message"]
    assert f"{len(alerts)} alerts" in table


# --- the output helpers --------------------------------------------------------------------


def test_json_array_writer_streams_lines_as_one_array() -> None:
    out = io.StringIO()
    writer = JsonArrayWriter(out)
    writer.write('{"a": 1}\n{"b"')
    assert out.getvalue() == '[\n  {"a": 1}'  # the first item is out before the end
    writer.writelines([": 2}\n", "\n"])
    writer.close()
    assert json.loads(out.getvalue()) == [{"a": 1}, {"b": 2}]


def test_row_renders_maps_and_missing_cells() -> None:
    assert row(["x", {"order_id": "O1", "region": "east"}, None, "", 3]) == (
        "x  order_id=O1,region=east  -  -  3"
    )
