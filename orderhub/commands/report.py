"""`orderhub report assessment`: the month's assessment (考核) of the sales regions.

Live from the worker's facts and ledger (``/assessment/kpis``), or with ``--events`` offline
through the replay engine; both compute it with ``streams.core.assessment.kpis.assess``.

Exit codes: 0 written, 1 an OrderHub error (no worker answers, rules with errors), 2 usage
or I/O (a bad month, xlsx without ``--output``, an unreadable events file).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from contract.settings import get_settings
from orderhub.output import EXIT_BAD, EXIT_OK, EXIT_USAGE, finish

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@click.group("report")
def report() -> None:
    """Reports for the sales department."""


@report.command("assessment")
@click.option("--month", required=True, help="The business month, YYYY-MM.")
@click.option("--region", help="One region only (default: every region).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "xlsx", "json"]),
    default="table",
    show_default=True,
    help="table: for people; csv: every view; xlsx: a sheet per view (needs --output); "
    "json: one document.",
)
@click.option("--output", "out", type=click.Path(path_type=Path), help="Write here, not stdout.")
@click.option("--chart", type=click.Path(path_type=Path), help="Also draw the chart (PNG).")
@click.option(
    "--events",
    type=click.Path(path_type=Path),
    help="Compute it offline from this JSONL file (through the replay engine).",
)
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(path_type=Path),
    help="The rules directory for --events (default ORDERHUB_RULES_DIR).",
)
def assessment(
    month: str,
    region: str | None,
    fmt: str,
    out: Path | None,
    chart: Path | None,
    events: Path | None,
    rules_dir: Path | None,
) -> None:
    """The month's KPIs per region: demand fulfilment, the daily shipping plan's on-time
    rate, SLA compliance per step, plans on time, breaches and fines (docs/assessment.md)."""
    if not MONTH.fullmatch(month):
        raise click.BadParameter(f"{month!r} is not a month like 2026-10", param_hint="--month")
    if fmt == "xlsx" and out is None:
        raise click.UsageError("--format xlsx writes a file: give --output FILE.xlsx")
    from streams.exceptions import StreamsError

    try:
        result = _offline(events, rules_dir, month, region) if events else _live(month, region)
        _write(result, fmt, out, chart)
    except StreamsError as exc:
        click.echo(f"orderhub report assessment: {exc}", err=True)
        finish(getattr(exc, "exit_code", EXIT_BAD))
    finish(EXIT_OK)


def _offline(events: Path, rules_dir: Path | None, month: str, region: str | None) -> Any:
    from streams.offline.assessment import replay_assessment

    settings = get_settings()
    if not events.is_file():
        click.echo(f"orderhub report assessment: {events}: no such file", err=True)
        finish(EXIT_USAGE)
    rules = rules_dir or settings.rules_dir
    result, offline = replay_assessment(events, rules, month, region, settings.timezone)
    for line in offline.skipped:
        click.echo(f"{events}:{line}", err=True)
    return result


def _live(month: str, region: str | None) -> Any:
    from streams.clients.worker_api import WorkerClient
    from streams.core.assessment.kpis import assessment_from_json

    settings = get_settings()
    client = WorkerClient.at(settings.web_host, settings.web_port)
    return assessment_from_json(client.assessment(month, region))


def _write(result: Any, fmt: str, out: Path | None, chart: Path | None) -> None:
    from streams.core.assessment.kpis import assessment_json
    from streams.offline.assessment import csv_text, table_text
    from streams.offline.assessment_files import write_chart, write_xlsx

    if fmt == "xlsx" and out is not None:
        write_xlsx(result, out)
    else:
        if fmt == "json":
            text = json.dumps(assessment_json(result), ensure_ascii=False, indent=2) + "\n"
        else:
            text = table_text(result) if fmt == "table" else csv_text(result)
        if out is None:
            click.echo(text, nl=False)
        else:
            out.write_text(text, encoding="utf-8")
    if chart is not None:
        write_chart(result, chart)


REPORT_COMMANDS: list[click.Command] = [report]
