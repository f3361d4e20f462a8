"""Errors of the stream-processing shell (worker control, Kafka clients)."""

from __future__ import annotations

from contract.errors import OrderHubError


class StreamsError(OrderHubError):
    """Base of ``streams``' errors; the CLI prints the message and exits 1."""


class WorkerNotReady(StreamsError):
    """The worker did not answer, or did not catch up, in time."""
