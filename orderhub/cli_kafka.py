"""`orderhub kafka up | down | status`: the local single-node KRaft broker.

``deploy``'s errors are ``OrderHubError``s: `main()` prints them as one line.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click

from orderhub.settings import get_settings

# Like systemctl: `status` exits 3 when the service is not running.
EXIT_NOT_RUNNING = 3


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
@click.option("--json", "as_json", is_flag=True, help="print the status as a JSON object")
def status(as_json: bool) -> None:
    """Say whether the broker runs and where; exit 0 when it does, 3 when it does not."""
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
    if as_json:
        click.echo(json.dumps(report, indent=2))
    elif external:
        click.echo(f"using the Kafka cluster at {external} (KAFKA_BOOTSTRAP_SERVERS; not checked)")
    elif state is not None:
        click.echo(f"running at {state.bootstrap} (pid {state.pid}, since {state.started_at})")
    else:
        click.echo("not running")
    if not report["running"]:
        # main() runs click with standalone_mode=False, which turns ctx.exit(3) into a
        # return value it drops; SystemExit is the way out that keeps the code.
        sys.exit(EXIT_NOT_RUNNING)
