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

# Records pass the agents as bytes: ingest decodes them itself (streams.core.ingest).
RAW = {"key_serializer": "raw", "value_serializer": "raw"}

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


@dataclass(frozen=True)
class Channels:
    """The Faust topics the agents send to; ``events`` and ``alerts`` are also read."""

    events: Any
    alerts: Any
    dead_letter: Any
    assessment: Any


def register_agents(app: Any, rt: Runtime, input_partitions: int) -> None:
    """Define the ingest agents, the state agent, the ledger agent and the timers on ``app``."""
    channels = Channels(
        events=app.topic(rt.topics.events, partitions=1, **RAW),
        alerts=app.topic(rt.topics.alerts, partitions=1, **RAW),
        dead_letter=app.topic(rt.topics.dead_letter, partitions=1, **RAW),
        assessment=app.topic(rt.topics.assessment, partitions=1, **RAW),
    )
    Agents(app, rt, channels).register(input_partitions)


class Agents:
    """One worker's agents and timers, one method each, and what they share: the offset
    tracker (streams.worker.gaps), the event-time merge and the lock that keeps one
    forwarder at a time, and ``Judging`` (streams.worker.judging).

    ``register`` only wires the methods to Faust; a test drives them with fake streams,
    topics and an ``app`` whose ``consumer.assignment()`` it chooses.
    """

    def __init__(self, app: Any, rt: Runtime, channels: Channels) -> None:
        self.app = app
        self.rt = rt
        self.channels = channels
        self.unsent = 0  # dead letters the broker refused for good: counted, logged, passed
        self.tracker = OffsetTracker()
        self.group = rt.topics.prefix  # the Faust app id, hence the consumer group
        # Ingest forwards in event-time order across input partitions (streams.worker.merge);
        # one forwarder at a time, so the events topic keeps the merge's order.
        self.merge: EventTimeMerge[tuple[Raw, Event]] = EventTimeMerge(window=rt.reorder_window)
        self.forwarding = asyncio.Lock()
        self.inputs = set(rt.topics.inputs.values())
        self.judging = Judging(
            rt.tables,
            rt.journal,
            rt.writes,
            self.send_alerts,
            retention=rt.retention,
            committed=rt.metrics.published,
            keep_plans_from=rt.keep_plans_from,
        )

    def register(self, input_partitions: int) -> None:
        """Wire the agents and timers; the names are the Faust ones operators see."""
        app, rt = self.app, self.rt
        tracked = {*rt.topics.inputs.values(), rt.topics.events, rt.topics.alerts}
        follow_rebalances(app, self.tracker, rt, tracked)
        for family, name in rt.topics.inputs.items():
            source = app.topic(name, partitions=input_partitions, **RAW)
            app.agent(source, name=f"orderhub.ingest.{family}")(self.ingest)
        app.agent(self.channels.events, name="orderhub.state")(self.state)
        if rt.ledger is not None:
            rt.ledger.send = self.send_entry
            app.agent(self.channels.alerts, name="orderhub.ledger")(self.book)
        app.timer(min(0.25, rt.reorder_window or 0.25), name="orderhub.forward")(self.forward_held)
        app.timer(TICK_SECONDS, name="orderhub.tick")(self.tick)

    # -- sending -------------------------------------------------------------------------

    async def send_dead_letter(self, letter: DeadLetter, key: bytes | None) -> None:
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
            await _send(self.channels.dead_letter, key, letter.model_dump_json().encode("utf-8"))
        except REFUSED_FOR_GOOD as exc:
            self.unsent += 1
            log.error(
                "dead letter of %s[%d]@%d (%d bytes, sha256 %s) cannot be published: %r; "
                "passed without it (%d dead letter(s) lost so far)",
                letter.topic,
                letter.partition,
                letter.offset,
                letter.size,
                letter.sha256,
                exc,
                self.unsent,
            )

    async def send_alerts(self, found: list[Alert]) -> None:
        for alert in found:
            key = _key_bytes(alert.fingerprint)
            await _send(self.channels.alerts, key, alert.model_dump_json().encode())

    async def send_entry(self, key: str, value: bytes) -> None:
        """The ledger's send: an entry to the assessment topic."""
        await _send(self.channels.assessment, _key_bytes(key), value)

    # -- reading -------------------------------------------------------------------------

    async def records(self, stream: Any, manual_ack: bool = False) -> AsyncIterator[Raw]:
        """Each record once, in offset order, records Faust skipped included (see gaps)."""
        async for event in stream.events():
            msg = event.message
            if not self.tracker.knows(msg.topic, msg.partition):
                await self._start_tracking(msg.topic, msg.partition)
            missing = self.tracker.missing(msg.topic, msg.partition, msg.offset)
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
                client = self.rt.kafka_client
                for lost in await read_range(client, msg.topic, msg.partition, missing):
                    yield Raw.of(lost, lost.value)
            yield Raw.of(msg, event.value, event.ack if manual_ack else None)

    async def _start_tracking(self, topic: str, partition: int) -> None:
        """Once per topic at start: every partition of it this worker holds."""
        mine = {p for _, p in assigned(self.app, {topic})}
        starts = await start_offsets(self.rt.kafka_client, self.group, topic, mine | {partition})
        for part, where in starts.items():
            self.tracker.start_at(topic, part, where)

    async def decoded(
        self, stream: Any, manual_ack: bool = False
    ) -> AsyncIterator[tuple[Raw, Event]]:
        """Each record as (record, event); a record that is no event is dead-lettered
        instead (and counts as done: the consumer of an event marks it done itself)."""
        async for raw in self.records(stream, manual_ack):
            result = decode(raw.value, raw.topic, raw.partition, raw.offset)
            if isinstance(result, DeadLetter):
                # On the events topic only a producer that bypasses ingest gets here.
                await self.send_dead_letter(result, raw.key)
                self.done(raw)
            else:
                yield raw, result
            self.tracker.handled(raw.topic, raw.partition, raw.offset)

    def done(self, raw: Raw) -> None:
        if raw.ack is not None:
            raw.ack()
        self.rt.progress.done(raw.topic, raw.partition, raw.offset)

    # -- the agents ----------------------------------------------------------------------

    async def ingest(self, stream: Any) -> None:
        """An input topic's agent: each event held in the merge, forwarded when ready."""
        # No automatic acks: a record is acked once forwarded, which may be after later ones.
        async for raw, event in self.decoded(stream.noack(), manual_ack=True):
            self.rt.progress.hold(raw.topic, raw.partition, raw.offset)
            self.merge.push(raw.source, event.event_time, (raw, event))
            await self.forward_ready()

    async def forward_ready(self) -> None:
        """Send to the events topic, in event-time order, every held record that may go."""
        async with self.forwarding:
            assignment = assigned(self.app, self.inputs)
            self.merge.expect(f"{topic}:{partition}" for topic, partition in assignment)
            while (ready := self.merge.next_ready()) is not None:
                source, (raw, event) = ready
                key = routing_key(event.model_dump(), EVENT_FAMILY[event.type])
                header = {SOURCE_HEADER: source.encode()}
                await _send(self.channels.events, _key_bytes(key), encode(event), header)
                self.merge.pop(source)  # only once sent: a failed send keeps it held
                self.done(raw)
                self.rt.metrics.event_in(raw.topic, event.type)

    async def state(self, stream: Any) -> None:
        """The events topic's agent: each event applied to the tables and judged."""
        rt = self.rt
        async for msg, event in self.decoded(stream):
            # The clock must only pass a time once every input has (streams.worker.clock).
            rt.clock.observe(event.event_time, source_of(msg.headers, msg.topic))
            # The offset on the one-partition events topic is the sequence number. Faust
            # acks this event when the loop asks for the next one: by then its alerts are
            # out and its table writes journaled and on the broker (streams.worker.judging).
            await self.judging.event(rt.hook, event, msg.offset, partial(self.rule_error, msg))
            if isinstance(event, AssessmentVoid) and rt.ledger is not None:
                await rt.ledger.void(event)  # idempotent: also when judged before a crash
            self.done(msg)

    async def rule_error(self, raw: Raw, text: str) -> None:
        letter = dead_letter("rule_error", text, raw.value, raw.topic, 0, raw.offset)
        await self.send_dead_letter(letter, raw.key)

    async def book(self, stream: Any) -> None:
        """The ledger agent: each alert once, in offset order (streams.worker.ledger)."""
        async for msg in self.records(stream):
            await self.rt.ledger.alert(msg.value)
            self.tracker.handled(msg.topic, msg.partition, msg.offset)
            self.done(msg)

    # -- the timers ----------------------------------------------------------------------

    async def forward_held(self) -> None:
        """Records held for a silent partition go when their window is over."""
        try:
            await self.forward_ready()
        except Exception:  # the broker is away: the records stay held, the next run retries
            log.exception("forwarding held records failed")

    async def tick(self) -> None:
        """The passing of time: deadlines and schedules judged, the ledger pruned."""
        rt = self.rt
        if not tables_current(self.app):
            return  # rules must not judge half-recovered tables (also after a take-over)
        if not assigned(self.app, {rt.topics.events}):
            return  # a standby: the worker that holds the events partition owns the tables
        # Rules judge event time: the clock is the event-time watermark moving on in real
        # time (streams.worker.clock), so a replayed week does not look weeks overdue.
        # Before the first event since start: the time judged before the restart, so a rule
        # file that does not load is reported (RULESET-LOAD) without waiting for traffic.
        now = rt.clock.now() or stored_watermark(rt.tables)
        if now is None:
            return  # no event ever: nothing to measure time from yet
        await self.judging.tick(rt.hook, now)
        if rt.ledger is not None:
            await rt.ledger.prune(now)


