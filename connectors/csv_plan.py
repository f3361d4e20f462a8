"""The regional weekly demand plan form (××区域周需求计划表) as ERP systems export it to CSV.

Pure: the file's bytes, its name and when it was received in; ``plan.weekly`` events and
row rejections out. No file system, clock or Kafka here (``connectors.filedrop`` is the
shell).

What the exports look like, and so what is accepted:

* UTF-8 with or without a BOM (Excel's "CSV UTF-8"), or GB18030/GBK (Excel's "CSV" on a
  Chinese Windows), comma-separated; or UTF-16 with a BOM, tab-separated (Excel's "Unicode
  text"); or an Excel workbook (.xlsx, its first sheet, ``connectors.xlsx``).
* Optional title or note rows above the header, e.g. ``华北区域周需求计划表``.
* A header row in Chinese or English: 区域/region, 型号/model, 周开始日期 or 周一/week_start,
  需求数量/quantity. A unit in brackets (``需求数量（台）``) and extra columns (备注) are fine.
* The region from its column, else from ``--region``, the file name
  (``华北区域周需求计划表_2026-11-02.csv``) or the title row.

A bad row never stops the file and is never dropped: it becomes a ``Rejection`` with its
``file:row``, a reason code and the row's text. Only a file no row of which can be read
(encoding, format, no header, a required column missing) raises ``UnreadableFile``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from pydantic import ValidationError

from connectors.exceptions import UnreadableFile
from contract.events import MAX_QUANTITY, DailyShippingPlan, WeeklyPlan
from streams.core.ingest import validation_text

RowReason = Literal[
    "missing_value",  # a required cell is empty
    "bad_date",  # the week start is not a date
    "not_monday",  # the week start is a date, but weeks start on Monday (周一)
    "bad_quantity",  # not a whole, non-negative number
    "region_mismatch",  # the row's region is not the file's (--region, file name, title)
    "duplicate_key",  # same region, model and week as an earlier row: which one is meant?
    "extra_cells",  # more cells than the header: the row's columns are shifted
    "summary_row",  # 合计/总计/total: a sum, not a model's demand
    "too_large",  # a row over MAX_ROW_CHARS: no plan row is that long
    "malformed",  # the csv module cannot read the row (e.g. an oversized field)
    "invalid",  # a value the event schema refuses (e.g. longer than 128 characters)
]
FileReason = Literal[
    "empty",
    "bad_encoding",
    "unsupported_format",  # a format we do not read (.xls, .ods, …), named in the error
    "bad_xlsx",  # an .xlsx that openpyxl cannot open
    "no_header",
    "missing_column",
    "duplicate_column",
    "cannot_read",
    "outside_folder",  # a link in the watch folder that points out of it (not followed)
    "missing_signature",  # a daily shipping plan without its 编制 (compiled by) name
    "too_large",  # a sheet of more rows than a plan has
]

# The columns of the form and the header texts that name them (normalised, see _norm).
COLUMNS: dict[str, tuple[str, ...]] = {
    "region": ("区域", "销售区域", "region"),
    "model": ("型号", "产品型号", "model"),
    "week_start": ("周开始日期", "周一", "week_start", "weekstart"),
    "quantity": ("需求数量", "发货数量", "数量", "quantity", "qty"),
}
REQUIRED = ("model", "week_start", "quantity")
LABELS = {
    "region": "区域/region",
    "model": "型号/model",
    "week_start": "周开始日期/week_start",
    "quantity": "需求数量/quantity",
}
# Rows above the header we look through for it (a title and a note or two).
MAX_PREAMBLE_ROWS = 10
SUMMARY_WORDS = frozenset(
    {"合计", "总计", "小计", "共计", "total", "subtotal", "sum", "grandtotal"}
)
# A plan row is a few short cells; a longer one is a mistake (and is dead-lettered cut).
MAX_ROW_CHARS = 64 * 1024
# Digits a quantity may have: MAX_QUANTITY has 10; more is no demand (and int() of
# thousands of digits is slow, then refused).
MAX_QUANTITY_DIGITS = 10

_FORM_NAME = re.compile(r"^\s*(?P<region>.+?)\s*(?:区域)?周需求计划表")
_PLACEHOLDER = re.compile(r"^[×xX*＊]+$")  # the blank form's "××区域"
_UNIT = re.compile(r"\s*[(（][^)）]*[)）]\s*$")
_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]0{1,2}:00(?::00)?)?$"  # Excel writes a date cell as "2026/11/2 0:00"
)
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_QUANTITY = re.compile(r"^([+-]?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.0*)?$")
_SUMMARY_NOISE = re.compile(r"[\s_:：]+")


@dataclass(frozen=True)
class Rejection:
    """A row that did not become an event, and why."""

    file: str
    row: int  # the row's line in the file, counting from 1 (the spreadsheet row number)
    reason: RowReason
    error: str
    text: str  # the row as it stands in the file
    column: str | None = None  # the column at fault (its header label), when one is

    @property
    def location(self) -> str:
        where = f"{self.file}:{self.row}"
        return f"{where} [{self.column}]" if self.column else where


@dataclass(frozen=True)
class PlanBatch:
    """Everything one file gave: its events in file order and its rejected rows."""

    file: str
    events: tuple[WeeklyPlan | DailyShippingPlan, ...]
    rejections: tuple[Rejection, ...]
    # A daily shipping plan is approved as a whole: with a bad line, publish none of it
    # unless the sender asks for the good lines (connectors.daily_plan).
    complete_only: bool = False


def region_from_name(name: str) -> str | None:
    """The region a form's name or title gives: "华北区域周需求计划表_2026-11-02.csv" → "华北"."""
    match = _FORM_NAME.match(name)
    if match is None or _PLACEHOLDER.match(match["region"]):
        return None
    return match["region"]


