"""`orderhub`: the one command-line tool. Each area adds its own click group here."""

from __future__ import annotations

import json
import sys

import click

from dsl.errors import DslError
from orderhub.exceptions import OrderHubError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="orderhub")
def cli() -> None:
    """OrderHub: Kafka order events, live in-transit tables, analyst rules, alerts."""


@cli.command()
def schema() -> None:
    """Print the JSON Schema of every event type, for integrators."""
    from streams.models import event_json_schema

    click.echo(json.dumps(event_json_schema(), indent=2, ensure_ascii=False))


def _register() -> None:
    # Areas register lazily-importing groups so `orderhub --help` stays fast.
    from orderhub import commands

    for group in commands.GROUPS:
        cli.add_command(group)


def main() -> None:
    _register()
    try:
        # standalone_mode=False returns a command's ctx.exit() code instead of exiting.
        code = cli(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except (OrderHubError, DslError) as exc:  # each package's base: one line, exit 1
        click.echo(f"orderhub: {exc}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