def follow_rebalances(app: Any, tracker: OffsetTracker, rt: Runtime, topics: set[str]) -> None:
    """After each rebalance, forget where this worker was on the partitions of ``topics``
    it did not hold throughout (see ``Rebalances``)."""
    app.on_partitions_assigned.connect(Rebalances(tracker, rt, topics).on_assigned)


class Rebalances:
    """Keeps the tracker's and the progress's positions only where they are still good:
    a partition handed back resumes at the group's committed offset, not at a "gap" back
    to where this worker left it (``streams.worker.gaps.kept``)."""

    def __init__(self, tracker: OffsetTracker, rt: Runtime, topics: set[str]) -> None:
        self.tracker = tracker
        self.topics = topics
        self.progress, self.client, self.group = rt.progress, rt.kafka_client, rt.topics.prefix
        self.before: set[tuple[str, int]] | None = None  # what was held; None: nothing yet

    async def on_assigned(self, sender: Any, assigned: set[Any], **_: Any) -> None:
        """Faust's ``on_partitions_assigned`` signal: sent before it resumes the partitions,
        so no record of a new one has arrived yet."""
        now = {(tp.topic, tp.partition) for tp in assigned if tp.topic in self.topics}
        survive = kept(self.before, now)
        survive -= await self.moved_on_elsewhere(survive)
        self.tracker.keep(survive)
        for topic, parts in self.progress.positions.items():
            for partition in [p for p in parts if (topic, p) not in survive]:
                self.progress.forget(topic, partition)  # lag from the committed offset again
        if self.before is not None and (fresh := sorted(now - survive)):
            log.info(
                "rebalance: %s resume from the group's committed offset",
                ", ".join(f"{t}[{p}]" for t, p in fresh),
            )
        self.before = now

    async def moved_on_elsewhere(self, held: set[tuple[str, int]]) -> set[tuple[str, int]]:
        """Of ``held``, the partitions another worker moved on while this one was away."""
        positions = {tp: self.tracker.position(*tp) for tp in held}
        committed: dict[tuple[str, int], int] = {}
        try:
            for topic in sorted({t for t, _ in held}):
                parts = [p for t, p in held if t == topic]
                found = await start_offsets(self.client, self.group, topic, parts)
                committed.update({(topic, p): offset for p, offset in found.items()})
        except Exception:  # the broker is away: keep the positions, as before
            log.warning("rebalance: committed offsets unknown; positions kept", exc_info=True)
            return set()
        return overtaken(positions, committed)


def assigned(app: Any, topics: set[str]) -> list[tuple[str, int]]:
    """The worker's partitions of ``topics``, as (topic, partition)."""
    try:
        tps = app.consumer.assignment()
    except Exception:  # no consumer yet (starting): nothing assigned
        return []
    return [(tp.topic, tp.partition) for tp in tps if tp.topic in topics]
