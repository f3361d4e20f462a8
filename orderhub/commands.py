"""The click groups of each area, collected for `orderhub`."""

from __future__ import annotations

import click

from orderhub.cli_connect import connect
from orderhub.cli_kafka import kafka
from orderhub.cli_replay import REPLAY_COMMANDS
from orderhub.cli_rules import RULE_COMMANDS
from orderhub.cli_streams import STREAM_COMMANDS

GROUPS: list[click.Command] = [kafka, *STREAM_COMMANDS, *RULE_COMMANDS, *REPLAY_COMMANDS, connect]
