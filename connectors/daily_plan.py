"""The daily shipping plan (周需求日发货计划) on the form ××区域周需求计划表: a line per model
and day, signed by who compiled, reviewed and approved it (编制/审核/批准).

Pure, like ``connectors.csv_plan``, whose reading it shares (encodings, title rows, the
region from the file name or title, .xlsx through ``connectors.xlsx``): a form whose header
has a day column (发货日期/日期/day) is a daily plan. Each line becomes a ``plan.daily``
event; the signatures come from a row below the lines (the form's footer), such as
``编制：李明  审核：王芳  批准：赵总`` (one cell, or a label cell and a name cell each).

A plan is approved as a whole, so a file with any bad line publishes nothing, unless the
sender asks for the good lines (``orderhub connect csv --partial``): ``PlanBatch.complete_only``.
Every bad line is reported with its row and the column at fault.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from pydantic import ValidationError

from connectors.csv_plan import (
    PlanBatch,
    Rejection,
    Row,
    RowReason,
    _is_summary,
    _short,
    parse_quantity,
    parse_week_start,
)
from connectors.exceptions import UnreadableFile
from contract.events import MAX_QUANTITY, DailyShippingPlan
from streams.core.ingest import validation_text

DAY_ALIASES = ("发货日期", "日期", "发货日", "day", "ship_date", "date")
_SIGNATURE = re.compile(
    r"(编制|审核|批准|compiled[ _]?by|reviewed[ _]?by|approved[ _]?by)\s*[:：]?\s*([^\s:：]*)",
    re.IGNORECASE,
)
_ROLES = {
    "编制": "compiled_by",
    "compiledby": "compiled_by",
    "审核": "reviewed_by",
    "reviewedby": "reviewed_by",
    "批准": "approved_by",
    "approvedby": "approved_by",
}
LABELS = {
    "region": "区域/region",
    "model": "型号/model",
    "week_start": "周开始日期/week_start",
    "day": "发货日期/day",
    "quantity": "数量/quantity",
}
Problem = tuple[RowReason, str, str]  # reason, message, the column's label


def is_day_column(cell: str) -> bool:
    return _norm(cell) in {_norm(a) for a in DAY_ALIASES}


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = re.sub(r"\s*[(（][^)）]*[)）]\s*$", "", text)
    return re.sub(r"[\s\-]+", "_", text)


def signatures(cells: list[str]) -> dict[str, str]:
    """编制/审核/批准 names on a row: ``编制：李明`` in a cell, or ``编制`` then ``李明``."""
    found: dict[str, str] = {}
    for index, cell in enumerate(cells):
        text = unicodedata.normalize("NFKC", cell)
        for match in _SIGNATURE.finditer(text):
            role = _ROLES[re.sub(r"[ _]", "", match[1].lower())]
            name = match[2].strip()
            if not name and index + 1 < len(cells) and not _SIGNATURE.search(cells[index + 1]):
                name = cells[index + 1].strip()
            if name:
                found[role] = name
    return found


def daily_event_id(file: str, row: int, region: str, model: str, day: date, qty: int) -> str:
    """Same file, row and values → same id (a file dropped twice counts once)."""
    digest = hashlib.sha256(f"daily|{region}|{model}|{day}|{qty}".encode()).hexdigest()[:10]
    if len(file) > 80:
        file = f"{file[:60]}~{hashlib.sha256(file.encode()).hexdigest()[:10]}"
    return f"csv:{file}:{row}:{digest}"


@dataclass
class _Line:
    row: Row
    region: str
    model: str
    week: date
    day: date
    quantity: int


@dataclass
class DailyParser:
    """The lines under a daily plan header; the signatures wherever they are."""

    file: str
    columns: dict[str, int]
    width: int
    region: str | None
    received_at: datetime
    source: str
    signed: dict[str, str] = field(default_factory=dict)
    lines: list[_Line] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    seen: dict[tuple[str, str, date], int] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        if row.error is not None:
            self._reject(row, [("malformed", f"unreadable CSV row: {row.error}", "")])
            return
        if not any(c.strip() for c in row.cells) or any(_is_summary(c) for c in row.cells):
            return  # a spacer, or the form's 合计 row: no line of the plan
        signed = signatures(row.cells)
        if signed:
            self.signed.update(signed)
            return
        result = self._line(row)
        if isinstance(result, _Line):
            self.lines.append(result)
        else:
            self._reject(row, result)

    def _reject(self, row: Row, problems: list[Problem]) -> None:
        error = "; ".join(message for _, message, _ in problems)
        reason, _, column = problems[0]
        self.rejections.append(
            Rejection(self.file, row.line, reason, error, row.text, column or None)
        )

    def _cell(self, row: Row, name: str) -> str:
        index = self.columns.get(name)
        return row.cells[index].strip() if index is not None and index < len(row.cells) else ""

    def _line(self, row: Row) -> _Line | list[Problem]:
        problems: list[Problem] = []
        cell = {name: self._cell(row, name) for name in LABELS}
        if [c for c in row.cells[self.width :] if c.strip()]:
            problems.append(
                ("extra_cells", f"{len(row.cells)} cells under a {self.width}-column header", "")
            )
        for name in ("model", "day", "quantity"):
            if not cell[name]:
                problems.append(("missing_value", f"{LABELS[name]} is empty", LABELS[name]))
        region = cell["region"] or self.region
        if cell["region"] and self.region is not None and cell["region"] != self.region:
            problems.append(
                (
                    "region_mismatch",
                    f"{LABELS['region']} {_short(cell['region'])} in a plan for {self.region!r}",
                    LABELS["region"],
                )
            )
        elif region is None:
            problems.append(("missing_value", f"{LABELS['region']} is empty", LABELS["region"]))
        day = parse_week_start(cell["day"]) if cell["day"] else None
        if cell["day"] and day is None:
            problems.append(
                (
                    "bad_date",
                    f"{LABELS['day']} {_short(cell['day'])} is not a date (expected YYYY-MM-DD)",
                    LABELS["day"],
                )
            )
        week = self._week(cell["week_start"], day, problems)
        qty = parse_quantity(cell["quantity"]) if cell["quantity"] else None
        if cell["quantity"] and (qty is None or not 0 <= qty <= MAX_QUANTITY):
            problems.append(
                (
                    "bad_quantity",
                    f"{LABELS['quantity']} {_short(cell['quantity'])} is not a whole number "
                    f"from 0 to {MAX_QUANTITY:,}",
                    LABELS["quantity"],
                )
            )
        if problems or region is None or day is None or week is None or qty is None:
            return problems
        key = (region, cell["model"], day)
        if (earlier := self.seen.get(key)) is not None:
            return [
                (
                    "duplicate_key",
                    f"{region}/{cell['model']}/{day} is already on row {earlier}",
                    LABELS["day"],
                )
            ]
        self.seen[key] = row.line
        return _Line(row, region, cell["model"], week, day, qty)

    def _week(self, text: str, day: date | None, problems: list[Problem]) -> date | None:
        """The week's Monday: the column's, else the day's; the day must lie in it."""
        label = LABELS["week_start"]
        if not text:
            return day - timedelta(days=day.weekday()) if day is not None else None
        week = parse_week_start(text)
        if week is None:
            problems.append(("bad_date", f"{label} {_short(text)} is not a date", label))
        elif week.weekday() != 0:
            problems.append(("not_monday", f"{label} {week} is a {week:%A}, not a Monday", label))
        elif day is not None and not week <= day < week + timedelta(days=7):
            problems.append(
                ("bad_date", f"{LABELS['day']} {day} is not in the week of {week}", LABELS["day"])
            )
        else:
            return week
        return None

    def batch(self) -> PlanBatch:
        if "compiled_by" not in self.signed:
            raise UnreadableFile(
                self.file,
                "missing_signature",
                "no 编制 (compiled by) name on the form: write e.g. `编制：李明` below the lines",
            )
        events = []
        for line in self.lines:
            try:
                events.append(self._event(line))
            except ValidationError as exc:
                self.rejections.append(
                    Rejection(
                        self.file, line.row.line, "invalid", validation_text(exc), line.row.text
                    )
                )
        return PlanBatch(self.file, tuple(events), tuple(self.rejections), complete_only=True)

    def _event(self, line: _Line) -> DailyShippingPlan:
        return DailyShippingPlan(
            event_id=daily_event_id(
                self.file, line.row.line, line.region, line.model, line.day, line.quantity
            ),
            event_time=self.received_at,
            source=self.source,
            region=line.region,
            model=line.model,
            week_start=line.week,
            day=line.day,
            quantity=line.quantity,
            compiled_by=self.signed["compiled_by"],
            reviewed_by=self.signed.get("reviewed_by"),
            approved_by=self.signed.get("approved_by"),
        )


def daily_columns(cells: list[str], aliases: dict[str, str], file: str) -> dict[str, int]:
    """The daily plan's columns: ``aliases`` (the weekly form's names) and the day."""
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = "day" if is_day_column(cell) else aliases.get(_norm(cell))
        if name is None or name not in LABELS:
            continue
        if name in found:
            raise UnreadableFile(file, "duplicate_column", f"two {LABELS[name]} columns")
        found[name] = index
    missing = [LABELS[n] for n in ("model", "day", "quantity") if n not in found]
    if missing:
        raise UnreadableFile(file, "missing_column", f"no {', '.join(missing)} column")
    return found


def parse_daily_rows(
    rows: Iterator[Row],
    header: Row,
    columns: dict[str, int],
    file: str,
    received_at: datetime,
    region: str | None,
    source: str,
) -> PlanBatch:
    """The rows after a daily plan's header: its lines and its signature row."""
    parser = DailyParser(file, columns, len(header.cells), region, received_at, source)
    for row in rows:
        parser.add(row)
    return parser.batch()
