"""`orderhub alerts tail | list` and `orderhub dlq tail | replay`: alerts and dead letters
for people (a table in the business time zone, in event time) and for scripts (json, jsonl).

Imports of Kafka stay inside the commands so `orderhub --help` stays fast.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import click

from contract.settings import Settings, get_settings
from orderhub import views
from orderhub.output import EXIT_BAD, EXIT_OK, JsonArrayWriter, dumps, finish, format_option

SEVERITIES = ("info", "warning", "critical")
STATUSES = ("firing", "resolved")


def _servers() -> str:
    from streams.worker.control import bootstrap

    return bootstrap(get_settings())


def _zone(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.timezone)


def _since(text: str | None, settings: Settings) -> datetime | None:
    if text is None:
        return None
    try:
        return views.parse_since(text, datetime.now(UTC), _zone(settings))
    except views.SinceError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None


def _decode(value: bytes | None) -> Any:
    """A record's JSON value; one that is not JSON as its text."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return value.decode("utf-8", "replace")


class Printer:
    """Rows to stdout as they come, in one format: a table (``header`` first, ``render``
    each row), one JSON array (closed by ``close``) or JSON lines."""

    def __init__(self, output: str, header: str, render: Callable[[Any], str]) -> None:
        out: TextIO = click.get_text_stream("stdout")
        self.output, self.render, self.count = output, render, 0
        self.array = JsonArrayWriter(out) if output == "json" else None
        if output == "table":
            click.echo(header)

    def rows(self, values: Iterable[Any], data: Callable[[Any], Any] = lambda v: v) -> None:
        for value in values:
            self.count += 1
            if self.output == "table":
                click.echo(self.render(value))
                continue
            line = json.dumps(data(value), ensure_ascii=False, sort_keys=True)
            if self.array is not None:
                self.array.item(line)
            else:
                click.echo(line)

    def close(self) -> None:
        if self.array is not None:
            self.array.close()


def _read(topic: str, seconds: float) -> Iterator[list[Any]]:
    """The topic's backlog, then new batches (``seconds``; inf: until Ctrl-C, a normal end)."""
    from streams.clients.kafka_io import read_batches

    try:
        yield from read_batches(get_settings(), _servers(), topic, seconds)
    except KeyboardInterrupt:
        if not math.isinf(seconds):
            raise


def _tail_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--follow, --seconds, --since, --format (table) and the old --from-beginning."""
    for option in reversed(
        [
            click.option(
                "--follow",
                "-f",
                is_flag=True,
                help="After the records there, print new ones as they come, until Ctrl-C (exit 0).",
            ),
            click.option(
                "--seconds",
                type=click.FloatRange(min=0),
                default=0.0,
                help="After the records there, wait this long for new ones.",
            ),
            click.option(
                "--since",
                metavar="TIME|DURATION",
                help="Only from this time on: 2026-03-09, 2026-03-09T08:00+08:00 (no offset: "
                "business time zone), or back from now: 30m, 2h, 7d.",
            ),
            # The topic is always read from its first record now; kept for old scripts.
            click.option("--from-beginning", is_flag=True, hidden=True, expose_value=False),
            format_option("table", "json: one array (closed at the end, or at Ctrl-C)."),
        ]
    ):
        func = option(func)
    return func


def _seconds(seconds: float, follow: bool) -> float:
    """How long to wait for new records: --seconds, or for ever with --follow (not both)."""
    if not follow:
        return seconds
    source = click.get_current_context().get_parameter_source("seconds")
    if source is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError("--follow reads until Ctrl-C: leave out --seconds")
    return math.inf


# --- alerts --------------------------------------------------------------------------------


def _alert_filters(func: Callable[..., Any]) -> Callable[..., Any]:
    """--rule, --severity, --status (each repeatable: any of them)."""
    for option in reversed(
        [
            click.option("--rule", "rules", multiple=True, help="Only this rule id (repeatable)."),
            click.option(
                "--severity",
                "severities",
                multiple=True,
                type=click.Choice(SEVERITIES),
                help="Only this severity (repeatable).",
            ),
            click.option(
                "--status",
                "statuses",
                multiple=True,
                type=click.Choice(STATUSES),
                help="Only firing or only resolved alerts.",
            ),
        ]
    ):
        func = option(func)
    return func


@click.group()
def alerts() -> None:
    """Read the alerts: the topic's history (tail) and what fires now (list)."""


@alerts.command("tail")
@_tail_options
@_alert_filters
def alerts_tail(
    follow: bool,
    seconds: float,
    since: str | None,
    output: str,
    rules: tuple[str, ...],
    severities: tuple[str, ...],
    statuses: tuple[str, ...],
) -> None:
    """Print the alerts on the alerts topic, from its first record, sorted by event time
    (with --follow, new ones as they come, each batch in event time). Table columns:
    time (in ORDERHUB_TIMEZONE), rule, severity, status, key, message."""
    from contract.topics import Topics

    settings = get_settings()
    wanted = views.AlertFilter.of(rules, severities, statuses, _since(since, settings))
    topic = Topics(settings.topic_prefix).alerts
    zone = _zone(settings)
    printer = Printer(
        output, views.alert_header(settings.timezone), lambda v: views.alert_row(v, zone)
    )
    records = 0
    for batch in _read(topic, _seconds(seconds, follow)):
        values = [_decode(record.value) for record in batch]
        records += len(values)
        printer.rows(views.in_event_time(v for v in values if wanted.keeps(v)))
    printer.close()
    click.echo(f"({printer.count} of {records} records from {topic})", err=True)


