"""What a check produces: the diagnostics of one file and the type of each expression."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from dsl import ast as a
from dsl import schema as s
from dsl.diagnostics import Diagnostic, sort_diagnostics
from dsl.schema import Ty


@dataclass(frozen=True)
class CheckResult:
    diagnostics: tuple[Diagnostic, ...]
    types: Mapping[object, Ty]  # every expression node of the file → its type

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


class Report:
    """Diagnostics and types of one file as the checks find them, and the calendar names
    the file may use (None: calendars are not checked)."""

    def __init__(self, calendars: Collection[str] | None) -> None:
        self.calendars = calendars
        self.diags: list[Diagnostic] = []
        self.types: dict[object, Ty] = {}

    def error(self, code: str, message: str, span: a.Span, hint: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, span, hint))

    def warning(self, code: str, message: str, span: a.Span, hint: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, span, hint, "warning"))

    def unknown(self, code: str, message: str, span: a.Span, hint: str | None) -> Ty:
        """An error whose expression has no type: UNKNOWN keeps it from being reported
        again by every expression around it."""
        self.error(code, message, span, hint)
        return Ty(s.UNKNOWN)

    def result(self) -> CheckResult:
        return CheckResult(tuple(sort_diagnostics(self.diags)), self.types)
