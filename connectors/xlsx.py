"""The weekly demand plan form as an Excel workbook (.xlsx): its first sheet, as rows.

Pure like ``connectors.csv_plan``: the workbook's bytes in, ``Row``s out, which then go
through exactly the checks of a CSV (``csv_plan.parse_plan_rows``). A cell is turned into
the text Excel would show in a CSV export: a date cell as ``2026-11-02``, a whole number
as ``120``; formulas as their last computed value.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

from connectors.csv_plan import PlanBatch, Row, parse_plan_rows
from connectors.exceptions import UnreadableFile

ZIP_MAGIC = b"PK\x03\x04"
# The form has a handful of columns and a few hundred rows; a sheet beyond these is no plan
# (and a used range of A1:XFD1048576 would fill the memory).
MAX_COLUMNS = 64
MAX_ROWS = 100_000


def is_xlsx(data: bytes) -> bool:
    """An OOXML workbook: a zip with the workbook part (an .ods or a .docx is none)."""
    if not data.startswith(ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def cell_text(value: Any) -> str:
    """A cell as a CSV export writes it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()


def xlsx_rows(data: bytes, file: str) -> Iterator[Row]:
    """The first sheet's rows, numbered as Excel numbers them (from 1)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        if (sheet.max_row or 0) > MAX_ROWS:
            raise UnreadableFile(file, "too_large", f"{sheet.max_row:,} rows; at most {MAX_ROWS:,}")
        # Read here, inside the try: openpyxl parses lazily and a broken part fails late.
        values = list(sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS))
        book.close()
    except UnreadableFile:
        raise
    # openpyxl raises what its zip, XML and number parsers raise; every one means the same
    # thing here: this workbook cannot be read.
    except Exception as exc:
        raise UnreadableFile(
            file, "bad_xlsx", f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}"
        ) from exc
    for number, row in enumerate(values, start=1):
        cells = [cell_text(v) for v in row]
        while cells and not cells[-1]:
            cells.pop()  # a sheet's used range pads rows with empty cells
        yield Row(number, cells, _line(cells))


def parse_plan_xlsx(
    data: bytes, file: str, received_at: datetime, region: str | None = None, source: str = "erp"
) -> PlanBatch:
    """Parse one workbook into ``plan.weekly`` events and rejections, as a CSV would be."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    return parse_plan_rows(xlsx_rows(data, file), file, received_at, region, source)
