"""Records Faust never hands to an agent are read straight from Kafka.

Faust can skip records: after a restart it resumes the flow before it seeks to the
committed offsets, and records it fetched in that moment can be dropped for good (seen
in CI: a plans partition re-read from 0, then offsets 7..14 never delivered while 15 on
were). Its commits then stop at the gap, so the records would come back only at the next
restart. An event missing from the tables until some later restart is an event lost.

So each agent tracks, per topic-partition, the offset after the last record it handled,
starting from the group's committed offset. A record past that offset means a gap: the
missing offsets are read with a plain Kafka consumer (no group) and handled first, in
order. Records before it were handled already (Faust re-delivers after a seek, and reads
from offset 0 for a moment after a restart) and are skipped.

A position is only good while this worker holds the partition. One handed to another
worker in a rebalance and later handed back resumes at the group's committed offset, past
whatever the other worker handled; a position kept from before would call all of that a
gap and forward it again (an operator saw 6,772 records forwarded twice). So after each
rebalance the tracker keeps only the partitions held before and after it (``kept``), and
of those only the ones no other worker moved on meanwhile (``overtaken``: a worker frozen
through a rebalance, thawed and handed the same partitions, sees them "held throughout").

Known limit: a gap is noticed when a later record of the same partition arrives, so a skip
of a partition's *last* records (a quiet topic such as plans, right after a restart) waits
for that partition's next record and is handled only then; until then the worker reports
lag there (``worker status``) and its group offset stays behind. A periodic check of each
partition's end against the position would close this; it is not built yet.

``OffsetTracker`` is pure; ``read_range`` is the I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

# How long a gap may take to read before the worker gives up and fails (Kafka is down).
READ_TIMEOUT_SECONDS = 60.0


@dataclass
class OffsetTracker:
    """Per topic-partition, the offset after the last record handled in this process."""

    _next: dict[tuple[str, int], int] = field(default_factory=dict)

    def knows(self, topic: str, partition: int) -> bool:
        return (topic, partition) in self._next

    def start_at(self, topic: str, partition: int, offset: int | None) -> None:
        """Where this process should begin: the group's committed offset (or the first
        offset kept, for a new group). None: unknown; the first record seen sets it."""
        if offset is not None:
            self._next.setdefault((topic, partition), offset)

    def missing(self, topic: str, partition: int, offset: int) -> range | None:
        """The offsets skipped before ``offset``; None when the record is a repeat."""
        expected = self._next.get((topic, partition))
        if expected is None:
            return range(offset, offset)  # nothing to compare with
        if offset < expected:
            return None
        return range(expected, offset)

    def handled(self, topic: str, partition: int, offset: int) -> None:
        key = (topic, partition)
        self._next[key] = max(self._next.get(key, 0), offset + 1)

    def position(self, topic: str, partition: int) -> int | None:
        """The offset after the last record handled here, if known."""
        return self._next.get((topic, partition))

    def keep(self, held: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        """Forget every partition but ``held``; return the ones forgotten, sorted."""
        keep = set(held)
        gone = sorted(key for key in self._next if key not in keep)
        for key in gone:
            del self._next[key]
        return gone


def kept(
    before: Iterable[tuple[str, int]] | None, after: Iterable[tuple[str, int]]
) -> set[tuple[str, int]]:
    """The partitions whose positions survive a rebalance: held before it and after it.

    A partition held throughout keeps its position, because the committed offset may lag
    behind it (Faust's commits stop at a gap it skipped) and the records in between were
    handled here. Every other one starts again from the committed offset. ``before`` is
    None at the first assignment: nothing was held."""
    return set(after) & set(before or ())


def overtaken(
    positions: dict[tuple[str, int], int | None], committed: dict[tuple[str, int], int]
) -> set[tuple[str, int]]:
    """The partitions whose group offset is past where this worker got: another worker
    handled records there while this one was away, so its position is stale."""
    return {
        tp for tp, here in positions.items() if here is not None and committed.get(tp, 0) > here
    }


async def start_offsets(
    client: dict[str, Any], group: str, topic: str, partitions: Iterable[int]
) -> dict[int, int]:
    """Where ``group`` resumes each of ``topic``'s ``partitions``: its committed offset, or
    the first offset the partition still holds when the group never committed there or
    its offset is out of range (a topic created anew, records past retention), as Faust
    does (``auto_offset_reset`` "earliest"). One short-lived consumer for the whole topic;
    it reads only and never joins the group."""
    tps = [TopicPartition(topic, p) for p in sorted(set(partitions))]
    consumer = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **client)
    await consumer.start()
    try:
        first = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        starts: dict[int, int] = {}
        for tp in tps:
            committed = await consumer.committed(tp)
            in_range = committed is not None and first[tp] <= committed <= end[tp]
            starts[tp.partition] = int(committed) if in_range else int(first[tp])
        return starts
    finally:
        await consumer.stop()


async def read_range(
    client: dict[str, Any], topic: str, partition: int, offsets: range
) -> list[Any]:
    """The records at ``offsets`` of ``topic[partition]``, in order (aiokafka records).

    ``client`` holds the connection options (``streams.clients.kafka_io.client_config``).
    """
    tp = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(
        enable_auto_commit=False, request_timeout_ms=int(READ_TIMEOUT_SECONDS * 1000), **client
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, offsets.start)
        found: list[Any] = []
        # By position, not by the last offset found: an offset may hold no record.
        while await consumer.position(tp) < offsets.stop:
            batch = await consumer.getmany(tp, timeout_ms=int(READ_TIMEOUT_SECONDS * 1000))
            if not batch.get(tp):
                raise TimeoutError(f"could not read {topic}[{partition}] {offsets}")
            found.extend(r for r in batch[tp] if r.offset < offsets.stop)
        return found
    finally:
        await consumer.stop()
