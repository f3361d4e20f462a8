"""The thin Faust agents: records in, ``streams.core.ingest`` / ``streams.core.state`` / the rule
hook in the middle, records out. No business logic lives here.

Ingest validates each input record and forwards it to the one-partition events topic,
merging the input partitions into event-time order first (``streams.worker.merge``); the state
agent applies the events topic to the tables and runs the rules.

Delivery is at least once. Every send, and every table write an event caused
(``streams.worker.durable``), is awaited until the broker acknowledges it before the source record
counts as handled; Faust commits only offsets of handled records, so a crash can repeat
work but never lose it. Ingest's repeated work is harmless (``apply_event`` drops an event
id it has applied); the state agent's is skipped: its commit journal (``streams.worker.judging``)
says which events were judged, so no event is judged twice against later tables.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)

from contract.events import EVENT_FAMILY, Alert, AssessmentVoid, Event
from contract.topics import routing_key
from streams.core.engine import stored_watermark
from streams.core.ingest import DeadLetter, dead_letter, decode, encode, shrunk
from streams.worker.gaps import OffsetTracker, kept, overtaken, read_range, start_offsets
from streams.worker.health import tables_current
from streams.worker.judging import Judging
from streams.worker.merge import EventTimeMerge
from streams.worker.runtime import Runtime

log = logging.getLogger(__name__)

# How often the rule hook's on_tick runs: SLA deadlines are hours, so seconds are plenty.
TICK_SECONDS = 5.0


def _key_bytes(key: str | None) -> bytes | None:
    return key.encode("utf-8") if key is not None else None


# A dead letter is cut to this (Kafka's default limit on a record is 1 MiB with headers).
MAX_LETTER_BYTES = 1_000_000
# Send errors that a retry cannot mend: the record itself is what the broker refuses.
REFUSED_FOR_GOOD = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordException,
    InvalidTopicError,
    UnsupportedForMessageFormatError,
)

# Header naming the input topic-partition an event came from: the clock's source.
SOURCE_HEADER = "orderhub-source"


async def _send(
    topic: Any, key: bytes | None, value: bytes, headers: dict[str, bytes] | None = None
) -> None:
    """Send and wait for the broker's acknowledgement (the first await only buffers)."""
    pending = await topic.send(key=key, value=value, headers=headers)
    await pending


def source_of(headers: Any, fallback: str) -> str:
    """The input topic-partition named in an events-topic record's headers."""
    items = headers.items() if isinstance(headers, dict) else (headers or ())
    for name, value in items:
        if name == SOURCE_HEADER and isinstance(value, bytes):
            return value.decode("utf-8", "replace")
    return fallback  # a record produced straight onto the events topic


