"""`orderhub rules check | test | fmt` and `orderhub replay`: tools for rule authors.

Exit codes (every rules command): 0 clean (warnings allowed), 1 problems found in the
rules, 2 usage or I/O error. A new command is a function decorated with
``@rules.command(...)`` here (or a group appended to ``RULE_COMMANDS``).
"""

from __future__ import annotations

from pathlib import Path

import click

from orderhub.settings import get_settings

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


@click.group()
def rules() -> None:
    """Check, test and format rule files."""


def _paths(paths: tuple[Path, ...]) -> list[Path]:
    """The paths given, or the configured rules directory; exit 2 if one does not exist."""
    chosen = list(paths) or [get_settings().rules_dir]
    missing = [p for p in chosen if not p.exists()]
    if missing:
        click.echo(f"orderhub rules: no such file or directory: {missing[0]}", err=True)
        raise SystemExit(EXIT_USAGE)
    return chosen


_PATHS = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))


@rules.command("check")
@_PATHS
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: a list of {code, message, file, line, col, end_line, end_col, hint, severity}.",
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
    else:
        if diags:
            click.echo(render_all(diags, {**report.calendar_sources, **report.sources}) + "\n")
        click.echo(line)
    if any(d.code == IO_ERROR for d in diags):
        raise SystemExit(EXIT_USAGE)
    raise SystemExit(EXIT_PROBLEMS if any(d.is_error for d in diags) else EXIT_OK)


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
            raise SystemExit(EXIT_USAGE) from err
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
    raise SystemExit(EXIT_PROBLEMS if broken or (check_only and changed) else EXIT_OK)


@rules.command("test")
@_PATHS
def test(paths: tuple[Path, ...]) -> None:
    """Run rule unit tests (YAML; default: the tests/ folder of the rules directory).

    Prints `ok` or `FAIL` per case, with the difference between the expected and the
    produced alerts for a failure, then `N passed, M failed`. Exit 1 if any case failed.
    """
    from streams.ruletest import collect, render, run_test_file, summary

    chosen = _paths(paths) if paths else _paths((get_settings().rules_dir / "tests",))
    files = collect(chosen)
    if not files:
        click.echo(f"orderhub rules test: no test files (*.yaml) in {chosen[0]}", err=True)
        raise SystemExit(EXIT_USAGE)
    results = []
    timezone = get_settings().timezone  # of test files that name none, as the worker's
    for path in files:
        for result in run_test_file(path, timezone=timezone):
            click.echo(render(result))
            results.append(result)
    click.echo(summary(results))
    raise SystemExit(EXIT_OK if all(r.ok for r in results) else EXIT_PROBLEMS)


@click.command("replay")
@click.option("--rules", "rules_dir", required=True, type=click.Path(path_type=Path))
@click.argument("events", type=click.Path(path_type=Path))
@click.option("--compare", type=click.Path(path_type=Path), help="A second rules directory.")
@click.option("--format", "output", type=click.Choice(["jsonl", "table"]), default="jsonl")
@click.option("--until", help="Move the clock on to this time at the end (ISO).")
@click.option(
    "--strict-order",
    is_flag=True,
    help="Refuse (exit 1, naming the lines) events out of time order instead of sorting them.",
)
def replay(
    rules_dir: Path,
    events: Path,
    compare: Path | None,
    output: str,
    until: str | None,
    strict_order: bool,
) -> None:
    """Run past events (JSONL) through a rule set on event time; print the alerts.

    Events are judged in event-time order (a stable sort; stderr says how many lines were
    out of order); memory follows the open orders, not the file's length."""
    from streams.replay import ReplayError, ReplayOptions, main, parse_until

    try:
        timezone = get_settings().timezone
        end = parse_until(until, timezone) if until else None
        options = ReplayOptions(rules_dir, events, compare, output, end, timezone, strict_order)
        code = main(options, click.get_text_stream("stdout"), click.get_text_stream("stderr"))
    except ReplayError as exc:
        click.echo(f"orderhub replay: {exc}", err=True)
        raise SystemExit(exc.exit_code) from exc
    raise SystemExit(code)


RULE_COMMANDS: list[click.Command] = [rules, replay]
