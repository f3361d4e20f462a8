"""The weekly demand plan CSV parser: the exports ERP systems really write, and every bad row."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from connectors.csv_plan import Rejection, parse_plan_csv, region_from_name
from connectors.exceptions import UnreadableFile

AT = datetime(2026, 10, 30, 15, 0, tzinfo=UTC)
NAME = "华北区域周需求计划表_2026-11-02.csv"

CHINESE = "区域,型号,周开始日期,需求数量\n华北,X1,2026-11-02,120\n华北,X2,2026-11-02,35\n"
ENGLISH = "region,model,week_start,quantity\n华北,X1,2026-11-02,120\n华北,X2,2026-11-02,35\n"
EXPECTED = [("华北", "X1", date(2026, 11, 2), 120), ("华北", "X2", date(2026, 11, 2), 35)]


def plans(
    data: bytes, name: str = "plan.csv", region: str | None = None
) -> list[tuple[object, ...]]:
    batch = parse_plan_csv(data, name, AT, region)
    assert batch.rejections == ()
    return [(e.region, e.model, e.week_start, e.quantity) for e in batch.events]


def rejections(text: str, name: str = "plan.csv", region: str | None = None) -> list[Rejection]:
    return list(parse_plan_csv(text.encode(), name, AT, region).rejections)


@pytest.mark.parametrize("text", [CHINESE, ENGLISH], ids=["chinese", "english"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_headers_in_either_language_and_every_export_encoding(text: str, encoding: str) -> None:
    assert plans(text.encode(encoding)) == EXPECTED


def test_events_carry_type_time_source_and_validate_as_weekly_plans() -> None:
    [event, _] = parse_plan_csv(CHINESE.encode(), "plan.csv", AT).events
    assert event.type == "plan.weekly"
    assert event.event_time == AT
    assert event.source == "erp"


def test_windows_line_ends_title_rows_units_and_extra_columns() -> None:
    text = (
        "华北区域周需求计划表\r\n"
        "填表人：张三,,,,\r\n"
        "序号,周一,型号,需求数量（台）,备注\r\n"
        "1,2026/11/2,X1,120,加急\r\n"
        ",,,,\r\n"  # a spacer row: nothing in it to lose
        '2,2026年11月2日,X2,"1,200",\r\n'
    )
    assert plans(text.encode("gb18030")) == [
        ("华北", "X1", date(2026, 11, 2), 120),
        ("华北", "X2", date(2026, 11, 2), 1200),
    ]


def test_region_from_the_file_name_or_the_option() -> None:
    text = "型号,周开始日期,需求数量\nX1,2026-11-02,7\n"
    assert plans(text.encode(), NAME) == [("华北", "X1", date(2026, 11, 2), 7)]
    assert plans(text.encode(), "export.csv", region="华东") == [
        ("华东", "X1", date(2026, 11, 2), 7)
    ]
    # the option overrides the file name
    assert plans(text.encode(), NAME, region="华东")[0][0] == "华东"


@pytest.mark.parametrize(
    ("name", "region"),
    [
        ("华北区域周需求计划表_2026-11-02.csv", "华北"),
        ("西南周需求计划表.csv", "西南"),
        ("××区域周需求计划表.csv", None),  # the blank form's placeholder
        ("plan.csv", None),
    ],
)
def test_region_from_name(name: str, region: str | None) -> None:
    assert region_from_name(name) == region


def test_week_start_and_quantity_spellings_spreadsheets_write() -> None:
    text = (
        "区域,型号,周一,需求数量\n"
        "华北,A,2026-11-02 00:00:00,120.0\n"
        "华北,B,20261102,０８\n"  # full-width digits from a Chinese input method
        "华北,C,2026.11.2,0\n"
    )
    assert [(m, q) for _, m, _, q in plans(text.encode())] == [("A", 120), ("B", 8), ("C", 0)]


def test_ids_are_deterministic_per_file_row_and_values() -> None:
    first = parse_plan_csv(CHINESE.encode(), NAME, AT).events
    again = parse_plan_csv(CHINESE.encode("gb18030"), NAME, datetime.now(UTC)).events
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert first[0].event_id.startswith(f"csv:{NAME}:2:")
    assert len({e.event_id for e in first}) == 2
    # next week's export under the same name: row 2 is another plan, not a repeat
    changed = CHINESE.replace("120", "90").encode()
    assert parse_plan_csv(changed, NAME, AT).events[0].event_id != first[0].event_id
    other = parse_plan_csv(CHINESE.encode(), "华北区域周需求计划表_2026-11-09.csv", AT).events
    assert other[0].event_id != first[0].event_id


def test_a_very_long_file_name_still_gives_a_valid_id() -> None:
    name = "华北区域周需求计划表_" + "很长" * 80 + ".csv"
    [event, _] = parse_plan_csv(CHINESE.encode(), name, AT).events
    assert len(event.event_id) <= 128


HEADER = "区域,型号,周开始日期,需求数量\n"


@pytest.mark.parametrize(
    ("row", "reason", "error"),
    [
        ("华北,,2026-11-02,5", "missing_value", "型号/model is empty"),
        ("华北,X1,,5", "missing_value", "周开始日期/week_start is empty"),
        ("华北,X1,2026-11-02,", "missing_value", "需求数量/quantity is empty"),
        ("华北,X1,11/02/2026,5", "bad_date", "'11/02/2026' is not a date"),
        ("华北,X1,2026-02-30,5", "bad_date", "'2026-02-30' is not a date"),
        ("华北,X1,2026-11-04,5", "not_monday", "2026-11-04 is a Wednesday, not a Monday"),
        ("华北,X1,2026-11-02,abc", "bad_quantity", "'abc' is not a whole number"),
        ("华北,X1,2026-11-02,-5", "bad_quantity", "'-5' is not a whole number from 0"),
        ("华北,X1,2026-11-02,2.5", "bad_quantity", "'2.5' is not a whole number"),
        ("华东,X1,2026-11-02,5", "region_mismatch", "区域/region '华东' in a plan for '华北'"),
        ("华北,X1,2026-11-02,5,6", "extra_cells", "5 cells under a 4-column header"),
        ("合计,,,125", "summary_row", "a total row"),
        ("华北," + "M" * 129 + ",2026-11-02,5", "invalid", "model: String should have at most"),
    ],
)
def test_every_bad_row_is_rejected_with_file_row_reason_and_text(
    row: str, reason: str, error: str
) -> None:
    text = HEADER + "华北,OK,2026-11-02,1\n" + row + "\n华北,OK2,2026-11-02,2\n"
    batch = parse_plan_csv(text.encode(), NAME, AT)
    assert [e.model for e in batch.events] == ["OK", "OK2"]  # the batch goes on
    [rejected] = batch.rejections
    assert (rejected.location, rejected.reason, rejected.text) == (f"{NAME}:3", reason, row)
    assert error in rejected.error


def test_a_key_twice_in_one_file_rejects_the_second_row() -> None:
    text = HEADER + "华北,X1,2026-11-02,5\n华北,X1,2026-11-02,9\n"
    [rejected] = rejections(text)
    assert (rejected.row, rejected.reason) == (3, "duplicate_key")
    assert "already on row 2" in rejected.error


def test_a_row_with_several_problems_names_them_all_under_the_first_reason() -> None:
    [rejected] = rejections(HEADER + "华北,X1,2026-11-03,abc\n")
    assert rejected.reason == "not_monday"
    assert "Tuesday" in rejected.error and "'abc'" in rejected.error


def test_a_missing_region_with_none_from_file_or_option_is_rejected_per_row() -> None:
    [rejected] = rejections(HEADER + ",X1,2026-11-02,5\n华北,X2,2026-11-02,5\n")
    assert (rejected.location, rejected.reason) == ("plan.csv:2", "missing_value")
    assert rejected.error == "区域/region is empty"


def test_a_quoted_line_break_keeps_row_numbers_and_the_original_text() -> None:
    text = HEADER + '华北,"X\n1",2026-11-02,abc\n华北,X2,2026-11-02,zz\n'
    first, second = rejections(text)
    assert (first.row, first.text) == (2, '华北,"X\n1",2026-11-02,abc')
    assert (second.row, second.text) == (4, "华北,X2,2026-11-02,zz")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"\x80garbage\xff", "bad_encoding"),
        ("华北,X1,2026-11-02,5\n".encode(), "no_header"),
        ("区域,型号,需求数量\n华北,X1,5\n".encode(), "missing_column"),
        ("型号,周开始日期,需求数量\nX1,2026-11-02,5\n".encode(), "missing_column"),  # no region
        ("区域,型号,型号,周一,数量\n".encode(), "duplicate_column"),
    ],
)
def test_a_file_no_row_of_which_can_be_read_is_unreadable(data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFile) as caught:
        parse_plan_csv(data, "plan.csv", AT)
    assert caught.value.reason == reason
    assert str(caught.value).startswith(f"plan.csv: {reason}: ")


def test_a_naive_receive_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_plan_csv(CHINESE.encode(), "plan.csv", datetime(2026, 11, 2))
