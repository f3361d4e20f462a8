"""Ingest turns every record into an event or a dead letter that keeps the original bytes."""

from __future__ import annotations

import hashlib
import json

import pytest

from contract.events import OrderConfirmed, StockLevel, parse_event
from streams.core.ingest import (
    MAX_ERROR_CHARS,
    MAX_RECORD_BYTES,
    PREFIX_BYTES,
    DeadLetter,
    dead_letter,
    decode,
    encode,
    shrunk,
)

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


@pytest.mark.parametrize("raw", [b"{not json", b""])
def test_text_that_is_not_json_is_not_json(raw: bytes) -> None:
    dead = _dead(raw)
    assert dead.reason == "not_json"
    assert dead.error.startswith("not valid JSON")


@pytest.mark.parametrize("raw", [b"\xff\xfe", b'{"type": "\xed\xa0\x80"}', b"\x80{}"])
def test_bytes_that_are_not_utf8_are_not_utf8_whatever_the_bytes(raw: bytes) -> None:
    dead = _dead(raw)
    assert dead.reason == "not_utf8"
    assert dead.error.startswith("not UTF-8: byte ")


def test_a_lone_surrogate_escape_is_not_utf8_and_its_letter_is_json() -> None:
    raw = _raw({**CONFIRMED, "order_id": "\ud800"})  # json.dumps writes the escape \ud800
    dead = _dead(raw)
    assert (dead.reason, dead.error.split(":")[0]) == ("not_utf8", "order_id")
    assert DeadLetter.model_validate_json(dead.model_dump_json().encode()) == dead


@pytest.mark.parametrize("record", [[1, 2], "order", 42, None])
def test_json_that_is_not_an_object_is_not_object(record: object) -> None:
    assert _dead(_raw(record)).reason == "not_object"


def test_an_unknown_type_is_unknown_type_and_a_missing_one_missing_type() -> None:
    dead = _dead(_raw({**CONFIRMED, "type": "order.teleported"}))
    assert dead.reason == "unknown_type"
    assert "order.teleported" in dead.error
    no_type = _dead(_raw({k: v for k, v in CONFIRMED.items() if k != "type"}))
    assert (no_type.reason, no_type.error) == (
        "missing_type",
        'no "type" field: which event is it?',
    )


@pytest.mark.parametrize(
    ("change", "reason", "error"),
    [
        ({"quantity": -3}, "invalid_value", "quantity: Input should be greater than or equal to 0"),
        ({"quantity": 10**30}, "invalid_value", "quantity: Input should be less than or equal"),
        ({"region": None}, "missing_field", "region: Field required"),
        ({"colour": "red"}, "unknown_field", "colour: Extra inputs are not permitted"),
        ({"event_time": "yesterday"}, "invalid_time", "event_time: Input should be a valid"),
        ({"event_time": "2026-11-02T09:30:00"}, "time_without_offset", "event_time: Input should"),
        ({"event_time": "1730512800"}, "time_without_offset", "event_time: epoch seconds are not"),
        ({"event_time": 1730512800}, "time_without_offset", "event_time: epoch seconds are not"),
        ({"promised_date": "soon"}, "invalid_time", "promised_date: Input should be a valid date"),
    ],
)
def test_each_kind_of_fault_has_its_own_reason_and_names_the_field(
    change: dict[str, object], reason: str, error: str
) -> None:
    record = {k: v for k, v in {**CONFIRMED, **change}.items() if v is not None}
    dead = _dead(_raw(record))
    assert (dead.reason, dead.error[: len(error)]) == (reason, error)


@pytest.mark.parametrize(
    "time", ["2026-11-02T09:30:00+08:00", "2026-11-02T01:30:00Z", "2026-11-02 09:30:00+08:00"]
)
def test_a_time_with_its_offset_is_accepted(time: str) -> None:
    event = decode(_raw({**CONFIRMED, "event_time": time}), "orderhub.orders", 0, 7)
    assert isinstance(event, OrderConfirmed)
    assert event.event_time.isoformat() in (
        "2026-11-02T09:30:00+08:00",
        "2026-11-02T01:30:00+00:00",
    )


@pytest.mark.parametrize(
    "raw",
    [b"[" * 100_000, b'{"type": "order.confirmed", "quantity": ' + b"9" * 5000 + b"}"],
)
def test_json_too_deep_or_a_number_too_long_is_a_dead_letter_not_a_crash(raw: bytes) -> None:
    dead = _dead(raw)
    assert dead.reason == "invalid_value"
    assert dead.error.startswith("JSON too big to hold: ")


def test_a_record_over_the_limit_is_too_large_with_its_prefix_size_and_hash() -> None:
    raw = b"\x00not json" * 100_000  # 900 KB
    result = decode(raw, "orderhub.orders", 2, 41)
    assert isinstance(result, DeadLetter)
    assert (result.reason, result.size, result.truncated) == ("too_large", 900_000, True)
    assert result.sha256 == hashlib.sha256(raw).hexdigest()
    assert result.value == raw[:PREFIX_BYTES]
    assert (result.topic, result.partition, result.offset) == ("orderhub.orders", 2, 41)
    assert len(result.model_dump_json()) < 10_000  # fits any broker's limit


def test_a_valid_event_over_the_limit_is_too_large_too() -> None:
    raw = _raw({**CONFIRMED, "x": "y" * MAX_RECORD_BYTES})
    assert _dead_reason(raw) == "too_large"
    assert _dead_reason(raw[: MAX_RECORD_BYTES - 1]) != "too_large"


def _dead_reason(raw: bytes) -> str:
    result = decode(raw, "orderhub.orders", 0, 0)
    assert isinstance(result, DeadLetter)
    return result.reason


def test_a_huge_error_text_is_cut_so_the_letter_stays_small() -> None:
    dead = _dead(_raw({**CONFIRMED, "type": "t" * 200_000}))
    assert dead.reason == "unknown_type"
    assert len(dead.error) < MAX_ERROR_CHARS + 100
    assert not dead.truncated and dead.value == _raw({**CONFIRMED, "type": "t" * 200_000})


def test_shrunk_cuts_a_letter_to_its_prefix_keeping_size_and_hash() -> None:
    raw = b"x" * 200_000
    letter = dead_letter("rule_error", "boom", raw, "orderhub.events", 0, 9)
    small = shrunk(letter, 50_000)
    assert (small.size, small.sha256, small.truncated) == (200_000, letter.sha256, True)
    assert small.value == raw[:PREFIX_BYTES]
    assert shrunk(letter, 10**7) == letter


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
