"""Poison records on a real broker: a 900 KB non-JSON record and a 2 MB record among valid
events on one input partition. Neither stalls it: every valid event behind them is applied,
and both are on the dead-letter topic as ``too_large`` with their size, hash, position and
first bytes (the dead letter of the whole record would not fit the broker's 1 MiB limit)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from streams.core.ingest import PREFIX_BYTES
from streams.exceptions import StreamsError
from tests.integration.stream_harness import Worker

pytestmark = pytest.mark.integration

T0 = "2026-11-02T09:00:00+08:00"
KEY = b"SO-POISON"  # one key: every record on the same partition, behind each other
BIG_TOPIC_BYTES = 4 * 1024 * 1024


def confirmed(n: int, qty: int) -> bytes:
    return json.dumps(
        {
            "event_id": f"P{n}-c",
            "type": "order.confirmed",
            "event_time": T0,
            "source": "erp",
            "order_id": f"P{n}",
            "region": "south",
            "model": "X1",
            "quantity": qty,
            "amount": "100.00",
        }
    ).encode()


@pytest.fixture
def worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Worker]:
    w = Worker(bootstrap=kafka_bootstrap, home=tmp_path / "home")
    # The orders topic takes records up to 4 MiB, so a 2 MB record reaches the worker (the
    # worker creates the other topics; this one exists, so it keeps this config).
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        topic = NewTopic(
            w.topics.family("orders"),
            num_partitions=3,
            replication_factor=1,
            topic_configs={"max.message.bytes": str(BIG_TOPIC_BYTES)},
        )
        admin.create_topics([topic])
    finally:
        admin.close()
    w.start()
    yield w
    w.stop()


class HealthSamples:
    """``/healthz`` read every 0.2 s in a thread while the block runs."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.taken: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            with contextlib.suppress(StreamsError):
                self.taken.append(self.worker.web.health())

    def __enter__(self) -> HealthSamples:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_records_too_large_to_dead_letter_whole_do_not_stall_their_partition(
    worker: Worker, kafka_bootstrap: str
) -> None:
    not_json = b"\x00\x01 not json " * 75_000  # 900 KB
    two_mb = b'{"event_id": "huge", "note": "' + b"x" * 2_000_000 + b'"}'
    records = [
        confirmed(1, 1),
        not_json,
        confirmed(2, 2),
        two_mb,
        confirmed(3, 4),
        confirmed(4, 8),
    ]
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=BIG_TOPIC_BYTES
    )
    try:
        metas = [
            producer.send(worker.topics.family("orders"), key=KEY, value=value).get(timeout=30)
            for value in records
        ]
    finally:
        producer.close()
    assert len({m.partition for m in metas}) == 1
    with HealthSamples(worker) as samples:
        worker.caught_up()
    # Never healthy while a partition was stalled (the poison records stall none now).
    assert samples.taken and not [s for s in samples.taken if s.get("healthy") and s.get("stalled")]

    # Every valid event, also those behind the poison records, is applied.
    assert worker.qty("in_transit_region_model") == {"south|X1": 1 + 2 + 4 + 8}

    letters = [json.loads(r.value) for r in worker.read(worker.topics.dead_letter, 2)]
    assert len(letters) == 2
    for letter, raw, meta in zip(letters, [not_json, two_mb], [metas[1], metas[3]], strict=True):
        assert letter["reason"] == "too_large"
        assert (letter["topic"], letter["partition"], letter["offset"]) == (
            worker.topics.family("orders"),
            meta.partition,
            meta.offset,
        )
        assert (letter["size"], letter["sha256"], letter["truncated"]) == (
            len(raw),
            hashlib.sha256(raw).hexdigest(),
            True,
        )
        assert base64.b64decode(letter["value_base64"]) == raw[:PREFIX_BYTES]
    health: dict[str, Any] = worker.web.health()
    assert not health.get("stalled"), health
    assert not [p for p in health.get("problems", []) if "stalled" in p], health
