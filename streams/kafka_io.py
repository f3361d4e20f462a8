"""kafka-python clients for the command line: create topics, produce files, read topics.

The worker itself talks to Kafka through Faust (aiokafka); these are the synchronous
clients of ``orderhub topics | produce | alerts | dlq`` and of the tests.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, TopicAlreadyExistsError

from orderhub.settings import Settings
from streams.exceptions import StreamsError
from streams.kafka_security import check_login, client_options
from streams.models import EVENT_FAMILY
from streams.topics import FAMILIES, Topics, routing_key


def client_config(settings: Settings, bootstrap: str) -> dict[str, Any]:
    """Connection options of a client about to connect (``streams.kafka_security``).

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
    try:
        data = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Routed(fallback, None, line)
    if not isinstance(data, dict):
        return Routed(fallback, None, line)
    type_name = data.get("type")
    family = EVENT_FAMILY.get(type_name) if isinstance(type_name, str) else None
    key = routing_key(data, family)
    topic = topics.family(family) if family is not None else fallback
    return Routed(topic, key.encode("utf-8") if key else None, line)


def resolve_topic(topics: Topics, name: str) -> str:
    """A family name ("orders") or a full topic name, as a full topic name."""
    return topics.family(name) if name in FAMILIES else name


def produce_lines(
    settings: Settings, bootstrap: str, lines: Iterable[bytes], topic: str | None
) -> Counter[str]:
    """Send every non-empty line; ``topic`` forces one topic. Returns records per topic."""
    topics = Topics(settings.topic_prefix)
    fallback = resolve_topic(topics, topic) if topic else topics.family("orders")
    sent: Counter[str] = Counter()
    with _kafka_errors(f"cannot produce to {bootstrap}"):
        producer = KafkaProducer(**client_config(settings, bootstrap), acks="all", linger_ms=5)
        try:
            for line in lines:
                line = line.rstrip(b"\r\n")  # only the line end: the bytes are sent as they are
                if not line.strip():
                    continue
                routed = route_line(line, topics, fallback)
                target = fallback if topic else routed.topic
                producer.send(target, key=routed.key, value=routed.value)
                sent[target] += 1
            producer.flush()
        finally:
            producer.close()
    return sent


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


def read_topic(
    settings: Settings, bootstrap: str, topic: str, seconds: float, from_beginning: bool
) -> Iterator[Any]:
    """Records of ``topic`` for ``seconds``: from its start or only the new ones."""
    with _consumer(settings, bootstrap, f"cannot read {topic}") as consumer:
        tps = _partitions(consumer, topic)
        consumer.assign(tps)
        if from_beginning:
            consumer.seek_to_beginning(*tps)
        else:
            consumer.seek_to_end(*tps)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            batch = consumer.poll(timeout_ms=int(min(left, 1.0) * 1000))
            for records in batch.values():
                yield from records


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
