"""Pure ingest: one raw Kafka record in, a typed event or a dead letter out.

Nothing is ever dropped: a record that cannot become an event becomes a ``DeadLetter``
that carries the reason, the error text, where the record came from and its original
bytes, so an operator can fix and replay it.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streams.models import EVENT_FAMILY, Event, UnknownEventType, parse_event
from streams.topics import topic_family

Reason = Literal["not_json", "not_object", "unknown_type", "invalid", "wrong_topic", "rule_error"]
# Connectors add their own codes (``bad_date``, ``unreadable_file`` …, see docs/connectors.md),
# so a dead letter's reason is any short code; the worker's own are ``Reason``.
ReasonCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z_]+$")]


class DeadLetter(BaseModel):
    """A record OrderHub could not use, as published on the dead-letter topic.

    The worker's ingest fills ``topic``/``partition``/``offset`` with the Kafka position; a
    connector with where the input came from (``file:<name>``, partition 0, the CSV row).

    ``rule_error`` is not an ingest reason: the state agent uses it when the rule hook
    fails on a valid event, so that failure is as visible as a bad record.
    """

    model_config = ConfigDict(frozen=True)

    reason: ReasonCode
    error: str
    topic: str
    partition: int
    offset: int
    value_base64: str

    @property
    def value(self) -> bytes:
        """The original record value, byte for byte."""
        return base64.b64decode(self.value_base64)


def dead_letter(
    reason: str, error: str, raw: bytes, topic: str, partition: int, offset: int
) -> DeadLetter:
    """A dead letter holding ``raw`` byte for byte; ``reason`` is a ``Reason`` of the worker's
    or a connector's own code (see ``ReasonCode``)."""
    return DeadLetter(
        reason=reason,
        error=error,
        topic=topic,
        partition=partition,
        offset=offset,
        value_base64=base64.b64encode(raw).decode("ascii"),
    )


def validation_text(exc: ValidationError) -> str:
    """One line per problem, 'field: message', instead of pydantic's multi-line report."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def decode(raw: bytes, topic: str, partition: int, offset: int) -> Event | DeadLetter:
    """Turn a record's value into its typed event, or into a dead letter saying why not.

    An input topic (``<prefix>.orders``, ...) only accepts events of its family; any other
    family is a ``wrong_topic`` dead letter. Other topics (the canonical events topic)
    accept every family.
    """
    family = topic_family(topic)

    def dead(reason: Reason, error: str) -> DeadLetter:
        return dead_letter(reason, error, raw, topic, partition, offset)

    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return dead("not_json", f"not valid JSON: {exc}")
    if not isinstance(data, dict):
        return dead("not_object", f"expected a JSON object, got {type(data).__name__}")
    try:
        event = parse_event(data)
    except UnknownEventType as exc:
        return dead("unknown_type", str(exc))
    except ValidationError as exc:
        return dead("invalid", validation_text(exc))
    event_family = EVENT_FAMILY[event.type]
    if family is not None and event_family != family:
        return dead(
            "wrong_topic",
            f"{event.type} is an event of the {event_family} family; {topic} carries {family}",
        )
    return event


def encode(event: Event) -> bytes:
    """The canonical JSON of an event, as forwarded to the events topic."""
    return event.model_dump_json().encode("utf-8")
