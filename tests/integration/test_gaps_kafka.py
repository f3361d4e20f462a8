"""Where an agent starts a partition (streams.worker.gaps.start_offsets), against a real broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.structs import OffsetAndMetadata

from streams.worker.gaps import read_range, start_offsets

pytestmark = pytest.mark.integration


def commit(bootstrap: str, group: str, tp: TopicPartition, offset: int) -> None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    try:
        consumer.commit({tp: OffsetAndMetadata(offset, "", -1)})
    finally:
        consumer.close()


def test_start_offset_is_the_committed_one_unless_it_is_out_of_range(
    kafka_bootstrap: str,
) -> None:
    topic = f"gaps-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for n in range(5):
        producer.send(topic, value=f"record {n}".encode())
    producer.flush()
    producer.close()
    client = {"bootstrap_servers": kafka_bootstrap}
    tp = TopicPartition(topic, 0)

    async def where(group: str) -> int:
        return (await start_offsets(client, group, topic, [0]))[0]

    assert asyncio.run(where("never-committed")) == 0
    commit(kafka_bootstrap, "resumes", tp, 3)
    assert asyncio.run(where("resumes")) == 3
    # An offset past the end (the topic was created anew): Faust starts over, and so must
    # the agent, or it would take every record for one it had already handled.
    commit(kafka_bootstrap, "stale", tp, 50)
    assert asyncio.run(where("stale")) == 0

    found = asyncio.run(read_range(client, topic, 0, range(1, 4)))
    assert [(r.offset, r.value) for r in found] == [
        (1, b"record 1"),
        (2, b"record 2"),
        (3, b"record 3"),
    ]
