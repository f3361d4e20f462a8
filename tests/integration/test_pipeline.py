"""The worker against a real broker: exact in-transit tables, and bad records dead-lettered."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.stream_harness import Worker, lines

pytestmark = pytest.mark.integration

T0 = "2026-11-02T09:00:00+08:00"


def order(event_id: str, type_: str, order_id: str, region: str, model: str, **f: Any) -> Any:
    return {
        "event_id": event_id,
        "type": type_,
        "event_time": T0,
        "source": "erp",
        "order_id": order_id,
        "region": region,
        "model": model,
        **f,
    }


def confirmed(order_id: str, region: str, model: str, qty: int) -> Any:
    return order(
        f"{order_id}-c", "order.confirmed", order_id, region, model, quantity=qty, amount="100.00"
    )


def delivered(order_id: str, region: str, model: str, qty: int, n: int = 1) -> Any:
    return order(f"{order_id}-d{n}", "order.delivered", order_id, region, model, quantity=qty)


@pytest.fixture
def worker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Worker]:
    w = Worker(bootstrap=kafka_bootstrap, home=tmp_path / "home")
    w.start()
    yield w
    w.stop()


def test_in_transit_tables_hold_exact_quantities_before_and_after_deliveries(
    worker: Worker,
) -> None:
    worker.publish(
        lines(
            [
                confirmed("A", "north", "X1", 10),
                confirmed("B", "north", "X2", 5),
                confirmed("C", "east", "X1", 7),
                # received but not yet confirmed: not in transit
                order("D-r", "order.received", "D", "east", "X2", quantity=3, amount="9.00"),
                confirmed("A", "north", "X1", 10),  # the same event sent twice
            ]
        )
    )
    worker.caught_up()
    assert worker.qty("in_transit_region") == {"north": 15, "east": 7}
    assert worker.qty("in_transit_model") == {"X1": 17, "X2": 5}
    assert worker.qty("in_transit_region_model") == {"north|X1": 10, "north|X2": 5, "east|X1": 7}

    worker.publish(
        lines(
            [
                delivered("A", "north", "X1", 4),  # partial delivery
                delivered("C", "east", "X1", 7),
                delivered("C", "east", "X1", 7),  # a retry of the same delivery
                order("B-x", "order.cancelled", "B", "north", "X2"),
                confirmed("E", "west", "X2", 2),
            ]
        )
    )
    worker.caught_up()
    assert worker.qty("in_transit_region") == {"north": 6, "east": 0, "west": 2}
    assert worker.qty("in_transit_model") == {"X1": 6, "X2": 2}
    assert worker.qty("in_transit_region_model") == {
        "north|X1": 6,
        "north|X2": 0,
        "east|X1": 0,
        "west|X2": 2,
    }
    orders = worker.table("orders")
    assert (orders["C"]["status"], orders["C"]["delivered"]) == ("delivered", 7)
    assert orders["B"]["status"] == "cancelled"


def test_malformed_records_are_dead_lettered_with_reason_and_bytes(worker: Worker) -> None:
    bad_json = b'{"event_id": "bad-1", "type": "order.confirmed", '
    missing = json.dumps(
        {k: v for k, v in confirmed("M", "south", "X1", 1).items() if k != "region"}
    )
    negative = json.dumps(confirmed("N", "south", "X1", -2))
    unknown = json.dumps({**confirmed("U", "south", "X1", 1), "type": "order.teleported"})
    worker.publish(
        [
            json.dumps(confirmed("V1", "south", "X1", 3)).encode(),
            bad_json,
            missing.encode(),
            json.dumps(confirmed("V2", "south", "X3", 4)).encode(),
            negative.encode(),
            unknown.encode(),
            json.dumps(delivered("V1", "south", "X1", 1)).encode(),
        ]
    )
    worker.caught_up()
    assert worker.qty("in_transit_region_model") == {"south|X1": 2, "south|X3": 4}

    letters = [json.loads(r.value) for r in worker.read(worker.topics.dead_letter, 4)]
    by_value = {base64.b64decode(d["value_base64"]): d for d in letters}
    assert {value: d["reason"] for value, d in by_value.items()} == {
        bad_json: "not_json",
        missing.encode(): "missing_field",
        negative.encode(): "invalid_value",
        unknown.encode(): "unknown_type",
    }
    assert by_value[missing.encode()]["error"] == "region: Field required"
    assert by_value[negative.encode()]["error"].startswith("quantity: ")
    assert {d["topic"] for d in letters} == {worker.topics.family("orders")}


def test_an_event_on_the_wrong_input_topic_is_dead_lettered(worker: Worker) -> None:
    record = json.dumps(confirmed("W", "north", "X1", 9)).encode()
    worker.publish([record], topic="inventory")
    worker.caught_up()
    assert worker.qty("in_transit_region") == {}
    [letter] = [json.loads(r.value) for r in worker.read(worker.topics.dead_letter, 1)]
    assert letter["reason"] == "wrong_topic"
    assert letter["topic"] == worker.topics.family("inventory")
    assert base64.b64decode(letter["value_base64"]) == record
