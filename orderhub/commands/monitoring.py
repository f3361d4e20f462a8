"""`orderhub monitoring up | down | status`: Alertmanager, Prometheus and the sink, locally."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from contract.settings import get_settings
from orderhub.output import EXIT_BAD, dumps, finish, format_option

if TYPE_CHECKING:
    from deploy.monitor import LocalMonitoring


def _stack() -> LocalMonitoring:
    from deploy.monitor import LocalMonitoring, Ports  # lazy: `orderhub --help` stays fast

    settings = get_settings()
    return LocalMonitoring(settings.home / "monitoring", Ports(worker=settings.web_port))


@click.group()
def monitoring() -> None:
    """Alertmanager and Prometheus on loopback, fed by the hub (for `make run`)."""


@monitoring.command()
def up() -> None:
    """Start Alertmanager, Prometheus and `orderhub connect alertmanager`; print their URLs."""
    stack = _stack()
    sink = [sys.executable, "-m", "orderhub", "connect", "alertmanager"]
    sink += ["--metrics-port", str(stack.ports.sink_metrics)]
    for part in stack.up(sink, say=lambda m: click.echo(f"monitoring: {m}", err=True)):
        click.echo(f"{part.name:<13} {part.url}")


@monitoring.command()
def down() -> None:
    """Stop what `monitoring up` started; no-op when nothing runs."""
    stopped = _stack().down()
    click.echo(", ".join(f"stopped {p.name} (pid {p.pid})" for p in stopped) or "nothing running")


@monitoring.command()
@format_option("table", "json: a list of {name, pid, url, log}.")
def status(output: str) -> None:
    """What runs; exit 0 when all three parts do, 1 otherwise."""
    from dataclasses import asdict

    parts = _stack().status()
    if output != "table":
        click.echo(dumps([asdict(p) for p in parts], output))
    else:
        for part in parts:
            click.echo(f"{part.name:<13} pid {part.pid:<8} {part.url}")
        if not parts:
            click.echo("not running")
    if len(parts) < 3:
        finish(EXIT_BAD)
