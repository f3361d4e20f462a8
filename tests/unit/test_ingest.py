"""Ingest turns every record into an event or a dead letter that keeps the original bytes."""

from __future__ import annotations

import json

import pytest

from streams.ingest import DeadLetter, decode, encode
from streams.models import OrderConfirmed, StockLevel, parse_event

CONFIRMED = {
    "event_id": "e-1",
    "type": "order.confirmed",
    "event_time": "2026-11-02T09:30:00+08:00",
    "source": "erp",
    "order_id": "SO-1",
    "region": "north",
    "model": "X1",
    "quantity": 12,
    "amount": "3600.00",
}


def _raw(record: object) -> bytes:
    return json.dumps(record).encode()


def _dead(raw: bytes, topic: str = "orderhub.orders") -> DeadLetter:
    result = decode(raw, topic, 2, 41)
    assert isinstance(result, DeadLetter), result
    assert (result.topic, result.partition, result.offset) == (topic, 2, 41)
    assert result.value == raw  # nothing is lost
    return result


def test_a_valid_event_becomes_its_typed_model() -> None:
    event = decode(_raw(CONFIRMED), "orderhub.orders", 0, 7)
    assert isinstance(event, OrderConfirmed)
    assert (event.order_id, event.region, event.model, event.quantity) == (
        "SO-1",
        "north",
        "X1",
        12,
    )


def test_the_canonical_encoding_parses_back_to_the_same_event() -> None:
    event = decode(_raw(CONFIRMED), "orderhub.orders", 0, 7)
    assert isinstance(event, OrderConfirmed)
    assert parse_event(json.loads(encode(event))) == event


def test_the_events_topic_accepts_every_family() -> None:
    stock = {**CONFIRMED, "type": "inventory.stock_level", "on_hand": 5}
    for key in ("order_id", "region", "quantity", "amount"):
        del stock[key]
    assert isinstance(decode(_raw(stock), "orderhub.events", 0, 1), StockLevel)


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b""])
def test_bytes_that_are_not_json_are_not_json(raw: bytes) -> None:
    dead = _dead(raw)
    assert dead.reason == "not_json"
    assert dead.error.startswith("not valid JSON")


@pytest.mark.parametrize("record", [[1, 2], "order", 42, None])
def test_json_that_is_not_an_object_is_not_object(record: object) -> None:
    assert _dead(_raw(record)).reason == "not_object"


def test_an_unknown_or_missing_type_is_unknown_type() -> None:
    dead = _dead(_raw({**CONFIRMED, "type": "order.teleported"}))
    assert dead.reason == "unknown_type"
    assert "order.teleported" in dead.error
    no_type = {k: v for k, v in CONFIRMED.items() if k != "type"}
    assert _dead(_raw(no_type)).reason == "unknown_type"


def test_a_negative_quantity_is_invalid_and_names_the_field() -> None:
    dead = _dead(_raw({**CONFIRMED, "quantity": -3}))
    assert dead.reason == "invalid"
    assert dead.error.startswith("quantity: ")


def test_a_missing_field_is_invalid_and_names_the_field() -> None:
    dead = _dead(_raw({k: v for k, v in CONFIRMED.items() if k != "region"}))
    assert dead.reason == "invalid"
    assert dead.error == "region: Field required"


def test_a_naive_event_time_is_invalid() -> None:
    dead = _dead(_raw({**CONFIRMED, "event_time": "2026-11-02T09:30:00"}))
    assert dead.reason == "invalid"
    assert dead.error.startswith("event_time: ")


def test_an_event_on_another_familys_topic_is_wrong_topic() -> None:
    dead = _dead(_raw(CONFIRMED), topic="acme.orderhub.inventory")
    assert dead.reason == "wrong_topic"
    assert dead.error == (
        "order.confirmed is an event of the orders family; "
        "acme.orderhub.inventory carries inventory"
    )


def test_a_dead_letter_round_trips_as_json() -> None:
    dead = _dead(b"\x00garbage")
    again = DeadLetter.model_validate_json(dead.model_dump_json())
    assert again == dead
    assert again.value == b"\x00garbage"
