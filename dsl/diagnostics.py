"""Diagnostics: values with a code, a message, a source span and a hint.

Every stage (parser, checker, loader) returns diagnostics instead of raising; the CLI sorts
and renders them like a compiler: ``file:line:col: CODE message``, the source line, a caret
under the span, and ``hint: …``.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from dsl.ast import Span

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a rule file. ``code`` is E1xx syntax, E2xx names/types, W3xx warnings."""

    code: str
    message: str
    span: Span
    hint: str | None = None
    severity: Level = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.file, self.span.line, self.span.col, self.code)

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``orderhub rules check --format json``."""
        s = self.span
        return {
            "code": self.code,
            "message": self.message,
            "file": s.file,
            "line": s.line,
            "col": s.col,
            "end_line": s.end_line,
            "end_col": s.end_col,
            "hint": self.hint,
            "severity": self.severity,
        }


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """By file and position; duplicates (same code at the same place) dropped."""
    unique = {(d.sort_key(), d.message): d for d in diags}
    return sorted(unique.values(), key=lambda d: (d.sort_key(), d.message))


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diags)


def _width(text: str) -> int:
    # East-Asian wide characters take two terminal columns; the caret must still line up.
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _caret_line(line: str, span: Span) -> str:
    start = max(span.col - 1, 0)
    end = span.end_col - 1 if span.end_line == span.line else len(line)
    end = max(min(end, len(line)), start + 1)
    # Tabs are copied so that the caret lines up whatever the tab width.
    pad = "".join("\t" if c == "\t" else " " * _width(c) for c in line[:start])
    return pad + "^" + "~" * max(_width(line[start:end]) - 1, 0)


def render(diag: Diagnostic, source: str | None) -> str:
    """One diagnostic as text; ``source`` is the file's text (None: no source line shown)."""
    return _render(diag, source.splitlines() if source is not None else [])


def _render(diag: Diagnostic, source_lines: Sequence[str]) -> str:
    s = diag.span
    level = "" if diag.is_error else "warning: "
    lines = [f"{s.file}:{s.line}:{s.col}: {diag.code} {level}{diag.message}"]
    if 1 <= s.line <= len(source_lines):
        line = source_lines[s.line - 1]
        lines += [line, _caret_line(line, s)]
    if diag.hint:
        lines.append(f"hint: {diag.hint}")
    return "\n".join(lines)


def render_all(diags: Sequence[Diagnostic], sources: Mapping[str, str]) -> str:
    """Every diagnostic, sorted, separated by blank lines; ``sources`` maps file → text."""
    # Each file is split into lines once: per diagnostic, thousands of warnings in a large
    # file would split it thousands of times.
    split: dict[str, list[str]] = {}

    def lines(file: str) -> list[str]:
        if file not in split:
            source = sources.get(file)
            split[file] = source.splitlines() if source is not None else []
        return split[file]

    return "\n\n".join(_render(d, lines(d.span.file)) for d in sort_diagnostics(diags))


def render_json(diags: Sequence[Diagnostic]) -> str:
    return json.dumps([d.to_dict() for d in sort_diagnostics(diags)], ensure_ascii=False, indent=2)


def summary(diags: Sequence[Diagnostic]) -> str:
    errors = sum(1 for d in diags if d.is_error)
    warnings = len(diags) - errors
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