@alerts.command("list")
@_alert_filters
@click.option("--since", metavar="TIME|DURATION", help="Only alerts raised from this time on.")
@format_option("table", "json: one array of the alerts as published.")
def alerts_list(
    rules: tuple[str, ...],
    severities: tuple[str, ...],
    statuses: tuple[str, ...],
    since: str | None,
    output: str,
) -> None:
    """Print the alerts firing now, from the worker (its /alerts/ page), oldest first."""
    from streams.worker import control as w
    from streams.worker.health import staleness

    settings = get_settings()
    wanted = views.AlertFilter.of(rules, severities, statuses, _since(since, settings))
    web = w.client(settings)
    firing = views.in_event_time(a for a in web.alerts() if wanted.keeps(a))
    zone = _zone(settings)
    if output == "table":
        click.echo(views.alert_header(settings.timezone))
        for alert in firing:
            click.echo(views.alert_row(alert, zone))
        click.echo(f"({len(firing)} alerts firing)", err=True)
    elif firing or output == "json":
        click.echo(dumps(firing, output))
    if (stale := staleness(web.health())) is not None:
        click.echo(f"orderhub: warning: this may be stale: {stale}", err=True)


# --- dead letters --------------------------------------------------------------------------


_REASON = click.option(
    "--reason", "reasons", multiple=True, help="Only this reason code (repeatable)."
)


def _letters(batch: Iterable[Any]) -> list[views.Letter]:
    return [
        views.Letter(_decode(r.value), datetime.fromtimestamp(r.timestamp / 1000, UTC), r.offset)
        for r in batch
    ]


@click.group()
def dlq() -> None:
    """Read and replay the dead-letter topic (records the hub could not use)."""


@dlq.command("tail")
@_tail_options
@_REASON
def dlq_tail(
    follow: bool, seconds: float, since: str | None, output: str, reasons: tuple[str, ...]
) -> None:
    """Print the dead letters, from the topic's first record (--since: dead-lettered from
    then on); with --follow, new ones as they come. Table columns: time (in
    ORDERHUB_TIMEZONE), reason, source topic[partition]@offset, bytes, error; json and
    jsonl hold each dead letter whole (original bytes in value_base64)."""
    from contract.topics import Topics

    settings = get_settings()
    wanted = views.LetterFilter(frozenset(reasons), _since(since, settings))
    topic = Topics(settings.topic_prefix).dead_letter
    zone = _zone(settings)
    printer = Printer(
        output, views.letter_header(settings.timezone), lambda v: views.letter_row(v, zone)
    )
    records = 0
    for batch in _read(topic, _seconds(seconds, follow)):
        letters = _letters(batch)
        records += len(letters)
        shown = sorted((x for x in letters if wanted.keeps(x)), key=lambda x: (x.time, x.offset))
        printer.rows(shown, data=lambda x: x.value)
    printer.close()
    click.echo(f"({printer.count} of {records} records from {topic})", err=True)


_REPLAY_COLUMNS = ("dead_letter_offset", "reason", "source", "outcome", "sent_to", "sent_offset")


@dlq.command("replay")
@_REASON
@click.option("--since", metavar="TIME|DURATION", help="Only letters dead-lettered from then on.")
@click.option("--dry-run", is_flag=True, help="Say what would be sent; send nothing.")
@format_option("table", "json: one array of what was done with each dead letter.")
def dlq_replay(reasons: tuple[str, ...], since: str | None, dry_run: bool, output: str) -> None:
    """Send dead letters back to their input topic once their cause is fixed; a record
    still bad is dead-lettered again. Each letter is sent once: a marker topic remembers
    the replayed ones (streams/clients/dlq_replay.py). Exit 0 when all selected were sent
    (or were before), 1 when one could not be (truncated, refused)."""
    from contract.topics import Topics
    from orderhub.display import grid
    from streams.clients import dlq_replay as r
    from streams.clients.kafka_io import create_topics

    settings, servers = get_settings(), _servers()
    topics = Topics(settings.topic_prefix)
    wanted = views.LetterFilter(frozenset(reasons), _since(since, settings))
    create_topics(settings, servers)  # the marker topic, for a worker older than it
    letters, foreign = r.read_letters(settings, servers, topics)
    chosen = [
        (offset, letter)
        for offset, letter, at in letters
        if wanted.keeps(views.Letter({"reason": letter.reason}, at, offset))
    ]
    planned = r.plan(chosen, r.read_replayed(settings, servers, topics), topics, dry_run)
    if not dry_run:
        planned = r.send(settings, servers, topics, planned)
    rows = [p.row() for p in planned]
    if output == "table":
        cells = [["-" if row[c] is None else row[c] for c in _REPLAY_COLUMNS] for row in rows]
        click.echo(grid(_REPLAY_COLUMNS, cells))
    elif rows or output == "json":
        click.echo(dumps(rows, output))
    counts = Counter(p.outcome for p in planned)
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "nothing"
    note = f"; {foreign} record(s) not dead letters, left alone" if foreign else ""
    click.echo(f"{len(planned)} dead letter(s) selected: {summary}{note}", err=True)
    finish(EXIT_BAD if r.FAILED & counts.keys() else EXIT_OK)


ALERT_COMMANDS: list[click.Command] = [alerts, dlq]
