"""`orderhub worker | produce | tables | topics`: the Faust worker and its data.

Imports of Kafka and Faust stay inside the commands so `orderhub --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from contract.settings import Settings, get_settings
from orderhub.output import (
    EXIT_BAD,
    EXIT_OK,
    dumps,
    finish,
    format_option,
)


def _worker_settings() -> Settings:
    """The settings, a bad one as a one-line error (not a pydantic traceback)."""
    from pydantic import ValidationError

    from streams.worker.control import StartupError, bad_settings

    try:
        return get_settings()
    except ValidationError as exc:
        raise StartupError(bad_settings(exc)) from None


def _servers() -> str:
    from streams.worker.control import bootstrap

    return bootstrap(get_settings())


# --- worker --------------------------------------------------------------------------------


@click.group()
def worker() -> None:
    """Start, stop and inspect the Faust worker."""


_INSTANCE = click.option(
    "--instance",
    type=click.IntRange(min=0),
    default=None,
    help="Worker N on this machine: web port ORDERHUB_WEB_PORT + N, files worker-N.* "
    "(default: 0 for start, every instance for stop and status).",
)


@worker.command("start")
@click.option("--detach", is_flag=True, help="Run in the background (pid file, log file).")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait for ready.")
@_INSTANCE
def worker_start(detach: bool, timeout: float, instance: int | None) -> None:
    """Run the worker: ingest, tables, rules. Foreground unless --detach.

    Start more instances for hot standbys: the one holding the events partition is
    active, the others take over when it goes."""
    from streams.worker import control as w

    if not detach:
        if instance:
            raise click.UsageError(
                "--instance needs --detach (in the foreground: set ORDERHUB_WEB_PORT)"
            )
        w.main()  # as `python -m streams.worker.control`: a start-up failure is one line, exit 3
        return
    settings = _worker_settings()
    number = instance or 0
    pid, started = w.start_detached(settings, timeout=timeout, instance=number)
    files = w.WorkerFiles.of(settings, number)
    mine = w.at_instance(settings, number)
    role = _role(mine)
    state = "running" if started else "already running"
    name = "worker" if number == 0 else f"worker {number}"
    click.echo(
        f"{name} {state} (pid {pid}{f', {role}' if role else ''}), "
        f"web http://{mine.web_host}:{mine.web_port}, log {files.log}"
    )


def _role(settings: Settings) -> str | None:
    """The worker's role from /healthz, or None when it does not answer."""
    from streams.clients.worker_api import WorkerUnavailable
    from streams.worker import control as w

    try:
        return str(w.client(settings).health().get("role") or "") or None
    except WorkerUnavailable:
        return None


@worker.command("stop")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds before SIGKILL.")
@_INSTANCE
def worker_stop(timeout: float, instance: int | None) -> None:
    """Stop the detached workers (all instances): SIGTERM, then SIGKILL after --timeout."""
    from streams.worker import control as w

    stopped = w.stop(get_settings(), timeout=timeout, only=instance)
    ran = {n: pid for n, pid in stopped.items() if pid is not None}
    if not ran:
        click.echo("no worker running")
    for number, pid in ran.items():
        name = "worker" if number == 0 else f"worker {number}"
        click.echo(f"{name} stopped (pid {pid})")


@worker.command("status")
@format_option("table", "json: the whole /healthz document (per instance when several).")
@_INSTANCE
def worker_status(output: str, instance: int | None) -> None:
    """Whether the workers run and are healthy: broker reachable, group joined, tables
    recovered, nothing stalled, no rule errors; each one's role (active or standby).
    Exit 0 all healthy, 1 one does not answer, 2 one is not healthy (its own codes, kept
    for the scripts that use them; README "Exit codes")."""
    from streams.worker import control as w

    settings = _worker_settings()
    numbers = w.instances(settings) if instance is None else [instance]
    several = len(numbers) > 1
    codes, docs = [], {}
    for number in numbers:
        code, doc = _status_of(settings, number, output != "table", several)
        codes.append(code)
        docs[str(number)] = doc
    if output == "json":
        click.echo(dumps(docs if several else docs[str(numbers[0])], output))
    elif output == "jsonl":
        click.echo(dumps([{"instance": int(n), "health": d} for n, d in docs.items()], output))
    finish(max(codes))


