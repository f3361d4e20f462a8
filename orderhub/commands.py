"""The click groups of each area, collected for `orderhub`."""

from __future__ import annotations

import click

GROUPS: list[click.Command] = []
