"""`orderhub kafka up | down | status`: the local single-node KRaft broker.

``deploy``'s errors are ``OrderHubError``s: `main()` prints them as one line.
"""

from __future__ import annotations

from dataclasses import asdict

import click

from contract.settings import get_settings
from orderhub.output import EXIT_BAD, dumps, finish, format_option

# The thing `status` checks is not there: exit 1 as every command's "not healthy" (it was
# 3, systemctl's code, before the command line had one convention).
EXIT_NOT_RUNNING = EXIT_BAD


def _say(message: str) -> None:
    click.echo(f"kafka: {message}", err=True)


@click.group()
def kafka() -> None:
    """Run a local Apache Kafka broker (or use KAFKA_BOOTSTRAP_SERVERS)."""


@kafka.command()
@click.option(
    "--timeout", type=click.FloatRange(min=1), default=90.0, show_default=True,
    help="seconds to wait for the broker to serve requests",
)  # fmt: skip
def up(timeout: float) -> None:
    """Start the local broker and wait until it serves requests (no-op if it runs)."""
    from deploy.kafka import LocalKafka, default_state_dir

    settings = get_settings()
    if settings.kafka_bootstrap_servers:
        click.echo(
            f"using the Kafka cluster at {settings.kafka_bootstrap_servers} "
            "(KAFKA_BOOTSTRAP_SERVERS); no local broker started"
        )
        return
    local = LocalKafka(default_state_dir(settings), ready_timeout=timeout)
    result = local.up(progress=_say)
    state = result.state
    if result.started:
        click.echo(
            f"Kafka {state.kafka_version} ready at {state.bootstrap} "
            f"after {result.ready_seconds:.1f} s (pid {state.pid}, log {local.log_file})"
        )
    else:
        click.echo(f"Kafka already running at {state.bootstrap} (pid {state.pid})")


@kafka.command()
def down() -> None:
    """Stop the local broker (its data stays for the next `up`); no-op if it is not running."""
    from deploy.kafka import LocalKafka, default_state_dir

    settings = get_settings()
    stopped = LocalKafka(default_state_dir(settings)).down()
    if stopped is None:
        click.echo("no local Kafka broker running")
    else:
        click.echo(f"stopped Kafka at {stopped.bootstrap} (pid {stopped.pid})")
    if settings.kafka_bootstrap_servers:
        click.echo(f"the cluster at {settings.kafka_bootstrap_servers} is not managed here")


@kafka.command()
@format_option("table", "json: {running, bootstrap, external, local, state_dir, log_file}.")
def status(output: str) -> None:
    """Say whether the broker runs and where; exit 0 when it does, 1 when it does not."""
    from deploy.kafka import LocalKafka, default_state_dir

    settings = get_settings()
    local = LocalKafka(default_state_dir(settings))
    state = local.status()
    external = settings.kafka_bootstrap_servers
    report: dict[str, object] = {
        "running": bool(external) or state is not None,
        "bootstrap": external or (state.bootstrap if state else None),
        "external": bool(external),
        "local": asdict(state) if state else None,
        "state_dir": str(local.state_dir),
        "log_file": str(local.log_file),
    }
    if output != "table":
        click.echo(dumps(report, output))
    elif external:
        click.echo(f"using the Kafka cluster at {external} (KAFKA_BOOTSTRAP_SERVERS; not checked)")
    elif state is not None:
        click.echo(f"running at {state.bootstrap} (pid {state.pid}, since {state.started_at})")
    else:
        click.echo("not running")
    if not report["running"]:
        finish(EXIT_NOT_RUNNING)