# Magic numbers of formats that are no CSV text, and what to tell the sender.
_NOT_TEXT: tuple[tuple[bytes, str], ...] = (
    (
        b"\xd0\xcf\x11\xe0",
        "an Excel 97-2003 workbook (.xls); save it as .xlsx or as CSV UTF-8",
    ),
    (b"%PDF", "a PDF document; export the plan as .xlsx or CSV UTF-8"),
)
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode_text(data: bytes, file: str) -> str:
    """The file's text: UTF-16 with a BOM (Excel's "Unicode text"), UTF-8 (BOM or not), as
    it is unambiguous; else GB18030."""
    if not data.strip():
        raise UnreadableFile(file, "empty", "the file is empty")
    for magic, what in _NOT_TEXT:
        if data.startswith(magic):
            raise UnreadableFile(file, "unsupported_format", f"the file is {what}")
    if data.startswith(UTF16_BOMS):
        try:
            return data.decode("utf-16").removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                file, "bad_encoding", f"UTF-16 (Unicode text) with a bad byte at {exc.start}"
            ) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                file,
                "bad_encoding",
                f"neither UTF-8, UTF-16 nor GB18030 (byte {exc.start}); save it as CSV UTF-8",
            ) from exc
    return text.removeprefix("\ufeff")  # GB18030's own BOM decodes to U+FEFF


