"""The one exception base of ``dsl``.

Bad rule text is never an exception: it becomes ``Diagnostic`` values. These exceptions are
for callers that break a contract (compiling an AST that did not check clean, formatting
text that does not parse).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dsl.diagnostics import Diagnostic


class DslError(Exception):
    """Base of every exception raised by ``dsl``."""


class DiagnosticsError(DslError):
    """An operation needed clean input; ``diagnostics`` says what is wrong with it."""

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic]) -> None:
        super().__init__(message)
        self.diagnostics = tuple(diagnostics)


class CompileError(DiagnosticsError):
    """``compile_rules`` was given a file that has errors (run the checker first)."""


class FormatError(DiagnosticsError):
    """``format_source`` was given text with syntax errors."""
