"""`orderhub`: the one command-line tool. Each area adds its own click group here.

`main` is the one place the process's exit status is set (commands end with
``output.finish``); the codes are in README "Exit codes".
"""

from __future__ import annotations

import sys

import click

from contract.errors import OrderHubError
from dsl.errors import DslError
from orderhub.output import EXIT_BAD, EXIT_OK, dumps, format_option

EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="orderhub", prog_name="orderhub", message="%(prog)s %(version)s")
def cli() -> None:
    """OrderHub: Kafka order events, live in-transit tables, analyst rules, alerts."""


@cli.command()
@format_option(
    "table",
    "table: each event type's fields; json: the JSON Schema document, for integrators; "
    "jsonl: {type, schema} per event type.",
)
def schema(output: str) -> None:
    """Print every event type and its fields (--format json: the JSON Schema)."""
    from contract.events import event_json_schema
    from orderhub import display

    document = event_json_schema()
    if output == "json":
        click.echo(dumps(document, output))
    elif output == "jsonl":
        types = display.schema_types(document)
        click.echo(dumps([{"type": t, "schema": d} for t, d in types.items()], output))
    else:
        click.echo(display.schema_text(document))


def _register() -> None:
    # Areas register lazily-importing groups so `orderhub --help` stays fast.
    from orderhub import commands

    for group in commands.GROUPS:
        cli.add_command(group)


def main() -> None:
    """The `orderhub` console script."""
    sys.exit(run())


def run(args: list[str] | None = None) -> int:
    """Run the command line on ``args`` (default: ``sys.argv[1:]``); its exit status."""
    _register()
    try:
        # standalone_mode=False returns a command's finish()/ctx.exit() code instead of
        # exiting, and lets the exceptions below reach this one policy.
        code = cli(args, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:  # usage errors: exit 2
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return EXIT_INTERRUPTED
    except (OrderHubError, DslError) as exc:  # each package's base: one line, exit 1
        click.echo(f"orderhub: {exc}", err=True)
        return EXIT_BAD
    return code if isinstance(code, int) else EXIT_OK
