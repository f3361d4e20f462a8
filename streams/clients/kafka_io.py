"""kafka-python clients for the command line: create topics, produce files, read topics.

The worker itself talks to Kafka through Faust (aiokafka); these are the synchronous
clients of ``orderhub topics | produce | alerts | dlq`` and of the tests.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import (
    CorruptRecordError,
    InvalidRecordError,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAlreadyExistsError,
    UnsupportedForMessageFormatError,
)

from contract.events import EVENT_FAMILY
from contract.settings import Settings
from contract.topics import FAMILIES, Topics, routing_key
from streams.clients.kafka_security import check_login, client_options
from streams.core.ingest import DeadLetter, decode, read_json
from streams.exceptions import StreamsError

# Send errors that name the record itself: sending it again cannot help.
REFUSED_FOR_GOOD: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    CorruptRecordError,
    InvalidRecordError,
    InvalidTopicError,
    UnsupportedForMessageFormatError,
)


def client_config(settings: Settings, bootstrap: str) -> dict[str, Any]:
    """Connection options of a client about to connect (``streams.clients.kafka_security``).

    The login is checked first, once per process: a refused one raises a one-line
    "authentication failed: …" ``StreamsError`` in seconds, where kafka-python would retry
    it for 30 s and then say only "Unable to bootstrap"."""
    check_login(settings, bootstrap)
    return client_options(settings, bootstrap)


@contextlib.contextmanager
def _kafka_errors(action: str) -> Iterator[None]:
    """A ``KafkaError`` as a one-line ``StreamsError`` the CLI prints without a traceback.

    The clients' constructors are inside too: they raise when no broker answers.
    """
    try:
        yield
    except KafkaError as exc:
        raise StreamsError(f"{action}: {exc}") from exc


def check_broker(settings: Settings, bootstrap: str, timeout: float) -> None:
    """Raise a one-line ``StreamsError`` unless the broker answers within ``timeout`` s.

    kafka-python would wait 30 s by default (``bootstrap_timeout_ms``); a worker that
    cannot reach Kafka should say so at once."""
    ms = int(timeout * 1000)
    try:
        admin = KafkaAdminClient(
            **client_config(settings, bootstrap), bootstrap_timeout_ms=ms, request_timeout_ms=ms
        )
    except KafkaError as exc:
        raise StreamsError(
            f"Kafka broker at {bootstrap} does not answer within {timeout:g} s "
            f"(KAFKA_BOOTSTRAP_SERVERS): {exc}"
        ) from exc
    admin.close()


def create_topics(settings: Settings, bootstrap: str) -> list[str]:
    """Create every OrderHub topic that does not exist yet; return the names created."""
    created = []
    with _kafka_errors(f"cannot create topics on {bootstrap}"):
        admin = KafkaAdminClient(**client_config(settings, bootstrap))
        try:
            for spec in Topics(settings.topic_prefix).specs(settings.topic_partitions):
                options = {
                    "num_partitions": spec.partitions,
                    "replication_factor": settings.replication_factor,
                    "configs": dict(spec.config),
                }
                try:
                    admin.create_topics({spec.name: options}, wait_for_metadata=True)
                except TopicAlreadyExistsError:
                    continue  # idempotent: a second start or a second worker
                created.append(spec.name)
        finally:
            admin.close()
    return created


# --- producing files ---------------------------------------------------------------------


@dataclass(frozen=True)
class Routed:
    topic: str
    key: bytes | None
    value: bytes


def route_line(line: bytes, topics: Topics, fallback: str) -> Routed:
    """Where one JSON line goes: its type's family topic, keyed by its business key.

    The producer never validates data away: a line that is not JSON, not an object or has
    no known type is sent as it is to ``fallback``, and the worker dead-letters it.
    """
    data = read_json(line)
    if not isinstance(data, dict):
        return Routed(fallback, None, line)
    type_name = data.get("type")
    family = EVENT_FAMILY.get(type_name) if isinstance(type_name, str) else None
    key = routing_key(data, family)
    topic = topics.family(family) if family is not None else fallback
    # surrogatepass: a key with a lone surrogate ("\ud800") must not crash the sender.
    return Routed(topic, key.encode("utf-8", "surrogatepass") if key else None, line)


def resolve_topic(topics: Topics, name: str) -> str:
    """A family name ("orders") or a full topic name, as a full topic name."""
    return topics.family(name) if name in FAMILIES else name


@dataclass(frozen=True)
class LineRejected:
    """A line ``orderhub produce`` did not send (it went to the dead-letter topic)."""

    line: int
    reason: str
    error: str


@dataclass
class ProduceReport:
    """What ``produce_checked`` did: records sent per topic, lines rejected."""

    sent: Counter[str]
    rejected: list[LineRejected]


def check_line(
    line: bytes, number: int, origin: str, topics: Topics, topic: str | None
) -> Routed | DeadLetter:
    """A line's record, or its dead letter: the worker's own checks (``ingest.decode``),
    so a line is refused here for exactly what the worker would dead-letter it for."""
    where = resolve_topic(topics, topic) if topic else None
    result = decode(line, where or origin, 0, number)
    if isinstance(result, DeadLetter):
        return result.model_copy(update={"topic": origin})  # where the line came from
    routed = route_line(line, topics, topics.dead_letter)
    return Routed(where or routed.topic, routed.key, routed.value)


def produce_checked(
    settings: Settings,
    bootstrap: str,
    lines: Iterable[bytes],
    topic: str | None,
    origin: str,
) -> ProduceReport:
    """Check every non-empty line; send the good ones, dead-letter the bad ones (with
    ``origin``, e.g. ``file:events.jsonl``, and the line number), never stop at one.

    A line the broker refuses for good (over its size limit) is a rejection too; a broker
    that does not answer is a ``StreamsError`` after everything that could go went.
    """
    topics = Topics(settings.topic_prefix)
    report = ProduceReport(Counter(), [])
    pending: list[tuple[int, str, Any]] = []
    with _kafka_errors(f"cannot produce to {bootstrap}"):
        producer = KafkaProducer(**client_config(settings, bootstrap), acks="all", linger_ms=5)
        try:
            for number, line in enumerate(lines, start=1):
                line = line.rstrip(b"\r\n")
                if not line.strip():
                    continue
                checked = check_line(line, number, origin, topics, topic)
                if isinstance(checked, DeadLetter):
                    report.rejected.append(LineRejected(number, checked.reason, checked.error))
                    checked = Routed(topics.dead_letter, origin.encode(), letter_bytes(checked))
                    target = "dead letter"
                else:
                    target = checked.topic
                future = producer.send(checked.topic, key=checked.key, value=checked.value)
                pending.append((number, target, future))
            producer.flush()
        finally:
            producer.close()
    _collect(pending, report)
    return report


def letter_bytes(letter: DeadLetter) -> bytes:
    return letter.model_dump_json().encode("utf-8")


def _collect(pending: list[tuple[int, str, Any]], report: ProduceReport) -> None:
    """Count what the broker took; a record it refused for good is a rejected line."""
    failed: list[str] = []
    for number, target, future in pending:
        exc = future.exception if future.is_done else None
        if exc is None and future.is_done:
            if target != "dead letter":
                report.sent[target] += 1
        elif isinstance(exc, REFUSED_FOR_GOOD):
            report.rejected.append(LineRejected(number, "refused_by_kafka", str(exc)))
        else:
            failed.append(f"line {number}: {exc or 'not acknowledged'}")
    if failed:
        sent = sum(report.sent.values())
        raise StreamsError(
            f"Kafka did not take {len(failed)} line(s) ({failed[0]}); "
            f"{sent} record(s) were sent, {len(report.rejected)} line(s) rejected"
        )


# --- reading topics ----------------------------------------------------------------------


def _partitions(consumer: Any, topic: str) -> list[Any]:
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        raise StreamsError(f"topic {topic} does not exist (is the worker started?)")
    return [TopicPartition(topic, p) for p in sorted(parts)]


@contextlib.contextmanager
def _consumer(settings: Settings, bootstrap: str, action: str, **options: Any) -> Iterator[Any]:
    """A consumer that commits nothing by itself, closed after use; errors as ``StreamsError``."""
    with _kafka_errors(f"{action} on {bootstrap}"):
        consumer = KafkaConsumer(
            **client_config(settings, bootstrap), enable_auto_commit=False, **options
        )
        try:
            yield consumer
        finally:
            consumer.close()


def read_batches(
    settings: Settings, bootstrap: str, topic: str, seconds: float
) -> Iterator[list[Any]]:
    """Every record on ``topic`` now, as one batch (from its first record to its end when
    this starts); then the new ones for ``seconds`` (``math.inf``: until Ctrl-C), one batch
    a poll. A reader that sorts a batch shows the backlog in order, then each new batch."""
    with _consumer(settings, bootstrap, f"cannot read {topic}") as consumer:
        tps = _partitions(consumer, topic)
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        backlog: list[Any] = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=1000).values():
                backlog.extend(records)
        yield backlog
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            batch = consumer.poll(timeout_ms=int(min(left, 1.0) * 1000))
            news = [record for records in batch.values() for record in records]
            if news:
                yield news


def end_offsets(settings: Settings, bootstrap: str, topics: Iterable[str]) -> dict[str, int]:
    """End offset per "topic[partition]"."""
    with _consumer(settings, bootstrap, "cannot read end offsets") as consumer:
        tps = [tp for topic in topics for tp in _partitions(consumer, topic)]
        ends = consumer.end_offsets(tps)
        return {f"{tp.topic}[{tp.partition}]": int(offset) for tp, offset in ends.items()}


def committed_offsets(
    settings: Settings, bootstrap: str, group: str, topics: Iterable[str]
) -> dict[str, int]:
    """The group's committed offset per "topic[partition]" (absent when none)."""
    with _consumer(
        settings, bootstrap, "cannot read committed offsets", group_id=group
    ) as consumer:
        found = {}
        for topic in topics:
            for tp in _partitions(consumer, topic):
                offset = consumer.committed(tp)
                if offset is not None:
                    found[f"{tp.topic}[{tp.partition}]"] = int(offset)
        return found
