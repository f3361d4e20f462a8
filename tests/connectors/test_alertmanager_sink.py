"""The sink's promises without Kafka or HTTP: every Alertmanager gets every alert, the offset
is committed only once all have it, firing alerts are re-sent, a restart forgets nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.alertmanager.delivery import backoff
from connectors.alertmanager.firing import FiringSet, encode_entry, load
from connectors.alertmanager.mapping import Notice
from connectors.alertmanager.push import PushResult
from connectors.alertmanager.sink import AlertmanagerSink, SinkError
from contract.events import Alert

A, B = "http://am-a:9093", "http://am-b:9093"


def alert(order: str, status: str = "firing", at: str = "2026-11-02T10:00:00+08:00") -> Alert:
    return Alert(
        fingerprint=f"fp-{order}",
        rule_id="CAP-1",
        rule_name="Region demand within its cap",
        severity="critical",
        status=status,  # type: ignore[arg-type]
        key={"region": "east", "order_id": order},
        message=f"{order} over the cap",
        at=datetime.fromisoformat(at),
    )


@dataclass
class Source:
    records: list[bytes] = field(default_factory=list)
    read: int = 0
    commits: list[int] = field(default_factory=list)

    def poll(self, timeout: float) -> list[tuple[int, bytes]]:
        batch = list(enumerate(self.records))[self.read :]
        self.read = len(self.records)
        return batch

    def commit(self, offset: int) -> None:
        self.commits.append(offset)

    def add(self, *alerts: Alert) -> None:
        self.records.extend(a.model_dump_json().encode() for a in alerts)


@dataclass
class Store:
    topic: list[tuple[bytes, bytes | None]] = field(default_factory=list)
    broken: bool = False

    def load(self) -> FiringSet:
        return load(self.topic)

    def save(self, changes: Mapping[str, Notice | None]) -> None:
        if self.broken:
            raise SinkError("broker away")
        self.topic.extend((fp.encode(), encode_entry(n)) for fp, n in changes.items())


@dataclass
class Alertmanagers:
    down: set[str] = field(default_factory=set)
    got: dict[str, list[list[dict[str, Any]]]] = field(default_factory=dict)

    def push(self, url: str, alerts: Sequence[dict[str, Any]]) -> PushResult:
        if url in self.down:
            return PushResult(False, "connection refused")
        self.got.setdefault(url, []).append(list(alerts))
        return PushResult(True)

    def last(self, url: str) -> dict[str, str]:
        """order_id -> "firing"/"resolved" as the last push to ``url`` told it."""
        now = datetime(2026, 12, 1, tzinfo=UTC).isoformat().replace("+00:00", "Z")
        return {
            a["labels"]["order_id"]: "resolved" if a["endsAt"] <= now else "firing"
            for a in self.got[url][-1]
        }


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def sink(
    source: Source, store: Store, ams: Alertmanagers, clock: Clock, resend: float = 60
) -> AlertmanagerSink:
    s = AlertmanagerSink(
        source,
        store,
        [A, B],
        ams.push,
        "http://hub:6066",
        resend,
        clock=clock,
        wall=lambda: datetime(2026, 12, 1, tzinfo=UTC),
    )
    s.start()
    return s


def test_one_alertmanager_away_holds_the_commit_not_the_other_one() -> None:
    source, store, ams, clock = Source(), Store(), Alertmanagers(down={B}), Clock()
    s = sink(source, store, ams, clock)
    source.add(alert("O1"))
    s.step(0)
    assert ams.last(A) == {"O1": "firing"}  # the pair's other half is served at once
    assert source.commits == []  # B does not have it: nothing is committed
    assert s.counters.pushes_failed[B] == 1

    source.add(alert("O1", "resolved", "2026-11-02T10:30:00+08:00"), alert("O2"))
    clock.now += 0.5  # B's back-off (1 s) has not passed: A only
    s.step(0)
    assert ams.last(A) == {"O1": "resolved", "O2": "firing"}
    assert B not in ams.got and source.commits == []

    clock.now += 1  # B is tried again and fails: now it waits 2 s
    s.step(0)
    assert s.counters.pushes_failed[B] == 2 and s.outbox.targets[1].retry_at == clock.now + 2

    ams.down.clear()
    clock.now += 2
    s.step(0)
    assert ams.last(B) == {"O1": "resolved", "O2": "firing"}
    assert source.commits == [3]  # both have everything up to offset 3
    assert load(store.topic).entries.keys() == {"fp-O2"}
    assert s.counters.alerts_firing == 1


def test_back_off_doubles_up_to_30_s() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4, 5, 6, 9)] == [1, 2, 4, 8, 16, 30, 30]


def test_firing_alerts_are_re_sent_every_interval_and_resolved_ones_are_not() -> None:
    source, store, ams, clock = Source(), Store(), Alertmanagers(), Clock()
    s = sink(source, store, ams, clock, resend=60)
    source.add(alert("O1"), alert("O2"), alert("O2", "resolved", "2026-11-02T11:00:00+08:00"))
    s.step(0)
    pushes = len(ams.got[A])
    clock.now += 30
    s.step(0)
    assert len(ams.got[A]) == pushes  # nothing new, not yet time
    clock.now += 30
    s.step(0)
    assert ams.last(A) == ams.last(B) == {"O1": "firing"}
    assert source.commits == [3]


def test_a_restarted_sink_pushes_every_alert_still_firing_from_its_state() -> None:
    source, store, ams, clock = Source(), Store(), Alertmanagers(), Clock()
    first = sink(source, store, ams, clock)
    source.add(alert("O1"), alert("O2"), alert("O3"), alert("O2", "resolved"))
    first.step(0)
    assert source.commits == [4]

    # Restarted: nothing new on the topic past the commit, and empty Alertmanagers.
    source.read, ams = 4, Alertmanagers()
    again = sink(source, store, ams, clock)
    again.step(0)
    assert ams.last(A) == ams.last(B) == {"O1": "firing", "O3": "firing"}
    # It keeps the first firing's time as startsAt.
    assert ams.got[A][-1][0]["startsAt"] == "2026-11-02T02:00:00Z"


def test_the_offset_waits_until_the_state_is_written() -> None:
    source, store, ams, clock = Source(), Store(broken=True), Alertmanagers(), Clock()
    s = sink(source, store, ams, clock)
    source.add(alert("O1"))
    s.step(0)
    assert source.commits == [] and store.topic == []
    store.broken = False
    s.step(0)
    assert source.commits == [1]
    assert load(store.topic).entries.keys() == {"fp-O1"}


def test_a_record_that_is_no_alert_is_counted_and_passed() -> None:
    source, store, ams, clock = Source(), Store(), Alertmanagers(), Clock()
    s = sink(source, store, ams, clock)
    source.records.append(b"not json")
    source.add(alert("O1"))
    s.step(0)
    assert s.counters.records_skipped == 1
    assert source.commits == [2] and ams.last(A) == {"O1": "firing"}


def test_folding_the_same_records_twice_ends_in_the_same_set() -> None:
    records = [alert("O1"), alert("O2", at="2026-11-02T09:00:00+08:00"), alert("O1", "resolved")]
    once, twice = FiringSet(), FiringSet()
    for a in records:
        once.apply(a)
    for a in [*records, *records[1:]]:
        twice.apply(a)
    assert once.entries == twice.entries
    assert list(once.entries) == ["fp-O2"]
