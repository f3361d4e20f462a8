"""`orderhub rules check | test | fmt` and `orderhub replay`: tools for rule authors."""

from __future__ import annotations

import click


@click.group()
def rules() -> None:
    """Check, test and format rule files."""


RULE_COMMANDS: list[click.Command] = [rules]
