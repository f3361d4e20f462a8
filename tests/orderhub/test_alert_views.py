"""Readable alert and dead-letter views: `--since`, the filters, event-time order, the
table in the business time zone, and `alerts tail | list`, `dlq tail` against fakes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contract.settings import get_settings
from orderhub import views
from orderhub.cli import run
from orderhub.commands import alerts as cli_alerts

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def orderhub(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ORDERHUB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ORDERHUB_TOPIC_PREFIX", "conv")
    monkeypatch.setenv("ORDERHUB_TIMEZONE", "Asia/Shanghai")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# --- --since -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("90s", NOW - timedelta(seconds=90)),
        ("1h30m", NOW - timedelta(minutes=90)),
        ("45min", NOW - timedelta(minutes=45)),
        ("1w", NOW - timedelta(weeks=1)),
        ("now", NOW),
        # a date alone: its midnight in the business time zone (16:00 UTC the day before)
        ("2026-03-09", datetime(2026, 3, 8, 16, 0, tzinfo=UTC)),
        ("2026-03-09T08:00", datetime(2026, 3, 9, 0, 0, tzinfo=UTC)),  # no offset: Shanghai
        ("2026-03-09T08:00+00:00", datetime(2026, 3, 9, 8, 0, tzinfo=UTC)),
    ],
)
def test_since_is_a_time_or_a_duration_back_from_now(text: str, expected: datetime) -> None:
    assert views.parse_since(text, NOW, SHANGHAI) == expected


@pytest.mark.parametrize("text", ["yesterday", "2x", "2h foo", "2026-13-01", ""])
def test_a_since_that_is_neither_says_what_is_expected(text: str) -> None:
    with pytest.raises(views.SinceError, match=r"neither a time .* nor a duration"):
        views.parse_since(text, NOW, SHANGHAI)


# --- filters, order, rows ------------------------------------------------------------------


def alert(rule: str, at: str, status: str = "firing", severity: str = "warning") -> dict[str, Any]:
    return {
        "fingerprint": f"{rule}-{at}",
        "rule_id": rule,
        "severity": severity,
        "status": status,
        "key": {"order_id": "O1", "region": "east"},
        "message": f"{rule} at {at}",
        "at": at,
    }


A = alert("SLA-1", "2026-03-09T10:00:00+08:00")
B = alert("CAP-1", "2026-03-09T01:30:00+00:00", severity="critical")  # 09:30 in Shanghai
C = alert("SLA-1", "2026-03-09T11:00:00+08:00", status="resolved")


def test_alerts_sort_by_event_time_as_instants_whatever_their_offset() -> None:
    assert views.in_event_time([A, "not an alert", C, B]) == [B, A, C, "not an alert"]


def test_filters_keep_any_of_each_option_and_all_options() -> None:
    since = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)  # 10:00 Shanghai
    keeps = views.AlertFilter.of(rules=["sla-1", "CAP-1"], statuses=["firing"], since=since).keeps
    assert [keeps(x) for x in (A, B, C)] == [True, False, False]
    assert views.AlertFilter.of(severities=["critical"]).keeps(B)
    assert not views.AlertFilter.of(severities=["critical"]).keeps(A)
    # a record that is no alert shows only when nothing is filtered
    assert views.AlertFilter.of().keeps("junk")
    assert not views.AlertFilter.of(rules=["SLA-1"]).keeps("junk")


def test_an_alert_row_shows_its_time_in_the_business_time_zone() -> None:
    assert views.alert_row(B, SHANGHAI) == (
        "2026-03-09 09:30:00  CAP-1     critical  firing    order_id=O1,region=east  "
        "CAP-1 at 2026-03-09T01:30:00+00:00"
    )
    assert views.alert_header("Asia/Shanghai").split() == [
        "time",
        "rule",
        "severity",
        "status",
        "key",
        "message",
        "(times",
        "in",
        "Asia/Shanghai)",
    ]


# --- the commands, against a fake consumer and a fake worker -------------------------------


class FakeConsumer:
    """The first poll is the backlog (what is on the topic when the tail starts); the
    others come later. Past them an empty batch, or Ctrl-C when ``interrupt``."""

    def __init__(self, polls: list[list[bytes]], clock: list[float], interrupt: bool) -> None:
        self.polls, self.clock, self.interrupt, self.count, self.read = (
            polls,
            clock,
            interrupt,
            0,
            0,
        )

    def partitions_for_topic(self, topic: str) -> set[int]:
        self.topic = topic
        return {0}

    def assign(self, _tps: object) -> None: ...

    def seek_to_beginning(self, *_tps: object) -> None: ...

    def end_offsets(self, tps: list[Any]) -> dict[Any, int]:
        return {tp: len(self.polls[0]) if self.polls else 0 for tp in tps}

    def position(self, _tp: object) -> int:
        return self.read

    def poll(self, timeout_ms: int) -> dict[str, list[Any]]:
        self.clock[0] += 1.0
        self.count += 1
        if self.count > len(self.polls):
            if self.interrupt:
                raise KeyboardInterrupt
            return {}
        values = self.polls[self.count - 1]
        records = [
            SimpleNamespace(value=v, offset=self.read + i, timestamp=1773036000000 + i, key=None)
            for i, v in enumerate(values)
        ]
        self.read += len(values)
        return {"tp": records}


@pytest.fixture
def consumer(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``consumer(polls, interrupt)`` installs a fake consumer; returns those made."""
    from streams.clients import kafka_io

    clock = [0.0]
    made: list[FakeConsumer] = []

    def install(polls: list[list[bytes]], interrupt: bool = False) -> list[FakeConsumer]:
        @contextlib.contextmanager
        def fake(*_args: Any, **_kwargs: Any) -> Iterator[FakeConsumer]:
            made.append(FakeConsumer(polls, clock, interrupt))
            yield made[-1]

        monkeypatch.setattr(kafka_io, "_consumer", fake)
        return made

    monkeypatch.setattr(kafka_io.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(cli_alerts, "_servers", lambda: "fake:9092")
    return install


def encoded(*values: Any) -> list[bytes]:
    return [json.dumps(v).encode() if not isinstance(v, bytes) else v for v in values]


def test_alerts_tail_prints_the_topic_as_a_table_in_event_time(
    capsys: pytest.CaptureFixture[str], consumer: Any
) -> None:
    made = consumer([encoded(C, A, B)])
    code, out, err = orderhub(capsys, "alerts", "tail")
    assert code == 0 and made[0].topic == "conv.alerts"
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["time", "rule", "severity", "status", "key", "message"]
    assert [line[:37] for line in lines[1:]] == [
        "2026-03-09 09:30:00  CAP-1     critic",
        "2026-03-09 10:00:00  SLA-1     warnin",
        "2026-03-09 11:00:00  SLA-1     warnin",
    ]
    assert err == "(3 of 3 records from conv.alerts)\n"
    assert made[0].count == 1  # the backlog read, it stops: no waiting by default


def test_alerts_tail_filters_and_formats(capsys: pytest.CaptureFixture[str], consumer: Any) -> None:
    consumer([encoded(C, A, B, b"not json")])
    code, doc, err = orderhub(capsys, "alerts", "tail", "--format", "json", "--rule", "sla-1")
    assert (code, json.loads(doc)) == (0, [A, C])
    assert err == "(2 of 4 records from conv.alerts)\n"
    _, lines, _ = orderhub(capsys, "alerts", "tail", "--format", "jsonl", "--status", "resolved")
    assert [json.loads(line) for line in lines.splitlines()] == [C]
    _, lines, _ = orderhub(capsys, "alerts", "tail", "--format", "jsonl", "--severity", "critical")
    assert [json.loads(line) for line in lines.splitlines()] == [B]
    _, lines, _ = orderhub(
        capsys, "alerts", "tail", "--format", "jsonl", "--since", "2026-03-09T10:30"
    )
    assert [json.loads(line) for line in lines.splitlines()] == [C]
    _, lines, _ = orderhub(capsys, "alerts", "tail", "--format", "jsonl")
    assert [json.loads(line) for line in lines.splitlines()] == [B, A, C, "not json"]
    code, _, err = orderhub(capsys, "alerts", "tail", "--since", "soon")
    assert code == 2 and "Invalid value for --since" in err
    code, _, err = orderhub(capsys, "alerts", "tail", "--severity", "fatal")
    assert code == 2


def test_follow_prints_the_backlog_then_each_new_batch_in_event_time(
    capsys: pytest.CaptureFixture[str], consumer: Any
) -> None:
    made = consumer([encoded(C, A), [], [], encoded(C, B)], interrupt=True)
    code, out, err = orderhub(capsys, "alerts", "tail", "-f", "--format", "json")
    assert code == 0  # Ctrl-C is how --follow ends; the array is closed
    assert json.loads(out) == [A, C, B, C]
    assert err == "(4 of 4 records from conv.alerts)\n" and made[0].count == 5
    code, _, err = orderhub(capsys, "alerts", "tail", "--follow", "--seconds", "5")
    assert code == 2 and "--follow reads until Ctrl-C" in err


def test_seconds_waits_for_new_records_after_the_backlog(
    capsys: pytest.CaptureFixture[str], consumer: Any
) -> None:
    made = consumer([encoded(A), *([[]] * 5), encoded(B), *([[]] * 30), encoded(C)])
    _, lines, _ = orderhub(capsys, "alerts", "tail", "--seconds", "10", "--format", "jsonl")
    assert [json.loads(line) for line in lines.splitlines()] == [A, B]
    assert made[0].count == 11  # the backlog, then one fake second a poll
    # the old spelling still works: the topic is always read from its first record
    assert orderhub(capsys, "alerts", "tail", "--from-beginning")[0] == 0


class FakeWeb:
    def alerts(self) -> list[dict[str, Any]]:
        return [A, B]

    def health(self) -> dict[str, Any]:
        return {"healthy": True, "lag": {}}


def test_alerts_list_prints_what_fires_now_oldest_first(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from streams.worker import control as worker

    monkeypatch.setattr(worker, "client", lambda _settings: FakeWeb())
    code, doc, _ = orderhub(capsys, "alerts", "list", "--format", "json")
    assert (code, json.loads(doc)) == (0, [B, A])
    code, table, err = orderhub(capsys, "alerts", "list", "--rule", "SLA-1")
    assert table.splitlines()[1] == views.alert_row(A, SHANGHAI)
    assert (code, len(table.splitlines()), err) == (0, 2, "(1 alerts firing)\n")
    assert orderhub(capsys, "alerts", "list", "--format", "jsonl", "--status", "resolved")[1] == ""


DEAD = {
    "reason": "not_json",
    "topic": "conv.orders",
    "partition": 0,
    "offset": 7,
    "error": "x",
    "size": 3,
}
MISSING = {**DEAD, "reason": "missing_field", "offset": 9, "error": "order_id: missing"}


def test_dlq_tail_bare_shows_the_dead_letters_already_there(
    capsys: pytest.CaptureFixture[str], consumer: Any
) -> None:
    made = consumer([encoded(DEAD, MISSING)])
    code, table, err = orderhub(capsys, "dlq", "tail")
    assert (code, made[0].topic) == (0, "conv.dead-letter")
    # record timestamps 1773036000000 ms = 2026-03-09 14:00:00 in Shanghai
    assert table.splitlines()[1:] == [
        "2026-03-09 14:00:00  not_json        conv.orders[0]@7              3        x",
        "2026-03-09 14:00:00  missing_field   conv.orders[0]@9              3        "
        "order_id: missing",
    ]
    assert err == "(2 of 2 records from conv.dead-letter)\n"
    _, lines, _ = orderhub(capsys, "dlq", "tail", "--format", "jsonl", "--reason", "not_json")
    assert [json.loads(line) for line in lines.splitlines()] == [DEAD]
    _, doc, _ = orderhub(capsys, "dlq", "tail", "--format", "json", "--since", "2026-03-10")
    assert json.loads(doc) == []
