"""`orderhub connect csv | watch | webhook`: feed OrderHub from systems without a Kafka client.

Exit codes of ``csv`` and ``watch --once``: 0 every row published, 1 some rows or files
rejected (they are on the dead-letter topic; the good rows are published), 2 usage.
Kafka, aiohttp and the connectors are imported inside the commands: `orderhub --help`
stays fast.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from contract.settings import Settings, get_settings
from orderhub.output import EXIT_BAD, EXIT_OK, dumps, finish, format_option

if TYPE_CHECKING:
    from connectors.base import KafkaSink
    from connectors.csv_plan import Rejection
    from connectors.filedrop import FileOutcome

EXIT_REJECTED = EXIT_BAD


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # kafka-python narrates every connection at INFO; an operator wants the files and requests.
    logging.getLogger("kafka").setLevel(logging.WARNING)


@click.group()
def connect() -> None:
    """Connectors: CSV plan files, a watch folder, an HTTP webhook, Alertmanager."""


def _sink(settings: Settings) -> KafkaSink:
    """A producer to the configured broker, once the topics exist (so they get the
    configured partitions, not a broker's auto-created default)."""
    from connectors.base import KafkaSink
    from streams.clients.kafka_io import create_topics
    from streams.worker.control import bootstrap

    servers = bootstrap(settings)
    create_topics(settings, servers)
    return KafkaSink(settings, servers)


def _show_rejections(rejections: Iterable[Rejection]) -> None:
    for r in rejections:
        click.echo(f"{r.location}: {r.reason}: {r.error}", err=True)
        for line in r.text.splitlines() or [""]:
            click.echo(f"    | {line}", err=True)


def _report(outcome: FileOutcome) -> None:
    if outcome.error is not None:
        click.echo(f"{outcome.error} -> {outcome.moved_to}", err=True)
        return
    click.echo(
        f"{outcome.file}: {outcome.events} event(s) published, "
        f"{len(outcome.rejections)} row(s) rejected -> {outcome.moved_to}"
    )
    _show_rejections(outcome.rejections)


def _exit_code(outcomes: Iterable[FileOutcome]) -> int:
    bad = any(o.error is not None or o.rejections for o in outcomes)
    return EXIT_REJECTED if bad else EXIT_OK


_REGION = click.option(
    "--region", help="The region of every row without one (overrides the file name's)."
)


@connect.command("csv")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@_REGION
@click.option(
    "--dry-run", is_flag=True, help="Print the events (--format), rejections on stderr; no Kafka."
)
@click.option(
    "--partial",
    is_flag=True,
    help="Publish a daily shipping plan's good lines although some are bad (else none).",
)
@format_option(
    "jsonl",
    "With --dry-run: jsonl one event a line, json one array, table one row an event.",
)
def csv_files(
    files: tuple[Path, ...], region: str | None, dry_run: bool, partial: bool, output: str
) -> None:
    """Publish weekly demand plans and daily shipping plans (××区域周需求计划表, .csv or
    .xlsx) to the plans topic."""
    if dry_run:
        finish(_dry_run(files, region, output))
    if click.get_current_context().get_parameter_source("output") is not ParameterSource.DEFAULT:
        raise click.UsageError("--format applies to --dry-run (publishing prints a summary)")
    from connectors.filedrop import publish_file
    from contract.topics import Topics

    settings = get_settings()
    topics = Topics(settings.topic_prefix)
    with _sink(settings) as sink:
        outcomes = [publish_file(path, sink, topics, region, partial=partial) for path in files]
    for outcome in outcomes:
        _report(outcome)
    finish(_exit_code(outcomes))


def _dry_run(files: Iterable[Path], region: str | None, output: str) -> int:
    from connectors.exceptions import UnreadableFile
    from connectors.filedrop import parse_file

    code = EXIT_OK
    shown: list[dict[str, Any]] = []  # json and table print once the widths are known
    for path in files:
        try:
            batch = parse_file(path, region=region)
        except UnreadableFile as exc:
            click.echo(str(exc), err=True)
            code = EXIT_REJECTED
            continue
        for event in batch.events:
            if output == "jsonl":
                click.echo(event.model_dump_json())
            else:
                shown.append(event.model_dump(mode="json"))
        _show_rejections(batch.rejections)
        if batch.rejections:
            code = EXIT_REJECTED
    if output == "json":
        click.echo(dumps(shown, output))
    elif output == "table":
        click.echo(_event_table(shown))
    return code


_HIDDEN = ("event_id", "source")  # generated per row: noise in a table for people


def _event_table(events: list[dict[str, Any]]) -> str:
    """One row an event, one column a field any of them has (but the generated ids)."""
    from orderhub.display import grid

    if not events:
        return "(no events)"
    fields: list[str] = []
    for event in events:
        fields.extend(f for f in event if f not in fields and f not in _HIDDEN)
    return grid(fields, [[e.get(f, "") for f in fields] for e in events])


@connect.command("watch")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--once", is_flag=True, help="Process the files there are, then exit.")
@_REGION
@click.option("--interval", default=2.0, show_default=True, help="Seconds between scans.")
@click.option(
    "--settle",
    default=2.0,
    show_default=True,
    help="Take a file only once it is this many seconds old (the ERP may still write it).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve Prometheus /metrics on ORDERHUB_WEB_HOST at this port (rows, files by outcome).",
)
def watch(
    directory: Path,
    once: bool,
    region: str | None,
    interval: float,
    settle: float,
    metrics_port: int | None,
) -> None:
    """Publish CSV files dropped into DIRECTORY, then move them to processed/ or failed/."""
    from connectors.filedrop import WatchFolder
    from contract.topics import Topics

    if once and metrics_port is not None:
        raise click.UsageError("--metrics-port serves a running watcher; --once exits at once")
    _logging()
    settings = get_settings()
    with _sink(settings) as sink:
        folder = WatchFolder(
            directory, sink, Topics(settings.topic_prefix), region=region, settle=settle
        )
        if once:
            outcomes = folder.drain()
            for outcome in outcomes:
                _report(outcome)
            finish(_exit_code(outcomes))
        if metrics_port is not None:
            from connectors.filedrop_metrics import serve_metrics

            serve_metrics(lambda: folder.counters, settings.web_host, metrics_port)
        stop = threading.Event()
        # SIGTERM finishes the file at hand (published and moved) before stopping.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        click.echo(f"watching {directory} every {interval}s (Ctrl-C to stop)", err=True)
        try:
            folder.run(interval, _report, stop)
        except KeyboardInterrupt:
            stop.set()


@connect.command("webhook")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8088, show_default=True, type=click.IntRange(1, 65535))
def webhook(host: str, port: int) -> None:
    """Serve POST /events and GET /healthz; ORDERHUB_WEBHOOK_TOKEN sets a shared secret."""
    from aiohttp import web

    from connectors.webhook import TOKEN_HEADER, create_app, is_loopback
    from contract.topics import Topics

    _logging()
    settings = get_settings()
    # An empty token is no token: it would let an empty header in.
    token = (settings.webhook_token.get_secret_value() if settings.webhook_token else "") or None
    if token is None and not is_loopback(host):
        raise click.UsageError(
            f"refusing to listen on {host} without ORDERHUB_WEBHOOK_TOKEN: anyone who reaches "
            f"it could publish events (set the token; senders put it in {TOKEN_HEADER}), "
            "or listen on 127.0.0.1"
        )
    with _sink(settings) as sink:
        app = create_app(sink, Topics(settings.topic_prefix), token)
        web.run_app(app, host=host, port=port, print=lambda text: click.echo(text, err=True))


