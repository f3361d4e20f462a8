"""`orderhub replay`: past events through a rule set, on event time (an offline tool, not
a rules command: it reads events as well as rules).

Exit codes: 0 replayed, 1 events refused (``--strict-order``), 2 usage or I/O.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO, cast

import click

from contract.settings import get_settings
from orderhub.output import JsonArrayWriter, finish, format_option


@click.command("replay")
@click.option("--rules", "rules_dir", required=True, type=click.Path(path_type=Path))
@click.argument("events", type=click.Path(path_type=Path))
@click.option("--compare", type=click.Path(path_type=Path), help="A second rules directory.")
@format_option(
    "jsonl",
    "jsonl: one alert a line ({change, alert} with --compare); json: those as one array.",
)
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
    from streams.offline.replay import ReplayError, ReplayOptions, main, parse_until

    try:
        timezone = get_settings().timezone
        end = parse_until(until, timezone) if until else None
        # json is the jsonl stream made one array as it goes: replay keeps no alert for it.
        shown = "jsonl" if output == "json" else output
        options = ReplayOptions(rules_dir, events, compare, shown, end, timezone, strict_order)
        stdout = click.get_text_stream("stdout")
        array = JsonArrayWriter(stdout) if output == "json" else None
        out = stdout if array is None else cast(TextIO, array)
        code = main(options, out, click.get_text_stream("stderr"))
    except ReplayError as exc:
        click.echo(f"orderhub replay: {exc}", err=True)
        finish(exc.exit_code)
    if array is not None:
        array.close()
    finish(code)


REPLAY_COMMANDS: list[click.Command] = [replay]
