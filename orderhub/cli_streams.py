"""`orderhub worker | produce | tables | alerts | topics`: the Faust worker and its data."""

from __future__ import annotations

import click


@click.group()
def worker() -> None:
    """Start, stop and inspect the Faust worker."""


@click.group()
def tables() -> None:
    """Show the live tables (through the worker's web endpoint)."""


@click.group()
def alerts() -> None:
    """Read the alerts topic."""


STREAM_COMMANDS: list[click.Command] = [worker, tables, alerts]
