"""Pure ingest: one raw Kafka record in, a typed event or a dead letter out.

Nothing is ever dropped: a record that cannot become an event becomes a ``DeadLetter``
that carries the reason, the error text, where the record came from, its size, its
SHA-256 and its original bytes, so an operator can fix and replay it.

A dead letter always fits on the dead-letter topic (Kafka's default limit is 1 MiB): a
record over ``MAX_RECORD_BYTES`` is not read at all (``too_large``) and its letter holds
the first ``PREFIX_BYTES`` of it, with its size and hash to tell it apart.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contract.events import EVENT_FAMILY, Event, UnknownEventType, parse_event
from contract.topics import topic_family

Reason = Literal[
    "too_large",  # over MAX_RECORD_BYTES: not read, only its prefix is kept
    "not_utf8",  # bytes that are not UTF-8, or text with a lone surrogate (\ud800)
    "not_json",  # UTF-8, but not JSON
    "not_object",  # JSON, but not an object
    "missing_type",  # an object without a "type"
    "unknown_type",  # a "type" that names no event
    "missing_field",  # a required field is absent
    "unknown_field",  # a field the event type does not have
    "time_without_offset",  # a naive time or epoch seconds: the UTC offset must be explicit
    "invalid_time",  # a time or date that is no time or date
    "invalid_value",  # any other value the event schema refuses (a negative quantity …)
    "wrong_topic",  # an event of another family than its input topic's
    "rule_error",  # not an ingest reason: the rule hook failed on a valid event
]
# Connectors add their own codes (``bad_date``, ``unreadable_file`` …, see docs/connectors.md),
# so a dead letter's reason is any short code; the worker's own are ``Reason``.
ReasonCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z_0-9]+$")]

# An event is a flat object of short fields (a few hundred bytes); a record this large is
# a mistake, and its dead letter (base64, 4/3 of it) still fits Kafka's default 1 MiB.
MAX_RECORD_BYTES = 256 * 1024
# What a too-large record's dead letter keeps of it: enough to recognise it.
PREFIX_BYTES = 4 * 1024
# An error text longer than this is cut (an unknown type of 200 KB would be quoted whole).
MAX_ERROR_CHARS = 2000

_TIME_ERRORS = ("datetime_", "date_", "time_", "timezone_")


class DeadLetter(BaseModel):
    """A record OrderHub could not use, as published on the dead-letter topic.

    The worker's ingest fills ``topic``/``partition``/``offset`` with the Kafka position; a
    connector with where the input came from (``file:<name>``, partition 0, the CSV row).
    ``size`` and ``sha256`` are of the whole record; ``value_base64`` holds all of it, or
    only its first bytes when ``truncated``.

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
    size: int = 0
    sha256: str = ""
    truncated: bool = False

    @property
    def value(self) -> bytes:
        """The original record value, byte for byte (its prefix when ``truncated``)."""
        return base64.b64decode(self.value_base64)


def dead_letter(
    reason: str,
    error: str,
    raw: bytes,
    topic: str,
    partition: int,
    offset: int,
    keep: int = MAX_RECORD_BYTES,
) -> DeadLetter:
    """A dead letter of ``raw``: whole when at most ``keep`` bytes, else its first
    ``PREFIX_BYTES`` (``truncated``). ``reason`` is a ``Reason`` or a connector's code."""
    kept = raw if len(raw) <= keep else raw[:PREFIX_BYTES]
    if len(error) > MAX_ERROR_CHARS:
        error = f"{error[:MAX_ERROR_CHARS]}… ({len(error)} characters)"
    return DeadLetter(
        reason=reason,
        error=_printable(error),
        topic=_printable(topic),
        partition=partition,
        offset=offset,
        value_base64=base64.b64encode(kept).decode("ascii"),
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        truncated=len(kept) < len(raw),
    )