@connect.command("alertmanager")
@click.option(
    "--url",
    "urls",
    multiple=True,
    required=True,
    help="An Alertmanager's base URL, e.g. http://127.0.0.1:9093; repeat for an HA pair.",
)
@click.option(
    "--resend-interval",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=1.0),
    help="Seconds between re-sends of the firing alerts (keep it well below "
    "Alertmanager's resolve_timeout; endsAt is set 4 intervals ahead).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve Prometheus /metrics on ORDERHUB_WEB_HOST at this port (pushes, failures).",
)
def alertmanager(urls: tuple[str, ...], resend_interval: float, metrics_port: int | None) -> None:
    """Push the alerts topic to Prometheus Alertmanager (POST /api/v2/alerts) until stopped."""
    from connectors.alertmanager.service import serve
    from streams.clients.kafka_io import create_topics
    from streams.worker.control import bootstrap

    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--url")
    _logging()
    settings = get_settings()
    servers = bootstrap(settings)
    create_topics(settings, servers)
    stop = threading.Event()
    # SIGTERM ends the loop between turns: what was pushed is committed at the next start.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"pushing alerts to {', '.join(urls)} (Ctrl-C to stop)", err=True)
    try:
        serve(settings, servers, urls, resend_interval, stop, metrics_port)
    except KeyboardInterrupt:
        stop.set()
