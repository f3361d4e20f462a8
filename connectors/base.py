"""What every connector shares: the ``Sink`` it publishes through and its dead letters.

A connector decides *where* each record goes (a ``Routed``: topic, key, value) with pure
code; a ``Sink`` only delivers. ``KafkaSink`` is the real one, ``MemorySink`` the one of
dry runs and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, Protocol

from connectors.exceptions import PublishError
from contract.events import EVENT_FAMILY, Event
from contract.settings import Settings
from contract.topics import Topics, routing_key
from streams.clients.kafka_io import REFUSED_FOR_GOOD, Routed, client_config
from streams.core.ingest import DeadLetter, dead_letter, encode

__all__ = [
    "KafkaSink",
    "MemorySink",
    "Routed",
    "Sink",
    "letter_record",
    "letter_routed",
    "route_event",
]

# Seconds to wait for the broker's acknowledgement of one batch before giving up on it.
ACK_TIMEOUT = 30.0


class Sink(Protocol):
    """Where a connector's records go."""

    def publish(self, records: Sequence[Routed]) -> None:
        """Deliver every record, or raise ``PublishError``; blocks until acknowledged."""


class MemorySink:
    """Keeps what it is given, in order: dry runs and tests."""

    def __init__(self) -> None:
        self.records: list[Routed] = []

    def publish(self, records: Sequence[Routed]) -> None:
        self.records.extend(records)


class KafkaSink:
    """kafka-python producer with ``acks=all``: ``publish`` returns once the broker has it all.

    A connector only moves its input on (file to processed/, HTTP 202) after ``publish``
    returned, so a broker outage keeps the input instead of losing it.
    """

    def __init__(self, settings: Settings, bootstrap: str) -> None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        try:
            self._producer: Any = KafkaProducer(
                **client_config(settings, bootstrap), acks="all", linger_ms=5
            )
        except KafkaError as exc:
            raise PublishError(f"cannot connect to Kafka at {bootstrap}: {exc}") from exc

    def publish(self, records: Sequence[Routed]) -> None:
        from kafka.errors import KafkaError

        try:
            futures = [self._producer.send(r.topic, key=r.key, value=r.value) for r in records]
        except KafkaError as exc:  # before any send: nothing went out
            raise PublishError(f"Kafka did not take {len(records)} record(s): {exc}") from exc
        acked: set[int] = set()
        errors: dict[int, Exception] = {}
        for index, future in enumerate(futures):
            try:
                future.get(timeout=ACK_TIMEOUT)
                acked.add(index)
            except KafkaError as exc:
                errors[index] = exc
        if errors:
            first = next(iter(errors.values()))
            raise PublishError(
                f"Kafka did not take {len(errors)} of {len(records)} record(s): {first}",
                frozenset(acked),
                permanent=all(isinstance(e, REFUSED_FOR_GOOD) for e in errors.values()),
            ) from first

    def close(self) -> None:
        self._producer.close()

    def __enter__(self) -> KafkaSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def route_event(event: Event, topics: Topics) -> Routed:
    """A valid event's record: its family's input topic, keyed like ``orderhub produce`` keys."""
    family = EVENT_FAMILY[event.type]
    key = routing_key(event.model_dump(mode="json"), family)
    return Routed(topics.family(family), key.encode("utf-8") if key else None, encode(event))


def letter_routed(letter: DeadLetter, topics: Topics) -> Routed:
    """A dead letter's record, keyed by where its input came from (``letter.topic``)."""
    key = letter.topic.encode("utf-8")
    return Routed(topics.dead_letter, key, letter.model_dump_json().encode())


def letter_record(
    topics: Topics, reason: str, error: str, raw: bytes, origin: str, position: int
) -> Routed:
    """The dead-letter record of one rejected input, keyed by where it came from."""
    return letter_routed(dead_letter(reason, error, raw, origin, 0, position), topics)
