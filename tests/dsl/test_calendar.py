"""Working calendars: the days, hours and release days the rules are measured in."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dsl.calendar import (
    DEFAULT_CALENDAR,
    Calendar,
    CalendarError,
    load_calendar,
    load_calendars,
)

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
MON, THU = 0, 3


@pytest.fixture(scope="module")
def cn() -> Calendar:
    return load_calendar(ROOT / "rules" / "calendars" / "cn-mainland-2026.yaml")


def at(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def test_seed_calendar_loads_with_its_zone_hours_and_spans(cn: Calendar) -> None:
    assert cn.name == "cn-mainland-2026"
    assert cn.zone == SHANGHAI
    assert cn.working_hours == [(time(9), time(12)), (time(13), time(18))]
    assert date(2026, 10, 7) in cn.holidays
    assert len(cn.workdays) == 6


def test_spring_festival_2026_is_nine_days_off_between_two_working_saturdays(
    cn: Calendar,
) -> None:
    off = [date(2026, 2, 15) + timedelta(days=n) for n in range(9)]
    assert [cn.is_working_day(d) for d in off] == [False] * 9
    assert cn.is_working_day(date(2026, 2, 14))  # Saturday, 调休
    assert cn.is_working_day(date(2026, 2, 24))  # Tuesday after the break
    assert cn.next_working_day(date(2026, 2, 13)) == date(2026, 2, 14)
    assert cn.next_working_day(date(2026, 2, 14)) == date(2026, 2, 24)


def test_tiaoxiu_saturday_is_a_working_day_and_plain_saturday_is_not(cn: Calendar) -> None:
    assert cn.is_working_day(date(2026, 9, 20))  # Sunday, 调休
    assert not cn.is_working_day(date(2026, 9, 19))  # ordinary Saturday
    assert not cn.is_working_day(date(2026, 1, 1))  # Thursday, New Year


def test_next_working_day_is_strictly_after(cn: Calendar) -> None:
    assert cn.next_working_day(date(2026, 3, 2)) == date(2026, 3, 3)
    assert cn.next_working_day(date(2026, 3, 6)) == date(2026, 3, 9)  # Fri -> Mon


def test_release_day_on_a_holiday_monday_moves_to_tuesday(cn: Calendar) -> None:
    # 2026-04-06 is Qingming Monday.
    assert not cn.on_schedule(date(2026, 4, 6), frozenset({MON, THU}))
    assert cn.on_schedule(date(2026, 4, 7), frozenset({MON, THU}))
    assert not cn.on_schedule(date(2026, 4, 8), frozenset({MON, THU}))
    assert cn.on_schedule(date(2026, 4, 9), frozenset({MON, THU}))


def test_ordinary_days_follow_the_weekdays(cn: Calendar) -> None:
    week = [date(2026, 3, 2) + timedelta(days=n) for n in range(7)]
    assert [cn.on_schedule(d, frozenset({MON, THU})) for d in week] == [
        True, False, False, True, False, False, False,
    ]  # fmt: skip


def test_release_days_inside_spring_festival_move_past_the_break(cn: Calendar) -> None:
    # Mon 16, Thu 19, Mon 23 Feb are all off: the release moves to Tue 24 Feb.
    assert cn.on_schedule(date(2026, 2, 24), frozenset({MON, THU}))
    assert not cn.on_schedule(date(2026, 2, 25), frozenset({MON, THU}))
    # The working Saturday before the break is not a release day by itself.
    assert not cn.on_schedule(date(2026, 2, 14), frozenset({MON, THU}))


def test_release_day_on_national_day_thursday_moves_to_thursday_8th(cn: Calendar) -> None:
    assert cn.on_schedule(date(2026, 10, 8), frozenset({THU}))
    assert not cn.on_schedule(date(2026, 10, 9), frozenset({THU}))


def test_one_business_hour_from_friday_1730_is_monday_0930() -> None:
    friday = at(2026, 3, 6, 17, 30)
    assert DEFAULT_CALENDAR.add_business(friday, timedelta(hours=1)) == at(2026, 3, 9, 9, 30)


def test_business_hours_skip_the_lunch_break(cn: Calendar) -> None:
    assert cn.add_business(at(2026, 3, 2, 11, 30), timedelta(hours=1)) == at(2026, 3, 2, 13, 30)
    assert cn.add_business(at(2026, 3, 2, 10, 0), timedelta(hours=3)) == at(2026, 3, 2, 14, 0)


def test_start_outside_working_hours_begins_at_next_period(cn: Calendar) -> None:
    assert cn.add_business(at(2026, 3, 2, 7, 0), timedelta(hours=1)) == at(2026, 3, 2, 10, 0)
    assert cn.add_business(at(2026, 3, 2, 12, 15), timedelta(hours=1)) == at(2026, 3, 2, 14, 0)
    assert cn.add_business(at(2026, 3, 7, 10, 0), timedelta(hours=1)) == at(2026, 3, 9, 10, 0)


def test_amount_ending_at_close_of_day_stays_on_that_day(cn: Calendar) -> None:
    assert cn.add_business(at(2026, 3, 2, 17, 0), timedelta(hours=1)) == at(2026, 3, 2, 18, 0)


def test_business_hours_across_spring_festival(cn: Calendar) -> None:
    # Friday 13 Feb 17:00 + 3 business hours: 1 h Friday, 8 h... only 2 h on Sat 14 Feb.
    assert cn.add_business(at(2026, 2, 13, 17, 0), timedelta(hours=3)) == at(2026, 2, 14, 11, 0)
    # Saturday 14 Feb 17:00 + 2 h: 1 h that day, then Tuesday 24 Feb 10:00.
    assert cn.add_business(at(2026, 2, 14, 17, 0), timedelta(hours=2)) == at(2026, 2, 24, 10, 0)


def test_add_business_converts_other_zones_and_answers_in_calendar_zone(cn: Calendar) -> None:
    utc_start = datetime(2026, 3, 2, 1, 0, tzinfo=ZoneInfo("UTC"))  # 09:00 in Shanghai
    end = cn.add_business(utc_start, timedelta(hours=2))
    assert end == at(2026, 3, 2, 11, 0)
    assert end.tzinfo == SHANGHAI


def test_business_days_keep_the_clock_time(cn: Calendar) -> None:
    assert cn.business_days(at(2026, 3, 6, 15, 0), 1) == at(2026, 3, 9, 15, 0)
    friday = at(2026, 3, 6, 15, 0)
    assert cn.add(friday, timedelta(days=2), business=True) == at(2026, 3, 10, 15, 0)
    assert cn.add(friday, timedelta(days=2), business=False) == at(2026, 3, 8, 15, 0)


def test_day_bounds_are_in_the_calendar_zone(cn: Calendar) -> None:
    assert cn.start_of_day(date(2026, 3, 5)) == at(2026, 3, 5, 0, 0)
    end = cn.end_of_day(date(2026, 3, 5))
    assert end.tzinfo == SHANGHAI
    assert end < at(2026, 3, 6, 0, 0) and end > at(2026, 3, 5, 23, 59, 59)


def test_monthly_deadline_clamps_to_the_month_end(cn: Calendar) -> None:
    assert cn.monthly_deadline(2026, 11, 20, time(15)) == at(2026, 11, 20, 15, 0)
    assert cn.monthly_deadline(2026, 2, 31, time(15)) == at(2026, 2, 28, 15, 0)
    assert cn.monthly_deadline(2026, 12, 31, time(9)) == at(2026, 12, 31, 9, 0)


def test_default_calendar_has_no_holidays() -> None:
    assert DEFAULT_CALENDAR.zone == SHANGHAI
    assert DEFAULT_CALENDAR.is_working_day(date(2026, 10, 1))
    assert not DEFAULT_CALENDAR.is_working_day(date(2026, 10, 3))


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(CalendarError, match="naive"):
        DEFAULT_CALENDAR.add_business(datetime(2026, 3, 2, 9), timedelta(hours=1))


def test_load_calendars_reads_a_directory(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "name: a\ntimezone: UTC\nworking_hours: [['08:00', '16:00']]\n"
        "holidays: [2026-03-02]\nworkdays: [2026-03-07]\n",
        encoding="utf-8",
    )
    cals = load_calendars(tmp_path)
    assert list(cals) == ["a"]
    assert not cals["a"].is_working_day(date(2026, 3, 2))
    assert cals["a"].is_working_day(date(2026, 3, 7))
    assert load_calendars(ROOT / "rules" / "calendars").keys() == {"cn-mainland-2026"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timezone: UTC\n", "'name' is required"),
        ("name: x\ntimezone: Mars/Olympus\n", "unknown timezone"),
        ("name: x\nworking_hours: [['18:00', '09:00']]\n", "not before"),
        ("name: x\nworking_hours: [['09:00', '13:00'], ['12:00', '18:00']]\n", "overlap"),
        ("name: x\nholidays: [{from: 2026-02-10, to: 2026-02-01}]\n", "before 'from'"),
        ("name: x\nworkdays: [tomorrow]\n", "not a date"),
        ("name: [\n", "not valid YAML"),
    ],
)
def test_bad_calendar_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarError, match=message) as info:
        load_calendar(path)
    assert str(path) in str(info.value)
