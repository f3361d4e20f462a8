"""The agents' methods driven without Faust: fake streams, topics that record what is sent,
and an ``app`` whose assignment the test chooses (the broker is never asked anything: each
test tells the offset tracker where its partitions start)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from aiokafka.errors import RecordTooLargeError

from contract.events import Alert, Event
from contract.topics import Topics
from streams.core.journal import HEAD, Head
from streams.core.state import Tables, empty_tables
from streams.worker.agents import SOURCE_HEADER, Agents, Channels
from streams.worker.runtime import Runtime

TZ = timezone(timedelta(hours=8))
TOPICS = Topics("t")
ORDERS = TOPICS.family("orders")


def confirmed(n: int, minute: int) -> bytes:
    return json.dumps(
        {"event_id": f"e{n}", "type": "order.confirmed", "source": "erp",
         "event_time": datetime(2026, 3, 2, 9, minute, tzinfo=TZ).isoformat(),
         "order_id": f"O{n}", "region": "east", "model": "X1", "quantity": 4, "amount": "10"}
    ).encode()  # fmt: skip


@dataclass
class Sent:
    key: bytes | None
    value: bytes
    headers: dict[str, bytes] | None


@dataclass
class FakeTopic:
    """Records each send; ``refuse`` makes the broker refuse every record for good."""

    sent: list[Sent] = field(default_factory=list)
    refuse: bool = False

    async def send(
        self, key: bytes | None, value: bytes, headers: dict[str, bytes] | None = None
    ) -> asyncio.Future[None]:
        if self.refuse:
            raise RecordTooLargeError()
        self.sent.append(Sent(key, value, headers))
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acked.set_result(None)
        return acked


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


@dataclass
class Consumer:
    held: list[TP]

    def assignment(self) -> list[TP]:
        return self.held


@dataclass
class FakeApp:
    consumer: Consumer


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: Any


@dataclass
class StreamEvent:
    message: Message
    value: bytes
    acked: list[tuple[str, int, int]]

    def ack(self) -> None:
        self.acked.append((self.message.topic, self.message.partition, self.message.offset))


class FakeStream:
    """The records of one agent's stream, in the order Faust would hand them over."""

    def __init__(self, records: list[tuple[str, int, int, bytes, Any]]) -> None:
        self.acked: list[tuple[str, int, int]] = []
        self.items = [
            StreamEvent(Message(t, p, o, None, headers), value, self.acked)
            for t, p, o, value, headers in records
        ]

    def noack(self) -> FakeStream:
        return self

    async def events(self) -> AsyncIterator[StreamEvent]:
        for item in self.items:
            yield item


class CapHook:
    """A rule hook: one alert per order confirmed, or a failure for order O13."""

    def on_event(self, tables: Tables, event: Event, seq: int) -> list[Alert]:
        if event.order_id == "O13":  # type: ignore[attr-defined]
            raise ValueError("no rule for O13")
        return [
            Alert(fingerprint=f"fp{seq}", rule_id="CAP", rule_name="cap", severity="critical",
                  status="firing", key={"order_id": event.order_id},  # type: ignore[attr-defined]
                  message="confirmed", values={}, at=event.event_time)
        ]  # fmt: skip

    def on_tick(self, tables: Tables, now: datetime) -> list[Alert]:
        return []

    def status(self) -> dict[str, Any]:
        return {"version": None, "errors": []}


def agents(held: list[TP], window: float = 3600.0) -> tuple[Agents, Channels]:
    """Agents on a runtime of plain dicts; the tracker starts every held partition at 0."""
    rt = Runtime(topics=TOPICS, tables=empty_tables(), hook=CapHook(), journal={})
    rt.reorder_window = window
    channels = Channels(FakeTopic(), FakeTopic(), FakeTopic(), FakeTopic())
    made = Agents(FakeApp(Consumer(held)), rt, channels)
    for tp in held:
        made.tracker.start_at(tp.topic, tp.partition, 0)
    return made, channels


def sent_ids(topic: Any) -> list[str]:
    return [json.loads(s.value)["event_id"] for s in topic.sent]


