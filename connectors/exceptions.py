"""Errors of the connectors; one base so the CLI prints them and exits 1."""

from __future__ import annotations

from orderhub.exceptions import OrderHubError


class ConnectorError(OrderHubError):
    """Base of every connector error."""


class PublishError(ConnectorError):
    """The broker did not acknowledge a record; the input must be kept for a retry."""


class UnreadableFile(ConnectorError):
    """A whole file cannot be used (encoding, header, columns): no row of it can be trusted."""

    def __init__(self, file: str, reason: str, message: str) -> None:
        super().__init__(f"{file}: {reason}: {message}")
        self.file = file
        self.reason = reason
        self.message = message
