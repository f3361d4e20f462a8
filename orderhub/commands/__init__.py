"""The click groups of each area, collected for `orderhub`."""

from __future__ import annotations

import click

from orderhub.commands.alerts import ALERT_COMMANDS
from orderhub.commands.connect import connect
from orderhub.commands.kafka import kafka
from orderhub.commands.live import STREAM_COMMANDS
from orderhub.commands.monitoring import monitoring
from orderhub.commands.replay import REPLAY_COMMANDS
from orderhub.commands.report import REPORT_COMMANDS
from orderhub.commands.rules import RULE_COMMANDS

GROUPS: list[click.Command] = [
    kafka,
    *STREAM_COMMANDS,
    *ALERT_COMMANDS,
    *RULE_COMMANDS,
    *REPLAY_COMMANDS,
    *REPORT_COMMANDS,
    connect,
    monitoring,
]