def _printable(text: str) -> str:
    """``text`` with any lone surrogate written out (``\\ud800``): JSON must be UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def too_large(raw: bytes, topic: str, partition: int, offset: int) -> DeadLetter:
    """The dead letter of a record over ``MAX_RECORD_BYTES``: its prefix, size and hash."""
    return dead_letter(
        "too_large",
        f"record of {len(raw)} bytes; at most {MAX_RECORD_BYTES} are read "
        f"(its first {PREFIX_BYTES} bytes are kept here, with its size and sha256)",
        raw,
        topic,
        partition,
        offset,
    )


def shrunk(letter: DeadLetter, limit: int) -> DeadLetter:
    """``letter`` cut to fit in ``limit`` bytes of JSON: its prefix, size and hash stay."""
    if len(letter.model_dump_json()) <= limit:
        return letter
    raw = letter.value
    return letter.model_copy(
        update={
            "error": letter.error[:200],
            "topic": letter.topic[:200],
            "value_base64": base64.b64encode(raw[:PREFIX_BYTES]).decode("ascii"),
            "size": letter.size or len(raw),
            "sha256": letter.sha256 or hashlib.sha256(raw).hexdigest(),
            "truncated": letter.truncated or len(raw) > PREFIX_BYTES,
        }
    )


def validation_text(exc: ValidationError) -> str:
    """One line per problem, 'field: message', instead of pydantic's multi-line report."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def validation_reason(exc: ValidationError) -> Reason:
    """The reason code of a validation failure: that of its first problem."""
    kind = exc.errors()[0]["type"]
    if kind == "missing":
        return "missing_field"
    if kind == "extra_forbidden":
        return "unknown_field"
    if kind in ("timezone_aware", "time_without_offset"):
        return "time_without_offset"
    if kind.startswith(_TIME_ERRORS):
        return "invalid_time"
    if kind == "string_unicode":  # a lone surrogate ("\ud800"): no UTF-8 text
        return "not_utf8"
    return "invalid_value"


@dataclass(frozen=True)
class Unreadable:
    """Bytes that hold no JSON value, and why."""

    reason: Reason
    error: str


def read_json(raw: bytes) -> Any:
    """The record's JSON value, or ``Unreadable`` when it has none."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Unreadable("not_utf8", f"not UTF-8: byte {exc.start} is 0x{raw[exc.start]:02x}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        return Unreadable("not_json", f"not valid JSON: {exc}")
    except (ValueError, RecursionError) as exc:
        # json reads it but cannot hold it: a number over 4300 digits, nesting too deep.
        return Unreadable("invalid_value", f"JSON too big to hold: {exc or type(exc).__name__}")


def decode(raw: bytes, topic: str, partition: int, offset: int) -> Event | DeadLetter:
    """Turn a record's value into its typed event, or into a dead letter saying why not.

    An input topic (``<prefix>.orders``, ...) only accepts events of its family; any other
    family is a ``wrong_topic`` dead letter. Other topics (the canonical events topic)
    accept every family.
    """
    if len(raw) > MAX_RECORD_BYTES:
        return too_large(raw, topic, partition, offset)

    def dead(reason: Reason, error: str) -> DeadLetter:
        return dead_letter(reason, error, raw, topic, partition, offset)

    data = read_json(raw)
    if isinstance(data, Unreadable):
        return dead(data.reason, data.error)
    if not isinstance(data, dict):
        return dead("not_object", f"expected a JSON object, got {type(data).__name__}")
    if "type" not in data:
        return dead("missing_type", 'no "type" field: which event is it?')
    try:
        event = parse_event(data)
    except UnknownEventType as exc:
        return dead("unknown_type", str(exc))
    except ValidationError as exc:
        return dead(validation_reason(exc), validation_text(exc))
    event_family = EVENT_FAMILY[event.type]
    family = topic_family(topic)
    if family is not None and event_family != family:
        return dead(
            "wrong_topic",
            f"{event.type} is an event of the {event_family} family; {topic} carries {family}",
        )
    return event


def encode(event: Event) -> bytes:
    """The canonical JSON of an event, as forwarded to the events topic."""
    return event.model_dump_json().encode("utf-8")
