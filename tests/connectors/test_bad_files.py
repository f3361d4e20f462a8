"""Bad files at the CSV import and the watch folder (issue 7): absurd cells are row errors,
total rows are recognised, .xlsx and Excel's "Unicode text" are read through the same row
checks, other formats are named, links out of the folder are refused, nothing loops."""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from connectors.base import MemorySink, Routed
from connectors.csv_plan import parse_plan_csv
from connectors.exceptions import PublishError
from connectors.filedrop import WatchFolder
from contract.topics import Topics
from orderhub.commands.connect import connect
from streams.core.ingest import MAX_RECORD_BYTES

TOPICS = Topics("t")
AT = datetime(2026, 10, 30, 7, tzinfo=UTC)
NAME = "华北区域周需求计划表_2026-11-02.csv"
HEADER = "型号,周开始日期,需求数量\n"
NOW = 1_800_000_000.0


def drop(inbox: Path, name: str, data: bytes) -> Path:
    path = inbox / name
    path.write_bytes(data)
    os.utime(path, (NOW - 60, NOW - 60))
    return path


def watcher(inbox: Path, sink: Any) -> WatchFolder:
    return WatchFolder(inbox, sink, TOPICS, settle=2.0, clock=lambda: NOW)


def letters(sink: MemorySink) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in sink.records if r.topic == TOPICS.dead_letter]


def plans(sink: MemorySink) -> list[tuple[str, int]]:
    found = [json.loads(r.value) for r in sink.records if r.topic == TOPICS.family("plans")]
    return [(p["model"], p["quantity"]) for p in found]


@pytest.mark.parametrize("quantity", ["9" * 5000, "1" * 30, "1000000001", '"1,000,000,000,000"'])
def test_an_absurd_quantity_is_a_row_error_and_the_other_rows_go_on(quantity: str) -> None:
    text = HEADER + "X1,2026-11-02,5\n" + f"X2,2026-11-02,{quantity}\n" + "X3,2026-11-02,7\n"
    batch = parse_plan_csv(text.encode(), NAME, AT)
    assert [(e.model, e.quantity) for e in batch.events] == [("X1", 5), ("X3", 7)]
    [rejected] = batch.rejections
    assert (rejected.row, rejected.reason) == (3, "bad_quantity")
    assert "is not a whole number from 0 to 1,000,000,000" in rejected.error
    assert len(rejected.error) < 200  # the cell is quoted cut, not whole


def test_the_largest_quantity_is_still_accepted() -> None:
    batch = parse_plan_csv((HEADER + 'X1,2026-11-02,"1,000,000,000"\n').encode(), NAME, AT)
    assert [e.quantity for e in batch.events] == [1_000_000_000]


@pytest.mark.parametrize(
    "row", ["合计,,,155", ",合计,,155", "总 计：,,,155", "Grand Total,,,155", ",,小计,155"]
)
def test_a_total_row_is_a_summary_row_in_whatever_column(row: str) -> None:
    text = "序号,型号,周开始日期,需求数量\n1,X1,2026-11-02,155\n" + row + "\n"
    batch = parse_plan_csv(text.encode(), NAME, AT)
    assert [e.model for e in batch.events] == ["X1"]
    assert [(r.row, r.reason) for r in batch.rejections] == [(3, "summary_row")]


def test_a_row_too_long_is_too_large_and_its_dead_letter_fits(tmp_path: Path) -> None:
    long_row = "X2,2026-11-02,5," + ",".join(["备注" * 50] * 3000)  # ~900 KB of UTF-8
    drop(tmp_path, NAME, (HEADER + "X1,2026-11-02,5\n" + long_row + "\n").encode())
    sink = MemorySink()
    [outcome] = watcher(tmp_path, sink).scan()
    assert [(r.row, r.reason) for r in outcome.rejections] == [(3, "too_large")]
    assert plans(sink) == [("X1", 5)]
    [dead] = letters(sink)
    assert (dead["reason"], dead["truncated"], dead["size"]) == (
        "too_large",
        True,
        len(long_row.encode()),
    )
    assert max(len(r.value) for r in sink.records) < MAX_RECORD_BYTES
    assert outcome.moved_to.parent.name == "processed"  # done: it is not taken again
    assert watcher(tmp_path, sink).scan() == []


def test_utf16_unicode_text_is_read_tab_separated() -> None:
    text = "型号\t周开始日期\t需求数量\r\nX1\t2026-11-02\t120\r\nX2\t2026-11-02\tabc\r\n"
    batch = parse_plan_csv(text.encode("utf-16"), NAME, AT)
    assert [(e.model, e.quantity) for e in batch.events] == [("X1", 120)]
    assert [(r.row, r.reason) for r in batch.rejections] == [(3, "bad_quantity")]


