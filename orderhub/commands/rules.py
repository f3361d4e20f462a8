"""`orderhub rules check | test | fmt`: tools for rule authors.

Exit codes (every rules command): 0 clean (warnings allowed), 1 problems found in the
rules, 2 usage or I/O error. A new command is a function decorated with
``@rules.command(...)`` here (or a group appended to ``RULE_COMMANDS``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from contract.settings import get_settings
from orderhub.output import EXIT_BAD as EXIT_PROBLEMS
from orderhub.output import EXIT_OK, EXIT_USAGE, dumps, finish, format_option

if TYPE_CHECKING:
    from streams.offline.ruletest import CaseResult


@click.group()
def rules() -> None:
    """Check, test and format rule files."""


def _paths(paths: tuple[Path, ...]) -> list[Path]:
    """The paths given, or the configured rules directory; exit 2 if one does not exist."""
    chosen = list(paths) or [get_settings().rules_dir]
    missing = [p for p in chosen if not p.exists()]
    if missing:
        click.echo(f"orderhub rules: no such file or directory: {missing[0]}", err=True)
        finish(EXIT_USAGE)
    return chosen


_PATHS = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))


@rules.command("check")
@_PATHS
@format_option(
    "table",
    "json: a list of {code, message, file, line, col, end_line, end_col, hint, severity}; "
    "jsonl: one such object a line.",
)
@click.option(
    "--calendars",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Directory of calendar YAML files [default: calendars/ next to the rules, "
    "else the rules directory's].",
)
def check(paths: tuple[Path, ...], output: str, calendars: Path | None) -> None:
    """Check rule files (default: the rules directory) and their calendars; print every
    problem."""
    from dsl.diagnostics import render_all, render_json, summary
    from dsl.loader import IO_ERROR, load_report

    # A file outside the rules folder is still checked against the calendars it will run
    # with: the configured rules directory's.
    fallback = get_settings().rules_dir / "calendars"
    report = load_report(_paths(paths), calendars, fallback)
    diags = report.diagnostics
    line = f"{len(report.files)} file(s), {len(report.rules)} rule(s) loaded: {summary(diags)}"
    if output == "json":
        click.echo(render_json(diags))
        click.echo(line, err=True)
    elif output == "jsonl":
        listed = json.loads(render_json(diags))
        if listed:
            click.echo(dumps(listed, output))
        click.echo(line, err=True)
    else:
        if diags:
            click.echo(render_all(diags, {**report.calendar_sources, **report.sources}) + "\n")
        click.echo(line)
    if any(d.code == IO_ERROR for d in diags):
        finish(EXIT_USAGE)
    finish(EXIT_PROBLEMS if any(d.is_error for d in diags) else EXIT_OK)


@rules.command("fmt")
@_PATHS
@click.option("--check", "check_only", is_flag=True, help="Only list files that would change.")
def fmt(paths: tuple[Path, ...], check_only: bool) -> None:
    """Rewrite rule files in the canonical layout (or, with --check, list the unformatted)."""
    from dsl.diagnostics import render_all
    from dsl.errors import FormatError
    from dsl.fmt import format_source
    from dsl.loader import rule_files

    changed, broken = 0, 0
    for path in rule_files(_paths(paths)):
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            click.echo(f"orderhub rules fmt: cannot read {path}: {err}", err=True)
            finish(EXIT_USAGE)
        try:
            formatted = format_source(source, str(path))
        except FormatError as err:
            broken += 1
            click.echo(render_all(err.diagnostics, {str(path): source}) + "\n", err=True)
            continue
        if formatted != source:
            changed += 1
            if check_only:
                click.echo(f"would reformat {path}")
            else:
                path.write_text(formatted, encoding="utf-8")
                click.echo(f"reformatted {path}")
    if broken:
        click.echo(f"{broken} file(s) not formatted: syntax errors", err=True)
    finish(EXIT_PROBLEMS if broken or (check_only and changed) else EXIT_OK)


@rules.command("test")
@_PATHS
@format_option(
    "table",
    "json: a list of {file, case, ok, problems}; jsonl: one such object a line.",
)
def test(paths: tuple[Path, ...], output: str) -> None:
    """Run rule unit tests (YAML; default: the tests/ folder of the rules directory).

    Prints `ok` or `FAIL` per case, with the difference between the expected and the
    produced alerts for a failure, then `N passed, M failed` (on stderr with json or
    jsonl). Exit 1 if any case failed.
    """
    from streams.offline.ruletest import collect, render, run_test_file, summary

    chosen = _paths(paths) if paths else _paths((get_settings().rules_dir / "tests",))
    files = collect(chosen)
    if not files:
        click.echo(f"orderhub rules test: no test files (*.yaml) in {chosen[0]}", err=True)
        finish(EXIT_USAGE)
    results = []
    timezone = get_settings().timezone  # of test files that name none, as the worker's
    for path in files:
        for result in run_test_file(path, timezone=timezone):
            if output == "table":
                click.echo(render(result))
            elif output == "jsonl":  # as each case ends: a long suite shows progress
                click.echo(dumps(_case(result), output))
            results.append(result)
    if output == "json":
        click.echo(dumps([_case(r) for r in results], output))
    click.echo(summary(results), err=output != "table")
    finish(EXIT_OK if all(r.ok for r in results) else EXIT_PROBLEMS)


def _case(result: CaseResult) -> dict[str, object]:
    """One case's outcome as the json formats show it; ``problems`` is the diff's lines."""
    lines = [line for problem in result.problems for line in problem.splitlines()]
    return {"file": result.file, "case": result.name, "ok": result.ok, "problems": lines}


RULE_COMMANDS: list[click.Command] = [rules]
