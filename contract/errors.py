"""Errors of the command-line shell."""


class OrderHubError(Exception):
    """Base of the shell's errors; the CLI prints the message and exits 1."""
