"""The daily shipping plan form (周需求日发货计划, ××区域周需求计划表) from CSV and .xlsx."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from connectors.base import MemorySink
from connectors.csv_plan import parse_plan_csv
from connectors.exceptions import UnreadableFile
from connectors.filedrop import publish_file
from connectors.xlsx import parse_plan_xlsx
from contract.events import DailyShippingPlan
from contract.topics import Topics

AT = datetime(2026, 10, 30, 9, 0, tzinfo=UTC)
FILE = "华北区域周需求计划表_2026-11-02.csv"
ROWS = [
    ["华北区域周需求计划表"],
    ["区域", "型号", "周开始日期", "发货日期", "发货数量（台）", "备注"],
    ["华北", "M-100", "2026-11-02", "2026-11-02", "40", ""],
    ["华北", "M-100", "2026-11-02", "2026/11/3", "35", "加急"],
    ["华北", "M-200", "2026-11-02", "2026-11-04", "1,200", ""],
    ["合计", "", "", "", "1275", ""],
    ["编制：李明", "审核：王芳", "批准：赵总"],
]
EXPECTED = [
    ("M-100", date(2026, 11, 2), 40),
    ("M-100", date(2026, 11, 3), 35),
    ("M-200", date(2026, 11, 4), 1200),
]


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)  # Excel quotes "1,200"
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for cells in rows:
        sheet.append(cells)
    sheet["D3"] = datetime(2026, 11, 2)  # a date cell, as Excel keeps it
    sheet["E3"] = 40
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def lines(events: tuple[object, ...]) -> list[tuple[str, date, int]]:
    got = []
    for e in events:
        assert isinstance(e, DailyShippingPlan)
        got.append((e.model, e.day, e.quantity))
    return got


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_the_form_as_csv_in_each_encoding_gives_one_event_per_line_with_signatures(
    encoding: str,
) -> None:
    batch = parse_plan_csv(csv_bytes(ROWS, encoding), FILE, AT)
    assert batch.rejections == ()
    assert lines(batch.events) == EXPECTED
    first = batch.events[0]
    assert isinstance(first, DailyShippingPlan)
    assert (first.region, first.week_start, first.event_time) == ("华北", date(2026, 11, 2), AT)
    assert (first.compiled_by, first.reviewed_by, first.approved_by) == ("李明", "王芳", "赵总")
    assert batch.complete_only is True


def test_the_form_as_xlsx_gives_the_same_events() -> None:
    batch = parse_plan_xlsx(xlsx_bytes(ROWS), FILE.replace(".csv", ".xlsx"), AT)
    assert batch.rejections == ()
    assert lines(batch.events) == EXPECTED


def test_signatures_in_a_label_cell_and_a_name_cell_and_no_week_column() -> None:
    rows = [
        ["型号", "日期", "数量"],
        ["M-100", "2026-11-05", "10"],
        ["编制", "李明", "批准", "赵总"],
    ]
    [event] = parse_plan_csv(csv_bytes(rows, "utf-8"), FILE, AT).events
    assert isinstance(event, DailyShippingPlan)
    assert (event.week_start, event.compiled_by, event.reviewed_by, event.approved_by) == (
        date(2026, 11, 2),
        "李明",
        None,
        "赵总",
    )


def test_bad_lines_are_reported_by_row_and_column() -> None:
    rows = [
        ROWS[1],
        ["华北", "M-100", "2026-11-02", "2026-11-02", "40", ""],
        ["华北", "M-100", "2026-11-02", "2026-11-09", "5", ""],  # row 3: next week's day
        ["华北", "M-100", "2026-11-02", "2026-11-03", "-5", ""],  # row 4: negative
        ["华东", "M-100", "2026-11-02", "2026-11-03", "5", ""],  # row 5: another region
        ["华北", "", "2026-11-02", "2026-11-03", "5", ""],  # row 6: no model
        ["华北", "M-100", "2026-11-02", "2026-11-02", "7", ""],  # row 7: same day again
        ["编制：李明"],
    ]
    batch = parse_plan_csv(csv_bytes(rows, "utf-8"), FILE, AT)
    got = [(r.row, r.reason, r.column) for r in batch.rejections]
    assert got == [
        (3, "bad_date", "发货日期/day"),
        (4, "bad_quantity", "数量/quantity"),
        (5, "region_mismatch", "区域/region"),
        (6, "missing_value", "型号/model"),
        (7, "duplicate_key", "发货日期/day"),
    ]
    assert batch.rejections[0].location == f"{FILE}:3 [发货日期/day]"
    assert batch.rejections[0].error == "发货日期/day 2026-11-09 is not in the week of 2026-11-02"
    assert lines(batch.events) == [("M-100", date(2026, 11, 2), 40)]


def test_a_form_without_its_compiler_is_refused_whole() -> None:
    with pytest.raises(UnreadableFile) as caught:
        parse_plan_csv(csv_bytes(ROWS[:-1], "utf-8"), FILE, AT)
    assert caught.value.reason == "missing_signature"


def bad_file(tmp_path: Path) -> Path:
    rows = [*ROWS[:3], ["华北", "M-100", "2026-11-02", "someday", "35", ""], ROWS[-1]]
    path = tmp_path / FILE
    path.write_bytes(csv_bytes(rows, "gb18030"))
    return path


def test_nothing_is_published_from_a_file_with_a_bad_line_unless_asked(tmp_path: Path) -> None:
    topics = Topics("t")
    sink = MemorySink()
    outcome = publish_file(bad_file(tmp_path), sink, topics, None)
    assert outcome.events == 0 and [r.row for r in outcome.rejections] == [4]
    assert [r.topic for r in sink.records] == ["t.dead-letter"]

    sink = MemorySink()
    outcome = publish_file(bad_file(tmp_path), sink, topics, None, partial=True)
    assert outcome.events == 1
    assert [r.topic for r in sink.records] == ["t.plans", "t.dead-letter"]
    published = json.loads(sink.records[0].value)
    assert (published["type"], published["day"], published["quantity"]) == (
        "plan.daily",
        "2026-11-02",
        40,
    )
