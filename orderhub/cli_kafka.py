"""`orderhub kafka up | down | status`: the local single-node KRaft broker."""

from __future__ import annotations

import click


@click.group()
def kafka() -> None:
    """Run a local Apache Kafka broker (or use KAFKA_BOOTSTRAP_SERVERS)."""
