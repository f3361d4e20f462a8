"""Errors of the connectors; one base so the CLI prints them and exits 1."""

from __future__ import annotations

from contract.errors import OrderHubError


class ConnectorError(OrderHubError):
    """Base of every connector error."""


class PublishError(ConnectorError):
    """The broker did not acknowledge a record; the input must be kept for a retry.

    ``acked`` holds the indexes of the batch's records the broker did acknowledge, so a
    caller can say exactly what went out. ``permanent`` means the broker refused a record
    itself (e.g. over its size limit): retrying the same record cannot help.
    """

    def __init__(
        self, message: str, acked: frozenset[int] = frozenset(), permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.acked = acked
        self.permanent = permanent


class UnreadableFile(ConnectorError):
    """A whole file cannot be used (encoding, header, columns): no row of it can be trusted."""

    def __init__(self, file: str, reason: str, message: str) -> None:
        super().__init__(f"{file}: {reason}: {message}")
        self.file = file
        self.reason = reason
        self.message = message