def parse_plan_csv(
    data: bytes,
    file: str,
    received_at: datetime,
    region: str | None = None,
    source: str = "erp",
) -> PlanBatch:
    """Parse one export into ``plan.weekly`` events and rejections.

    ``file`` is the file's name (not its path: ids must not change when it moves);
    ``received_at`` is every event's time (the shell passes the file's modification time);
    ``region`` overrides the file name's and the title's.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    text = decode_text(data, file)
    # Excel's "Unicode text" is UTF-16 and tab-separated; its CSVs are comma-separated.
    delimiter = "\t" if data.startswith(UTF16_BOMS) else ","
    return parse_plan_rows(_Rows(text, delimiter), file, received_at, region, source)


def parse_plan_rows(
    rows: Iterator[Row],
    file: str,
    received_at: datetime,
    region: str | None = None,
    source: str = "erp",
) -> PlanBatch:
    """The form's rows, from a CSV or a workbook (``connectors.xlsx``), through the same
    checks: events and rejections."""
    header, title_region = _find_header(rows, file)
    file_region = region or region_from_name(file) or title_region
    # A day column makes the form a daily shipping plan. Imported here: daily_plan builds
    # on this module's reading.
    from connectors import daily_plan

    if any(daily_plan.is_day_column(cell) for cell in header.cells):
        daily = daily_plan.daily_columns(header.cells, _ALIASES, file)
        return daily_plan.parse_daily_rows(
            rows, header, daily, file, received_at, file_region, source
        )
    columns = _columns(header.cells, file)
    if "region" not in columns and file_region is None:
        raise UnreadableFile(
            file,
            "missing_column",
            "no 区域/region column, and neither --region, the file name nor a title row "
            "names the region",
        )
    parser = _RowParser(file, columns, len(header.cells), file_region, received_at, source)
    for row in rows:
        parser.add(row)
    return PlanBatch(file, tuple(parser.events), tuple(parser.rejections))


# --- reading rows with their line numbers and original text ------------------------------


@dataclass(frozen=True)
class Row:
    """One row of the form: its line (or sheet row) number, its cells, its text."""

    line: int
    cells: list[str]
    text: str
    error: str | None = None  # the csv module's complaint, when it could not read the row


class _Rows:
    """csv.reader over the text, keeping each row's first line number and original text.

    The reader pulls one line at a time, so the lines taken since the last row are exactly
    the current row's (several when a quoted cell holds a line break).
    """

    def __init__(self, text: str, delimiter: str = ",") -> None:
        self._lines = iter(io.StringIO(text, newline=""))
        self._taken: list[str] = []
        self._count = 0
        self._reader = csv.reader(self._pull(), delimiter=delimiter)

    def _pull(self) -> Iterator[str]:
        for line in self._lines:
            self._taken.append(line)
            self._count += 1
            yield line

    def __iter__(self) -> Iterator[Row]:
        return self

    def __next__(self) -> Row:
        first = self._count + 1
        try:
            cells = next(self._reader)
            error = None
        except csv.Error as exc:
            cells, error = [], str(exc)
        # At the end, next() raised StopIteration, which ends this iterator too.
        text = "".join(self._taken).rstrip("\r\n")
        self._taken.clear()
        return Row(first, cells, text, error)


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = _UNIT.sub("", text)
    return re.sub(r"[\s\-]+", "_", text)


_ALIASES = {_norm(alias): name for name, aliases in COLUMNS.items() for alias in aliases}


def _is_header(cells: Sequence[str]) -> bool:
    return len({_ALIASES[n] for c in cells if (n := _norm(c)) in _ALIASES}) >= 2


def _find_header(rows: Iterator[Row], file: str) -> tuple[Row, str | None]:
    """The header row, and a region named by a title row above it."""
    title_region = None
    for seen, row in enumerate(rows):
        if _is_header(row.cells):
            return row, title_region
        first = next((c for c in row.cells if c.strip()), "")
        title_region = title_region or region_from_name(first)
        if seen + 1 >= MAX_PREAMBLE_ROWS:
            break
    expected = ", ".join(LABELS.values())
    raise UnreadableFile(file, "no_header", f"no header row with the columns {expected}")


def _columns(cells: Sequence[str], file: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = _ALIASES.get(_norm(cell))
        if name is None:
            continue  # other columns (序号, 备注, ...) are the ERP's business, not ours
        if name in found:
            raise UnreadableFile(
                file,
                "duplicate_column",
                f"two {LABELS[name]} columns ({index + 1} and {found[name] + 1})",
            )
        found[name] = index
    missing = [LABELS[name] for name in REQUIRED if name not in found]
    if missing:
        raise UnreadableFile(
            file, "missing_column", f"no {', '.join(missing)} column; the header is {list(cells)}"
        )
    return found


# --- one row -------------------------------------------------------------------------------


def parse_week_start(text: str) -> date | None:
    """2026-11-02, 2026/11/2, 2026.11.02, 2026年11月2日, 20261102, "2026/11/2 0:00"."""
    text = unicodedata.normalize("NFKC", text).strip()
    match = _DATE.match(text) or _COMPACT_DATE.match(text)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse_quantity(text: str) -> int | None:
    """A whole number: "120", "1,200", "120.0" (spreadsheets write integers so); else None."""
    match = _QUANTITY.match(unicodedata.normalize("NFKC", text).strip())
    if match is None:
        return None
    digits = match[2].replace(",", "").lstrip("0") or "0"
    if len(digits) > MAX_QUANTITY_DIGITS:
        return None
    value = int(digits)
    return -value if match[1] == "-" else value


def _short(text: str, limit: int = 40) -> str:
    """A cell quoted for an error, cut: a 100,000-digit cell must not fill the message."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}… ({len(text):,} characters)"


def _is_summary(cell: str) -> bool:
    """合计, 总 计, 合计：, Total, Grand total …: a cell that names a sum."""
    return _SUMMARY_NOISE.sub("", _norm(cell)) in SUMMARY_WORDS if len(cell) < 40 else False