def test_ingest_holds_a_record_until_no_partition_can_deliver_an_earlier_one() -> None:
    made, out = agents([TP(ORDERS, 0), TP(ORDERS, 1)])
    stream = FakeStream(
        [(ORDERS, 0, 0, confirmed(1, 5), None),  # held: partition 1 may bring earlier
         (ORDERS, 1, 0, confirmed(2, 1), None),  # earliest of both heads: forwarded
         (ORDERS, 1, 1, confirmed(3, 9), None)]  # partition 1 is past 9:05: e1 goes
    )  # fmt: skip
    asyncio.run(made.ingest(stream))
    assert sent_ids(out.events) == ["e2", "e1"]
    assert [s.key for s in out.events.sent] == [b"O2", b"O1"]
    assert [s.headers for s in out.events.sent] == [
        {SOURCE_HEADER: f"{ORDERS}:1".encode()},
        {SOURCE_HEADER: f"{ORDERS}:0".encode()},
    ]
    # Acked once forwarded; e3 is still held, and partition 1's position stays at it.
    assert stream.acked == [(ORDERS, 1, 0), (ORDERS, 0, 0)]
    assert made.rt.progress.positions[ORDERS] == {0: 1, 1: 1}
    assert len(made.merge) == 1


def test_a_held_record_goes_when_its_window_is_over() -> None:
    made, out = agents([TP(ORDERS, 0), TP(ORDERS, 1)], window=0.0)
    asyncio.run(made.ingest(FakeStream([(ORDERS, 0, 0, confirmed(1, 5), None)])))
    asyncio.run(made.forward_held())
    assert sent_ids(out.events) == ["e1"]
    assert made.rt.progress.positions[ORDERS] == {0: 1}


def test_a_record_that_is_no_event_is_dead_lettered_and_done_at_once() -> None:
    made, out = agents([TP(ORDERS, 0), TP(ORDERS, 1)])
    stream = FakeStream([(ORDERS, 0, 0, confirmed(1, 5), None), (ORDERS, 0, 1, b"not json", None)])
    asyncio.run(made.ingest(stream))
    assert out.events.sent == []  # e1 waits for partition 1
    [letter] = [json.loads(s.value) for s in out.dead_letter.sent]
    assert (letter["reason"], letter["topic"], letter["offset"]) == ("not_json", ORDERS, 1)
    assert stream.acked == [(ORDERS, 0, 1)]
    # The held e1 keeps the partition's position at its offset although offset 1 is done.
    assert made.rt.progress.positions[ORDERS] == {0: 0}


def test_a_dead_letter_the_broker_refuses_is_counted_and_passed() -> None:
    made, out = agents([TP(ORDERS, 0)])
    out.dead_letter.refuse = True
    stream = FakeStream([(ORDERS, 0, 0, b"{", None), (ORDERS, 0, 1, b"[", None)])
    asyncio.run(made.ingest(stream))
    assert made.unsent == 2
    assert stream.acked == [(ORDERS, 0, 0), (ORDERS, 0, 1)]
    assert made.rt.progress.positions[ORDERS] == {0: 2}


def test_the_state_agent_judges_each_event_once_and_marks_its_progress() -> None:
    made, out = agents([TP(TOPICS.events, 0)])
    header = [(SOURCE_HEADER, f"{ORDERS}:3".encode())]
    stream = FakeStream(
        [(TOPICS.events, 0, 0, confirmed(1, 5), header),
         (TOPICS.events, 0, 1, confirmed(2, 6), header),
         (TOPICS.events, 0, 1, confirmed(2, 6), header)]  # redelivered after a seek
    )  # fmt: skip
    asyncio.run(made.state(stream))
    alerts = [json.loads(s.value) for s in out.alerts.sent]
    assert [(a["fingerprint"], a["key"]) for a in alerts] == [
        ("fp0", {"order_id": "O1"}),
        ("fp1", {"order_id": "O2"}),
    ]
    assert [s.key for s in out.alerts.sent] == [b"fp0", b"fp1"]
    assert Head.from_json(made.rt.journal[HEAD]).seq == 1
    assert set(made.rt.tables["orders"]) == {"O1", "O2"}
    assert made.rt.progress.positions[TOPICS.events] == {0: 2}
    assert made.rt.clock.now() is not None  # the clock saw the source named in the header


def test_a_failing_rule_is_dead_lettered_as_a_rule_error_and_the_stream_goes_on() -> None:
    made, out = agents([TP(TOPICS.events, 0)])
    stream = FakeStream(
        [(TOPICS.events, 0, 0, confirmed(13, 5), None),
         (TOPICS.events, 0, 1, confirmed(14, 6), None)]
    )  # fmt: skip
    asyncio.run(made.state(stream))
    [letter] = [json.loads(s.value) for s in out.dead_letter.sent]
    assert (letter["reason"], letter["offset"]) == ("rule_error", 0)
    assert letter["error"] == "rule hook failed: ValueError: no rule for O13"
    assert [json.loads(s.value)["fingerprint"] for s in out.alerts.sent] == ["fp1"]
    assert set(made.rt.tables["orders"]) == {"O13", "O14"}  # the event's own effect stays