def workbook(rows: Sequence[Sequence[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


XLSX_ROWS: list[list[Any]] = [
    ["华北区域周需求计划表"],
    ["型号", "周开始日期", "需求数量（台）", "备注"],
    ["X1", datetime(2026, 11, 2), 120, None],
    ["X2", date(2026, 11, 2), 35.0, "加急"],
    ["X3", "2026-11-02", "十二", None],
    ["X4", datetime(2026, 11, 2), 10**30, None],
    ["合计", None, 155, None],
]


def test_an_xlsx_goes_through_the_same_row_checks(tmp_path: Path) -> None:
    drop(tmp_path, "华北区域周需求计划表_2026-11-02.xlsx", workbook(XLSX_ROWS))
    sink = MemorySink()
    [outcome] = watcher(tmp_path, sink).scan()
    assert outcome.error is None
    assert plans(sink) == [("X1", 120), ("X2", 35)]
    assert [(r.row, r.reason) for r in outcome.rejections] == [
        (5, "bad_quantity"),
        (6, "bad_quantity"),
        (7, "summary_row"),
    ]
    assert [d["topic"] for d in letters(sink)] == ["file:华北区域周需求计划表_2026-11-02.xlsx"] * 3
    assert base64.b64decode(letters(sink)[0]["value_base64"]).decode() == "X3,2026-11-02,十二"
    assert outcome.moved_to.parent.name == "processed"


def test_connect_csv_dry_run_reads_an_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "华北区域周需求计划表_2026-11-02.xlsx"
    path.write_bytes(workbook(XLSX_ROWS[:4]))
    result = CliRunner().invoke(connect, ["csv", "--dry-run", str(path)])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["model"], e["week_start"], e["quantity"]) for e in events] == [
        ("X1", "2026-11-02", 120),
        ("X2", "2026-11-02", 35),
    ]


@pytest.mark.parametrize(
    ("name", "data", "reason", "words"),
    [
        (
            "plan.xls",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100,
            "unsupported_format",
            ".xls",
        ),
        ("plan.csv", b"%PDF-1.7\n", "unsupported_format", "PDF"),
        ("plan.xlsx", b"PK\x03\x04 not really a zip", "bad_xlsx", "not an Excel workbook"),
        ("plan.csv", b"\x80\x81\xff garbage", "bad_encoding", "CSV UTF-8"),
    ],
)
def test_a_file_of_another_format_is_refused_with_a_reason_naming_it(
    tmp_path: Path, name: str, data: bytes, reason: str, words: str
) -> None:
    drop(tmp_path, name, data)
    sink = MemorySink()
    [outcome] = watcher(tmp_path, sink).scan()
    assert outcome.error is not None
    assert (outcome.error.reason, outcome.moved_to.parent.name) == (reason, "failed")
    assert words in outcome.error.message
    [dead] = letters(sink)
    assert dead["reason"] == reason


def test_a_link_out_of_the_folder_is_refused_unread_and_the_target_left_alone(
    tmp_path: Path,
) -> None:
    inbox, outside = tmp_path / "inbox", tmp_path / "secret.csv"
    inbox.mkdir()
    outside.write_text(HEADER + "X9,2026-11-02,1\n")
    link = inbox / "plan.csv"
    link.symlink_to(outside)
    os.utime(link, (NOW - 60, NOW - 60), follow_symlinks=False)
    drop(inbox, NAME, (HEADER + "X1,2026-11-02,5\n").encode())
    sink = MemorySink()
    outcomes = {o.file: o for o in watcher(inbox, sink).scan()}
    refused = outcomes["plan.csv"]
    assert refused.error is not None and refused.error.reason == "outside_folder"
    assert plans(sink) == [("X1", 5)]  # the linked file's row is not published
    [dead] = letters(sink)
    assert (dead["reason"], dead["value_base64"]) == ("outside_folder", "")
    assert (inbox / "failed" / "plan.csv").is_symlink()  # the link moved, not its target
    assert outside.read_text().endswith("X9,2026-11-02,1\n")


class RefusingSink:
    """A broker that refuses the records themselves (e.g. over its size limit)."""

    def __init__(self) -> None:
        self.calls = 0

    def publish(self, records: Sequence[Routed]) -> None:
        self.calls += 1
        raise PublishError("MessageSizeTooLargeError", frozenset(), permanent=True)


def test_records_the_broker_refuses_for_good_send_the_file_to_failed_not_round_again(
    tmp_path: Path,
) -> None:
    drop(tmp_path, NAME, (HEADER + "X1,2026-11-02,5\n").encode())
    sink = RefusingSink()
    [outcome] = watcher(tmp_path, sink).scan()
    assert outcome.error is not None and outcome.error.reason == "refused_by_kafka"
    assert outcome.moved_to == tmp_path / "failed" / NAME
    assert watcher(tmp_path, sink).scan() == []
    assert sink.calls == 1


def test_a_file_that_breaks_the_parser_goes_to_failed_and_the_watcher_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import connectors.filedrop as filedrop

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("unforeseen")

    drop(tmp_path, "a.csv", (HEADER + "X1,2026-11-02,5\n").encode())
    monkeypatch.setattr(filedrop, "parse_file", broken)
    sink = MemorySink()
    [outcome] = watcher(tmp_path, sink).scan()
    assert outcome.error is not None and outcome.error.reason == "cannot_read"
    assert "unforeseen" in outcome.error.message
    assert outcome.moved_to == tmp_path / "failed" / "a.csv"
    assert [d["reason"] for d in letters(sink)] == ["cannot_read"]


def test_dry_run_of_a_122880_digit_quantity_is_a_row_error_not_a_traceback(
    tmp_path: Path,
) -> None:
    path = tmp_path / NAME
    path.write_text(HEADER + "X1,2026-11-02," + "9" * 122_880 + "\nX2,2026-11-02,5\n")
    result = CliRunner().invoke(connect, ["csv", "--dry-run", str(path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert [json.loads(line)["model"] for line in result.stdout.splitlines()] == ["X2"]
    assert result.stderr.startswith(f"{NAME}:2: too_large: a row of 122,894 characters")