@dataclass(frozen=True)
class Raw:
    """One consumed record, from Faust or read straight from Kafka (streams.worker.gaps)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Any
    # Acknowledges the Faust event, on a stream that does not ack by itself (ingest).
    ack: Callable[[], Any] | None = None

    @classmethod
    def of(cls, record: Any, value: Any, ack: Callable[[], Any] | None = None) -> Raw:
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            value if isinstance(value, bytes) else b"",
            record.headers,
            ack,
        )

    @property
    def source(self) -> str:
        """The topic-partition it came from, e.g. ``orderhub.orders:2``."""
        return f"{self.topic}:{self.partition}"


def register_agents(app: Any, rt: Runtime, input_partitions: int) -> None:
    """Define the ingest agents, the state agent and the tick timer on ``app``."""
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    events = app.topic(rt.topics.events, partitions=1, **raw)
    alerts = app.topic(rt.topics.alerts, partitions=1, **raw)
    dlq = app.topic(rt.topics.dead_letter, partitions=1, **raw)
    assessment = app.topic(rt.topics.assessment, partitions=1, **raw)

    unsent = [0]  # dead letters the broker refused for good: counted, logged, passed

    async def send_dead_letter(letter: DeadLetter, key: bytes | None) -> None:
        """Publish ``letter`` cut to fit; one the broker refuses for good is counted,
        logged once and passed, so that no record can hold its partition forever."""
        letter = shrunk(letter, MAX_LETTER_BYTES)
        log.warning(
            "dead letter %s from %s[%d]@%d: %s",
            letter.reason,
            letter.topic,
            letter.partition,
            letter.offset,
            letter.error,
        )
        try:
            await _send(dlq, key, letter.model_dump_json().encode("utf-8"))
        except REFUSED_FOR_GOOD as exc:
            unsent[0] += 1
            log.error(
                "dead letter of %s[%d]@%d (%d bytes, sha256 %s) cannot be published: %r; "
                "passed without it (%d dead letter(s) lost so far)",
                letter.topic,
                letter.partition,
                letter.offset,
                letter.size,
                letter.sha256,
                exc,
                unsent[0],
            )

    async def send_alerts(found: list[Alert]) -> None:
        for alert in found:
            await _send(alerts, _key_bytes(alert.fingerprint), alert.model_dump_json().encode())

    tracker = OffsetTracker()
    group = rt.topics.prefix  # the Faust app id, hence the consumer group
    tracked = {*rt.topics.inputs.values(), rt.topics.events, rt.topics.alerts}
    follow_rebalances(app, tracker, rt, tracked)

    async def records(stream: Any, manual_ack: bool = False) -> AsyncIterator[Raw]:
        """Each record once, in offset order, records Faust skipped included (see gaps)."""
        async for event in stream.events():
            msg = event.message
            if not tracker.knows(msg.topic, msg.partition):
                # Once per topic at start: every partition of it this worker holds.
                mine = {partition for _, partition in assigned(app, {msg.topic})}
                starts = await start_offsets(
                    rt.kafka_client, group, msg.topic, mine | {msg.partition}
                )
                for partition, where in starts.items():
                    tracker.start_at(msg.topic, partition, where)
            missing = tracker.missing(msg.topic, msg.partition, msg.offset)
            if missing is None:
                if manual_ack:
                    event.ack()
                continue  # handled already: Faust delivers again after it seeks
            if missing:
                log.warning(
                    "Faust skipped %s[%d] offsets %d..%d: reading them from Kafka",
                    msg.topic,
                    msg.partition,
                    missing.start,
                    missing.stop - 1,
                )
                for lost in await read_range(rt.kafka_client, msg.topic, msg.partition, missing):
                    yield Raw.of(lost, lost.value)
            yield Raw.of(msg, event.value, event.ack if manual_ack else None)

    async def decoded(stream: Any, manual_ack: bool = False) -> AsyncIterator[tuple[Raw, Event]]:
        """Each record as (record, event); a record that is no event is dead-lettered
        instead (and counts as done: the consumer of an event marks it done itself)."""
        async for raw in records(stream, manual_ack):
            result = decode(raw.value, raw.topic, raw.partition, raw.offset)
            if isinstance(result, DeadLetter):
                # On the events topic only a producer that bypasses ingest gets here.
                await send_dead_letter(result, raw.key)
                done(raw)
            else:
                yield raw, result
            tracker.handled(raw.topic, raw.partition, raw.offset)

    def done(raw: Raw) -> None:
        if raw.ack is not None:
            raw.ack()
        rt.progress.done(raw.topic, raw.partition, raw.offset)

    # Ingest forwards in event-time order across input partitions (streams.worker.merge); one
    # forwarder at a time, so the events topic keeps the merge's order.
    merge: EventTimeMerge[tuple[Raw, Event]] = EventTimeMerge(window=rt.reorder_window)
    forwarding = asyncio.Lock()
    inputs = set(rt.topics.inputs.values())

    async def forward_ready() -> None:
        async with forwarding:
            merge.expect(f"{topic}:{partition}" for topic, partition in assigned(app, inputs))
            while (ready := merge.next_ready()) is not None:
                source, (raw, event) = ready
                key = routing_key(event.model_dump(), EVENT_FAMILY[event.type])
                header = {SOURCE_HEADER: source.encode()}
                await _send(events, _key_bytes(key), encode(event), header)
                merge.pop(source)  # only once sent: a failed send keeps it held
                done(raw)
                rt.metrics.event_in(raw.topic, event.type)

    async def ingest(stream: Any) -> None:
        # No automatic acks: a record is acked once forwarded, which may be after later ones.
        async for raw, event in decoded(stream.noack(), manual_ack=True):
            rt.progress.hold(raw.topic, raw.partition, raw.offset)
            merge.push(raw.source, event.event_time, (raw, event))
            await forward_ready()

    judging = Judging(
        rt.tables,
        rt.journal,
        rt.writes,
        send_alerts,
        retention=rt.retention,
        committed=rt.metrics.published,
        keep_plans_from=rt.keep_plans_from,
    )

    async def rule_error(raw: Raw, text: str) -> None:
        letter = dead_letter("rule_error", text, raw.value, raw.topic, 0, raw.offset)
        await send_dead_letter(letter, raw.key)

    async def state(stream: Any) -> None:
        async for msg, event in decoded(stream):
            # The clock must only pass a time once every input has (streams.worker.clock).
            rt.clock.observe(event.event_time, source_of(msg.headers, msg.topic))
            # The offset on the one-partition events topic is the sequence number. Faust
            # acks this event when the loop asks for the next one: by then its alerts are
            # out and its table writes journaled and on the broker (streams.worker.judging).
            await judging.event(rt.hook, event, msg.offset, partial(rule_error, msg))
            if isinstance(event, AssessmentVoid) and rt.ledger is not None:
                await rt.ledger.void(event)  # idempotent: also when judged before a crash
            done(msg)

    async def send_entry(key: str, value: bytes) -> None:
        await _send(assessment, _key_bytes(key), value)

    async def book(stream: Any) -> None:
        """The ledger agent: each alert once, in offset order (streams.worker.ledger)."""
        async for msg in records(stream):
            await rt.ledger.alert(msg.value)
            tracker.handled(msg.topic, msg.partition, msg.offset)
            done(msg)

    for family, name in rt.topics.inputs.items():
        source = app.topic(name, partitions=input_partitions, **raw)
        app.agent(source, name=f"orderhub.ingest.{family}")(ingest)
    app.agent(events, name="orderhub.state")(state)
    if rt.ledger is not None:
        rt.ledger.send = send_entry
        app.agent(alerts, name="orderhub.ledger")(book)

    # Records held for a silent partition go when their window is over.
    async def forward_held() -> None:
        try:
            await forward_ready()
        except Exception:  # the broker is away: the records stay held, the next run retries
            log.exception("forwarding held records failed")

    app.timer(min(0.25, rt.reorder_window or 0.25), name="orderhub.forward")(forward_held)

    async def tick() -> None:
        if not tables_current(app):
            return  # rules must not judge half-recovered tables (also after a take-over)
        if not assigned(app, {rt.topics.events}):
            return  # a standby: the worker that holds the events partition owns the tables
        # Rules judge event time: the clock is the event-time watermark moving on in real
        # time (streams.worker.clock), so a replayed week does not look weeks overdue.
        # Before the first event since start: the time judged before the restart, so a rule
        # file that does not load is reported (RULESET-LOAD) without waiting for traffic.
        now = rt.clock.now() or stored_watermark(rt.tables)
        if now is None:
            return  # no event ever: nothing to measure time from yet
        await judging.tick(rt.hook, now)
        if rt.ledger is not None:
            await rt.ledger.prune(now)

    app.timer(TICK_SECONDS, name="orderhub.tick")(tick)


def follow_rebalances(app: Any, tracker: OffsetTracker, rt: Runtime, topics: set[str]) -> None:
    """After each rebalance, forget where this worker was on the partitions of ``topics``
    it did not hold throughout (``streams.worker.gaps.kept``): one handed back resumes at the
    group's committed offset, not at a "gap" back to where this worker left it."""
    before: set[tuple[str, int]] | None = None
    progress, client, group = rt.progress, rt.kafka_client, rt.topics.prefix

    async def on_assigned(sender: Any, assigned: set[Any], **_: Any) -> None:
        # Faust sends this before it resumes the partitions: no record of a new one yet.
        nonlocal before
        now = {(tp.topic, tp.partition) for tp in assigned if tp.topic in topics}
        survive = kept(before, now)
        survive -= await moved_on_elsewhere(survive)
        tracker.keep(survive)
        for topic, parts in progress.positions.items():
            for partition in [p for p in parts if (topic, p) not in survive]:
                progress.forget(topic, partition)  # lag from the committed offset again
        if before is not None and (fresh := sorted(now - survive)):
            log.info(
                "rebalance: %s resume from the group's committed offset",
                ", ".join(f"{t}[{p}]" for t, p in fresh),
            )
        before = now

    async def moved_on_elsewhere(held: set[tuple[str, int]]) -> set[tuple[str, int]]:
        positions = {tp: tracker.position(*tp) for tp in held}
        committed: dict[tuple[str, int], int] = {}
        try:
            for topic in sorted({t for t, _ in held}):
                parts = [p for t, p in held if t == topic]
                found = await start_offsets(client, group, topic, parts)
                committed.update({(topic, p): offset for p, offset in found.items()})
        except Exception:  # the broker is away: keep the positions, as before
            log.warning("rebalance: committed offsets unknown; positions kept", exc_info=True)
            return set()
        return overtaken(positions, committed)

    app.on_partitions_assigned.connect(on_assigned)


def assigned(app: Any, topics: set[str]) -> list[tuple[str, int]]:
    """The worker's partitions of ``topics``, as (topic, partition)."""
    try:
        tps = app.consumer.assignment()
    except Exception:  # no consumer yet (starting): nothing assigned
        return []
    return [(tp.topic, tp.partition) for tp in tps if tp.topic in topics]
