"""The worker's ``RuleSetStore``: the compacted topic ``<prefix>.rulesets``.

One record per rule or calendar file, keyed by its store name (``caps.rule``,
``calendars/cn-mainland-2026.yaml``), the value its last good text; compaction keeps the
latest record of each key, so the topic holds one text per file however often rules are
edited. Kept with the worker's other state on the broker: a worker started on another
machine, or with a broken file, finds each file's last good version there.

kafka-python, synchronous: the store is read once when the hook is built (before Faust
starts) and written only when a changed file loads, seldom and small.
"""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from contract.settings import Settings
from contract.topics import Topics
from streams.clients.kafka_io import client_config
from streams.core.ruleset import RuleStoreError


class KafkaRuleStore:
    """Last good texts on a one-partition compacted topic (``RuleSetStore``)."""

    # A save blocks the worker's event loop (it runs in a tick): wait seconds, not minutes.
    def __init__(self, config: dict[str, Any], topic: str, timeout: float = 10.0) -> None:
        self.config = config
        self.topic = topic
        self.timeout = timeout
        self._producer: Any = None  # made at the first save

    @classmethod
    def of(cls, settings: Settings, bootstrap: str) -> KafkaRuleStore:
        """The store of the deployment ``settings`` names (``Topics.rulesets``)."""
        return cls(client_config(settings, bootstrap), Topics(settings.topic_prefix).rulesets)

    def load(self) -> dict[str, str]:
        """Store name -> last good text: the topic read from its start to its end."""
        try:
            return self._read_all()
        except KafkaError as exc:
            raise RuleStoreError(f"cannot read {self.topic}: {exc}") from exc

    def save(self, name: str, text: str) -> None:
        """Send ``text`` under ``name`` and wait for the broker to acknowledge it."""
        try:
            if self._producer is None:
                self._producer = KafkaProducer(**self.config, acks="all")
            sent = self._producer.send(
                self.topic, key=name.encode("utf-8"), value=text.encode("utf-8")
            )
            sent.get(timeout=self.timeout)
        except KafkaError as exc:
            raise RuleStoreError(f"cannot write {name} to {self.topic}: {exc}") from exc

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None

    def _read_all(self) -> dict[str, str]:
        consumer = KafkaConsumer(**self.config, enable_auto_commit=False)
        try:
            partition = TopicPartition(self.topic, 0)
            consumer.assign([partition])
            consumer.seek_to_beginning(partition)
            end = consumer.end_offsets([partition])[partition]
            texts: dict[str, str] = {}
            deadline = time.monotonic() + self.timeout
            while consumer.position(partition) < end:
                if time.monotonic() > deadline:
                    raise RuleStoreError(f"{self.topic}: not read to its end in {self.timeout} s")
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        _apply(texts, record.key, record.value)
            return texts
        finally:
            consumer.close()


def _apply(texts: dict[str, str], key: bytes | None, value: bytes | None) -> None:
    """One record: a text for its file; a tombstone (no value) forgets the file."""
    if key is None:
        return  # not written by this store
    name = key.decode("utf-8")
    if value is None:
        texts.pop(name, None)
    else:
        texts[name] = value.decode("utf-8")
