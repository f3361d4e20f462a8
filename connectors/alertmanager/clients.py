"""The sink's Kafka clients (kafka-python, with ``streams.clients`` security options).

``KafkaSource`` reads the alerts topic in the group ``<prefix>.alertmanager`` and commits
only when told; ``KafkaStateStore`` keeps the firing set on the compacted topic
``<prefix>.alertmanager.firing``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from connectors.alertmanager.firing import FiringSet, encode_entry, load
from connectors.alertmanager.mapping import Notice
from connectors.alertmanager.sink import SinkError
from contract.settings import Settings
from streams.clients.kafka_io import client_config

log = logging.getLogger(__name__)

KAFKA_TIMEOUT_MS = 10_000


def group_name(prefix: str) -> str:
    """The sink's consumer group: its committed offset is what every Alertmanager has."""
    return f"{prefix}.alertmanager"


def state_topic(prefix: str) -> str:
    return f"{prefix}.alertmanager.firing"


class KafkaSource:
    """The alerts topic's one partition (``contract.topics``), from the committed offset."""

    def __init__(self, settings: Settings, bootstrap: str, topic: str, group: str) -> None:
        self.consumer = KafkaConsumer(
            **client_config(settings, bootstrap),
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        partitions = self.consumer.partitions_for_topic(topic) or set()
        if partitions != {0}:
            self.consumer.close()
            raise SinkError(f"topic {topic} must have exactly one partition, it has {partitions}")
        self.tp = TopicPartition(topic, 0)
        # assign, not subscribe: the group holds the offset; no rebalance can move the
        # partition away in the middle of a push.
        self.consumer.assign([self.tp])
        committed = self.consumer.committed(self.tp, timeout_ms=KAFKA_TIMEOUT_MS)
        if committed is None:
            self.consumer.seek_to_beginning(self.tp)
        else:
            self.consumer.seek(self.tp, committed)
        log.info("alertmanager sink: reading %s from offset %s", topic, committed or 0)

    def poll(self, timeout: float) -> list[tuple[int, bytes]]:
        batch = self.consumer.poll(timeout_ms=int(timeout * 1000), max_records=1000)
        return [(r.offset, r.value) for r in batch.get(self.tp, [])]

    def commit(self, offset: int) -> None:
        try:
            self.consumer.commit(
                {self.tp: OffsetAndMetadata(offset, "", -1)}, timeout_ms=KAFKA_TIMEOUT_MS
            )
        except KafkaError as exc:
            raise SinkError(f"offset commit failed: {exc}") from exc

    def close(self) -> None:
        self.consumer.close()


class KafkaStateStore:
    """The firing set on a compacted topic: key fingerprint, value entry or tombstone."""

    def __init__(self, settings: Settings, bootstrap: str, topic: str) -> None:
        self.settings, self.bootstrap, self.topic = settings, bootstrap, topic
        self._create_topic()
        self.producer = KafkaProducer(**client_config(settings, bootstrap), acks="all")

    def _create_topic(self) -> None:
        admin = KafkaAdminClient(**client_config(self.settings, self.bootstrap))
        spec = {
            "num_partitions": 1,
            "replication_factor": self.settings.replication_factor,
            "configs": {"cleanup.policy": "compact"},
        }
        try:
            admin.create_topics({self.topic: spec}, wait_for_metadata=True)
        except TopicAlreadyExistsError:
            pass  # a restart
        finally:
            admin.close()

    def load(self) -> FiringSet:
        return load(self._records())

    def _records(self) -> Iterator[tuple[bytes, bytes | None]]:
        consumer = KafkaConsumer(
            **client_config(self.settings, self.bootstrap), enable_auto_commit=False
        )
        try:
            tp = TopicPartition(self.topic, 0)
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            end = consumer.end_offsets([tp], timeout_ms=KAFKA_TIMEOUT_MS)[tp]
            while consumer.position(tp) < end:
                for record in consumer.poll(timeout_ms=1000).get(tp, []):
                    yield record.key, record.value
        finally:
            consumer.close()

    def save(self, changes: Mapping[str, Notice | None]) -> None:
        futures: list[Any] = [
            self.producer.send(self.topic, key=fp.encode(), value=encode_entry(notice))
            for fp, notice in changes.items()
        ]
        try:
            self.producer.flush(timeout=KAFKA_TIMEOUT_MS / 1000)
        except KafkaError as exc:
            raise SinkError(f"state topic {self.topic} did not take the changes: {exc}") from exc
        failed = [f.exception for f in futures if not f.is_done or f.exception is not None]
        if failed:
            raise SinkError(f"state topic {self.topic} did not take the changes: {failed[0]}")

    def close(self) -> None:
        self.producer.close()
