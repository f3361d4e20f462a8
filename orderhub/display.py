"""Plain-text rendering of tables for the terminal. Pure."""

from __future__ import annotations

import json
import unicodedata
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
    widths = [max([_width(h), *(_width(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], int | float) for row in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        padded = (
            " " * (w - _width(v)) + v if num else v + " " * (w - _width(v))
            for v, w, num in zip(values, widths, numeric, strict=True)
        )
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in cells)])


def _width(text: str) -> int:
    """Terminal columns: a Chinese region name (华东) takes two a character."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


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


def schema_types(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Event type -> its JSON Schema, from ``contract.events.event_json_schema()``."""
    definitions = document.get("$defs", {})
    mapping = document.get("discriminator", {}).get("mapping", {})
    return {
        name: definitions[ref.rsplit("/", 1)[-1]]
        for name, ref in sorted(mapping.items())
        if ref.rsplit("/", 1)[-1] in definitions
    }


def schema_text(document: Mapping[str, Any]) -> str:
    """One row per field of every event type: type, field, JSON type, required."""
    rows = []
    for name, schema in schema_types(document).items():
        required = set(schema.get("required", ()))
        for field, prop in schema.get("properties", {}).items():
            rows.append([name, field, _json_type(prop), "yes" if field in required else "no"])
    return grid(["event type", "field", "type", "required"], rows)


def _json_type(prop: Mapping[str, Any]) -> str:
    """A property's type in a few characters: ``string (date)``, ``integer``, ``"x" | "y"``."""
    if "const" in prop:
        return json.dumps(prop["const"], ensure_ascii=False)
    if "enum" in prop:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in prop["enum"])
    if "anyOf" in prop:
        return " | ".join(_json_type(p) for p in prop["anyOf"])
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    kind = str(prop.get("type", "any"))
    if kind == "array":
        return f"array of {_json_type(prop.get('items', {}))}"
    return f"{kind} ({prop['format']})" if "format" in prop else kind