def _status_of(
    settings: Settings, number: int, as_json: bool, several: bool
) -> tuple[int, dict[str, Any] | None]:
    """Print one instance's status (its /healthz unless ``as_json``, then the one-line
    state goes to stderr so that stdout is JSON alone); its exit code."""
    from streams.clients.worker_api import WorkerUnavailable
    from streams.worker import control as w
    from streams.worker import health as h

    mine = w.at_instance(settings, number)
    pid = w.running_pid(w.WorkerFiles.of(settings, number))
    name = f"worker {number}" if several else "worker"
    where = f", web http://{mine.web_host}:{mine.web_port}" if several else ""
    state = "not running" if pid is None else f"running (pid {pid})"
    click.echo(f"{name}: {state}{where}", err=as_json)
    try:
        doc = w.client(mine).health()
    except WorkerUnavailable as exc:
        click.echo(f"web: {exc}", err=as_json)
        return h.EXIT_NO_ANSWER, None
    if not as_json:
        click.echo("\n".join(h.describe(doc)))
    return h.exit_code(doc), doc


# --- produce / topics ----------------------------------------------------------------------


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--topic", help="Send every line to this topic (a family name or a topic).")
def produce(file: Path, topic: str | None) -> None:
    """Publish a JSON-lines FILE, each line to its event family's input topic.

    Each line is checked as the worker checks a record; a bad one is reported as
    FILE:LINE: reason: error, put on the dead-letter topic and the rest are still sent.
    Exit 0 when every line was sent, 1 when any line was rejected.
    """
    from streams.clients.kafka_io import produce_checked

    with file.open("rb") as lines:
        report = produce_checked(get_settings(), _servers(), lines, topic, f"file:{file.name}")
    for bad in report.rejected:
        click.echo(f"{file}:{bad.line}: {bad.reason}: {bad.error}", err=True)
    sent = report.sent
    detail = ", ".join(f"{name}: {n}" for name, n in sorted(sent.items()))
    click.echo(
        f"sent {sum(sent.values())} records ({detail}); rejected {len(report.rejected)} "
        "lines (on the dead-letter topic)"
    )
    finish(EXIT_BAD if report.rejected else EXIT_OK)


@click.group()
def topics() -> None:
    """Manage OrderHub's Kafka topics."""


@topics.command("create")
def topics_create() -> None:
    """Create the topics that do not exist yet (the worker does this on start too)."""
    from streams.clients.kafka_io import create_topics

    created = create_topics(get_settings(), _servers())
    click.echo(f"created: {', '.join(created)}" if created else "all topics exist")


# --- tables --------------------------------------------------------------------------------


@click.group()
def tables() -> None:
    """Show the live tables (through the worker's web endpoint)."""


@tables.command("show")
@click.argument("name")
@format_option("table", "jsonl: one entry a line ({key, ...fields}; in-transit: one count a line).")
@click.option(
    "--wait",
    type=float,
    default=0.0,
    help="Retry up to SECONDS until the worker "
    "answers and has handled everything already published.",
)
def tables_show(name: str, output: str, wait: float) -> None:
    """Print table NAME; `in-transit` prints in transit per region, model and both."""
    from orderhub import display
    from streams.worker import control as w
    from streams.worker.health import staleness

    settings = get_settings()
    web = w.client(settings)
    if wait > 0:
        w.wait_caught_up(settings, _servers(), wait)
    if name == "in-transit":
        report = display.in_transit(
            {part: web.table(table) for part, table in display.IN_TRANSIT_TABLES.items()}
        )
        text = display.in_transit_text(report) if output == "table" else _in_transit(report, output)
    else:
        entries = web.table(name.replace("-", "_"))
        text = display.table_text(entries) if output == "table" else _entries(entries, output)
    click.echo(text)
    # After --wait the worker was just seen caught up; the monitor's lag may be older.
    if (stale := staleness(web.health(), count_lag=wait <= 0)) is not None:
        click.echo(f"orderhub: warning: this may be stale: {stale}", err=True)


def _in_transit(report: dict[str, Any], output: str) -> str:
    if output == "json":
        return dumps(report, output)
    lines = [{"region": k, "qty": v} for k, v in report["region"].items()]
    lines += [{"model": k, "qty": v} for k, v in report["model"].items()]
    return dumps([*lines, *report["region_model"]], output)


def _entries(entries: dict[str, Any], output: str) -> str:
    if output == "json":
        return dumps(entries, output)
    return dumps([{"key": k, **e} for k, e in sorted(entries.items())], output)


STREAM_COMMANDS: list[click.Command] = [worker, tables, produce, topics]
