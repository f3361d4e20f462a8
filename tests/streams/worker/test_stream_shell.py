"""The pure parts of the stream shell: topic layout, routing, catch-up, display, demo data."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from contract.topics import Topics, routing_key, topic_family
from deploy.demo.generate import generate
from orderhub.display import in_transit, in_transit_text
from streams.clients.kafka_io import route_line
from streams.clients.worker_api import lagging
from streams.core.ingest import DeadLetter, decode
from streams.core.state import apply_event, empty_tables

DEMO = Path(__file__).parents[3] / "deploy" / "demo" / "events.jsonl"


def test_the_events_topic_has_one_partition_and_inputs_have_the_configured_count() -> None:
    specs = {s.name: s.partitions for s in Topics("acme").specs(input_partitions=6)}
    assert specs == {
        "acme.orders": 6,
        "acme.inventory": 6,
        "acme.shipments": 6,
        "acme.plans": 6,
        "acme.corrections": 6,
        "acme.events": 1,
        "acme.alerts": 1,
        "acme.dead-letter": 1,
        "acme.rulesets": 1,
        "acme.assessment": 1,
        "acme.dead-letter-replays": 1,
    }


def test_the_rulesets_topic_is_compacted_so_each_file_keeps_its_last_good_text() -> None:
    [spec] = [s for s in Topics("acme").specs(input_partitions=3) if s.name == "acme.rulesets"]
    assert dict(spec.config) == {"cleanup.policy": "compact"}


def test_the_replay_markers_are_compacted_so_each_replayed_letter_is_remembered() -> None:
    specs = {s.name: dict(s.config) for s in Topics("acme").specs(input_partitions=3)}
    assert specs["acme.dead-letter-replays"] == {"cleanup.policy": "compact"}


def test_the_family_of_a_topic_is_its_last_dotted_part() -> None:
    assert topic_family("a.b.orders") == "orders"
    assert topic_family("orderhub.events") is None


def test_records_are_keyed_by_order_then_model_then_region_and_plans_by_region() -> None:
    assert routing_key({"order_id": "O1", "model": "X", "region": "r"}, "orders") == "O1"
    assert routing_key({"model": "X", "region": "r"}, "inventory") == "X"
    assert routing_key({"model": "X", "region": "r"}, "plans") == "r"
    assert routing_key({"quantity": 1}, None) is None


def test_the_producer_routes_by_family_and_sends_bad_lines_unchanged_to_the_fallback() -> None:
    topics = Topics("oh")
    stock = b'{"type": "inventory.stock_level", "model": "X1"}'
    routed = route_line(stock, topics, "oh.orders")
    assert (routed.topic, routed.key, routed.value) == ("oh.inventory", b"X1", stock)
    for bad in (b"{oops", b"[1]", b'{"type": "nope", "order_id": "O"}'):
        routed = route_line(bad, topics, "oh.orders")
        assert (routed.topic, routed.value) == ("oh.orders", bad)


def test_a_partition_is_caught_up_by_progress_or_else_by_the_committed_offset() -> None:
    ends = {"t.orders[0]": 5, "t.orders[1]": 3, "t.events[0]": 8}
    progress = {"t.orders": {"0": 5}, "t.events": {"0": 7}}
    assert lagging(ends, progress, committed={"t.orders[1]": 3}) == ["t.events[0]"]
    assert lagging(ends, progress, committed={}) == ["t.events[0]", "t.orders[1]"]


def test_the_in_transit_report_lists_zero_rows_and_totals() -> None:
    report = in_transit(
        {
            "region": {"north": {"qty": 3}, "east": {"qty": 0}},
            "model": {"X1": {"qty": 3}},
            "region_model": {"north|X1": {"qty": 3}, "east|X1": {"qty": 0}},
        }
    )
    assert report["region"] == {"east": 0, "north": 3}
    text = in_transit_text(report)
    assert "total     3" in text
    assert "east    X1       0" in text


def test_the_demo_file_is_the_generators_output_and_only_the_bad_lines_are_dead() -> None:
    lines = DEMO.read_bytes().splitlines()
    assert lines == generate(2026)
    reasons: Counter[str] = Counter()
    tables = empty_tables()
    for seq, line in enumerate(lines):
        result = decode(line, "orderhub.events", 0, seq)
        if isinstance(result, DeadLetter):
            reasons[result.reason] += 1
        else:
            # The week, plus October's lead-in for the special order's pick-up window.
            assert "2026-10-21" <= result.event_time.date().isoformat() <= "2026-11-08"
            apply_event(tables, result, seq)
    assert reasons == {"not_json": 1, "invalid_value": 1, "unknown_type": 1}
    regions = {k: v["qty"] for k, v in tables["in_transit_region"].items()}
    assert set(regions) == {"north", "east", "south", "west"}
    assert all(qty > 0 for qty in regions.values())


def test_demo_releases_are_mostly_on_mondays_and_thursdays() -> None:
    days: Counter[str] = Counter()
    for line in DEMO.read_bytes().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("type") == "order.released":
            days[record["event_time"][:10]] += 1
    on_release_days = days["2026-11-02"] + days["2026-11-05"]
    assert on_release_days >= 0.8 * sum(days.values())
    assert on_release_days < sum(days.values())  # and a few scattered ones (REL-1)


def test_starting_a_detached_worker_again_keeps_the_running_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` twice: the second start reports the live worker and spawns nothing."""
    from contract.settings import Settings
    from streams.worker import control as worker

    settings = Settings(home=tmp_path)
    files = worker.WorkerFiles.of(settings)
    files.pid.parent.mkdir(parents=True, exist_ok=True)
    files.pid.write_text(f"{os.getpid()}\n")  # a live process stands in for the worker
    monkeypatch.setattr(worker.subprocess, "Popen", None)  # any spawn would fail loudly
    assert worker.start_detached(settings) == (os.getpid(), False)
