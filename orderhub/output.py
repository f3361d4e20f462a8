"""The command line's one output and exit-code policy.

Every command that prints data takes ``--format table|json|jsonl`` (``format_option``);
``table`` is for people, ``json`` one document, ``jsonl`` one JSON value a line. Old
spellings stay as hidden aliases for scripts: ``--json`` is ``--format json`` and
``--format text`` is ``--format table``.

Exit codes (README "Exit codes"): 0 ok, 1 the thing checked is bad or not healthy, 2 usage
or I/O. A command ends with ``finish(code)``; `orderhub.cli.main` is the one place that
turns it into the process's exit status.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn, TextIO, TypeVar

import click

EXIT_OK, EXIT_BAD, EXIT_USAGE = 0, 1, 2
FORMATS = ("table", "json", "jsonl")
_ALIASES = {"text": "table"}
_JSON_ALIAS = "orderhub.json_alias"

F = TypeVar("F", bound=Callable[..., Any])


def finish(code: int) -> NoReturn:
    """End the command with exit status ``code`` (0 ok, 1 bad, 2 usage or I/O)."""
    raise click.exceptions.Exit(code)


class _FormatChoice(click.Choice[str]):
    """table | json | jsonl; an old spelling ("text") is accepted, not advertised."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if isinstance(value, str) and value in _ALIASES:
            return _ALIASES[value]
        return str(super().convert(value, param, ctx))


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_JSON_ALIAS] = True


def _resolve(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not ctx.meta.get(_JSON_ALIAS):
        return value
    given = ctx.get_parameter_source(param.name or "") is not click.core.ParameterSource.DEFAULT
    if given and value != "json":
        raise click.UsageError(f"--json contradicts --format {value}")
    return "json"


def format_option(default: str, help_json: str = "") -> Callable[[F], F]:
    """``--format table|json|jsonl`` (as parameter ``output``) and the hidden ``--json``."""
    alias = click.option(
        "--json",
        "json_alias",
        is_flag=True,
        hidden=True,
        expose_value=False,
        is_eager=True,  # before --format's callback, wherever it stands on the line
        callback=_remember_json,
    )
    choice = click.option(
        "--format",
        "output",
        type=_FormatChoice(FORMATS),
        default=default,
        show_default=True,
        callback=_resolve,
        help=f"table: for people; json: one document; jsonl: one JSON value a line. {help_json}",
    )

    def decorate(func: F) -> F:
        return alias(choice(func))

    return decorate


def dumps(value: Any, output: str) -> str:
    """``value`` as the json (indented document) or jsonl (one line per item) format."""
    if output == "json":
        return json.dumps(value, indent=2, ensure_ascii=False)
    items = value if isinstance(value, list) else [value]
    return "\n".join(json.dumps(item, ensure_ascii=False, sort_keys=True) for item in items)


class JsonArrayWriter:
    """A text stream that turns the JSON lines written to it into one JSON array on
    ``out``, streamed: nothing is held but a partial line."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._partial = ""
        self._count = 0

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            if line.strip():
                self.item(line)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def item(self, encoded: str) -> None:
        """Add one JSON value, already encoded."""
        self._out.write(("[\n  " if self._count == 0 else ",\n  ") + encoded)
        self._out.flush()
        self._count += 1

    def close(self) -> None:
        """End the array (``[]`` when nothing was written)."""
        if self._partial.strip():
            self.item(self._partial)
        self._partial = ""
        self._out.write("[]\n" if self._count == 0 else "\n]\n")
        self._out.flush()


def row(values: Sequence[object]) -> str:
    """One line of a streamed table: cells two spaces apart (a tail cannot know the
    widths of lines still to come)."""
    return "  ".join(_cell(v) for v in values).rstrip()


def _cell(value: object) -> str:
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "-"
    if value is None or value == "":
        return "-"
    return str(value)