def event_id(file: str, row: int, region: str, model: str, week: date, quantity: int) -> str:
    """Same file, same row, same values → same id, so a file dropped twice counts once.

    The values are part of it because ERP systems reuse a file name week after week: the
    next week's row 2 must not pass for a repeat of this week's.
    """
    digest = hashlib.sha256(f"{region}|{model}|{week}|{quantity}".encode()).hexdigest()[:10]
    if len(file) > 80:  # ids are at most 128 characters; keep the name's start readable
        file = f"{file[:60]}~{hashlib.sha256(file.encode()).hexdigest()[:10]}"
    return f"csv:{file}:{row}:{digest}"


@dataclass
class _RowParser:
    file: str
    columns: dict[str, int]
    width: int
    region: str | None
    received_at: datetime
    source: str
    events: list[WeeklyPlan] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    seen: dict[tuple[str, str, date], int] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        if row.error is not None:
            self._reject(row, [("malformed", f"unreadable CSV row: {row.error}")])
            return
        if not any(c.strip() for c in row.cells):
            return  # a blank spacer row carries nothing to lose
        if len(row.text) > MAX_ROW_CHARS:
            self._reject(
                row, [("too_large", f"a row of {len(row.text):,} characters; no plan row is")]
            )
            return
        result = self._event(row)
        if isinstance(result, WeeklyPlan):
            self.events.append(result)
        else:
            self._reject(row, result)

    def _reject(self, row: Row, problems: list[tuple[RowReason, str]]) -> None:
        # One reason code per row (the first problem), but every problem in the text.
        error = "; ".join(message for _, message in problems)
        self.rejections.append(Rejection(self.file, row.line, problems[0][0], error, row.text))

    def _cell(self, row: Row, name: str) -> str:
        index = self.columns.get(name)
        return row.cells[index].strip() if index is not None and index < len(row.cells) else ""

    def _event(self, row: Row) -> WeeklyPlan | list[tuple[RowReason, str]]:
        problems: list[tuple[RowReason, str]] = []
        cells = {name: self._cell(row, name) for name in COLUMNS}
        if any(_is_summary(cell) for cell in row.cells):
            return [("summary_row", "a total row (合计/total), not one model's demand")]
        extra = [c for c in row.cells[self.width :] if c.strip()]
        if extra:
            problems.append(
                ("extra_cells", f"{len(row.cells)} cells under a {self.width}-column header")
            )
        for name in REQUIRED:
            if not cells[name]:
                problems.append(("missing_value", f"{LABELS[name]} is empty"))
        region = self._region(cells["region"], problems)
        week = parse_week_start(cells["week_start"]) if cells["week_start"] else None
        if cells["week_start"] and week is None:
            problems.append(
                (
                    "bad_date",
                    f"{LABELS['week_start']} {_short(cells['week_start'])} is not a date "
                    "(expected YYYY-MM-DD)",
                )
            )
        if week is not None and week.weekday() != 0:
            problems.append(
                ("not_monday", f"{LABELS['week_start']} {week} is a {week:%A}, not a Monday")
            )
        quantity = parse_quantity(cells["quantity"]) if cells["quantity"] else None
        if cells["quantity"] and (quantity is None or not 0 <= quantity <= MAX_QUANTITY):
            problems.append(
                (
                    "bad_quantity",
                    f"{LABELS['quantity']} {_short(cells['quantity'])} is not a whole number "
                    f"from 0 to {MAX_QUANTITY:,}",
                )
            )
        if problems or region is None or week is None or quantity is None:
            return problems
        return self._build(row, region, cells["model"], week, quantity)

    def _region(self, cell: str, problems: list[tuple[RowReason, str]]) -> str | None:
        if cell and self.region is not None and cell != self.region:
            problems.append(
                (
                    "region_mismatch",
                    f"{LABELS['region']} {_short(cell)} in a plan for {self.region!r}",
                )
            )
            return None
        if not cell and self.region is None:
            problems.append(("missing_value", f"{LABELS['region']} is empty"))
            return None
        return cell or self.region

    def _build(
        self, row: Row, region: str, model: str, week: date, quantity: int
    ) -> WeeklyPlan | list[tuple[RowReason, str]]:
        key = (region, model, week)
        earlier = self.seen.get(key)
        if earlier is not None:
            return [("duplicate_key", f"{region}/{model}/week {week} is already on row {earlier}")]
        try:
            event = WeeklyPlan(
                event_id=event_id(self.file, row.line, region, model, week, quantity),
                event_time=self.received_at,
                source=self.source,
                region=region,
                model=model,
                week_start=week,
                quantity=quantity,
            )
        except ValidationError as exc:
            return [("invalid", validation_text(exc))]
        self.seen[key] = row.line
        return event
