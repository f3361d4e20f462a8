"""Plain-text rendering of tables for the terminal. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

IN_TRANSIT_TABLES = {
    "region": "in_transit_region",
    "model": "in_transit_model",
    "region_model": "in_transit_region_model",
}


def grid(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], int | float) for row in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        padded = (
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        )
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in cells)])


def _cell(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def in_transit(tables: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """In transit per region, model and (region, model), from the three tables' entries.

    ``tables`` maps "region" | "model" | "region_model" to table entries. Zero rows are
    kept: a region whose orders were all delivered shows 0, not nothing.
    """
    pairs = []
    for key, entry in sorted(tables["region_model"].items()):
        region, _, model = key.partition("|")
        pairs.append({"region": region, "model": model, "qty": int(entry["qty"])})
    return {
        "region": {k: int(e["qty"]) for k, e in sorted(tables["region"].items())},
        "model": {k: int(e["qty"]) for k, e in sorted(tables["model"].items())},
        "region_model": pairs,
    }


def in_transit_text(report: Mapping[str, Any]) -> str:
    """The in-transit report as three small tables with totals."""
    region, model, pairs = report["region"], report["model"], report["region_model"]
    total = sum(region.values())
    parts = [
        "In transit per region",
        grid(["region", "qty"], [*sorted(region.items()), ("total", total)]),
        "",
        "In transit per model",
        grid(["model", "qty"], [*sorted(model.items()), ("total", sum(model.values()))]),
        "",
        "In transit per region and model",
        grid(["region", "model", "qty"], [(p["region"], p["model"], p["qty"]) for p in pairs]),
    ]
    return "\n".join(parts)


def table_text(entries: Mapping[str, Mapping[str, Any]]) -> str:
    """Any table: one row per key, one column per field seen in any entry."""
    if not entries:
        return "(empty)"
    fields: list[str] = []
    for entry in entries.values():
        fields.extend(f for f in entry if f not in fields)
    rows = [[key, *(entry.get(f, "") for f in fields)] for key, entry in sorted(entries.items())]
    return grid(["key", *fields], rows)
