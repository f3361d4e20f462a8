"""What `orderhub dlq replay` does with each dead letter, decided without a broker: where
its record goes, and which letters are not sent (again)."""

from __future__ import annotations

import json

from contract.topics import Topics
from streams.clients.dlq_replay import plan, replay_id, target_of
from streams.core.ingest import DeadLetter, dead_letter, decode

TOPICS = Topics("hub")
ORDER = {
    "event_id": "O9-received",
    "type": "order.received",
    "event_time": "2026-03-09T09:00:00+08:00",
    "source": "erp",
    "order_id": "O9",
    "region": "east",
    "model": "X1",
    "quantity": 3,
    "amount": "30",
}
GOOD = json.dumps(ORDER).encode()


def letter(reason: str, raw: bytes, topic: str = "hub.orders", offset: int = 4) -> DeadLetter:
    return dead_letter(reason, "why", raw, topic, 1, offset)


def test_a_dead_letter_that_is_an_event_goes_to_its_family_topic_keyed_by_its_order() -> None:
    assert target_of(letter("unknown_type", GOOD), TOPICS) == ("hub.orders", b"O9")
    # from a file or the webhook (no topic of ours): by its type, like `orderhub produce`
    assert target_of(letter("unknown_type", GOOD, "file:week.jsonl"), TOPICS)[0] == "hub.orders"
    # wrong_topic: its own family's topic is the fix
    assert target_of(letter("wrong_topic", GOOD, "hub.inventory"), TOPICS)[0] == "hub.orders"


def test_a_record_that_is_no_event_goes_back_where_it_came_from_to_be_dead_lettered_again() -> None:
    assert target_of(letter("not_json", b"{oops", "hub.shipments"), TOPICS) == (
        "hub.shipments",
        None,
    )
    assert target_of(letter("not_json", b"{oops", "webhook"), TOPICS) == ("hub.orders", None)


def test_the_replay_id_is_the_records_content_and_reason_not_its_position() -> None:
    first = letter("not_json", b"{oops", offset=4)
    # the same record dead-lettered again after a replay: another position, the same id
    again = decode(b"{oops", "hub.orders", 0, 88)
    assert isinstance(again, DeadLetter)
    assert replay_id(first) == replay_id(again)
    assert replay_id(first) != replay_id(letter("invalid_value", b"{oops"))
    assert replay_id(first) != replay_id(letter("not_json", b"{oops!"))
    assert len(replay_id(first)) == 32


def test_each_letter_is_planned_once_and_only_what_can_help_is_sent() -> None:
    bad = letter("not_json", b"{oops")
    big = dead_letter("too_large", "big", b"x" * 300_000, "hub.orders", 0, 1)
    letters = [
        (0, letter("unknown_type", GOOD)),
        (1, letter("unknown_type", GOOD, offset=5)),  # the same record twice
        (2, bad),
        (3, letter("rule_error", GOOD, "hub.events")),
        (4, big),
    ]
    planned = plan(letters, {replay_id(bad)}, TOPICS, dry_run=False)
    assert [(p.offset, p.outcome, p.target) for p in planned] == [
        (0, "sent", "hub.orders"),
        (1, "repeated", None),
        (2, "already replayed", None),
        (3, "not needed", None),
        (4, "truncated", None),
    ]
    assert [p.outcome for p in plan(letters[:1], set(), TOPICS, dry_run=True)] == ["would send"]
    assert planned[0].row() == {
        "dead_letter_offset": 0,
        "reason": "unknown_type",
        "source": "hub.orders[1]@4",
        "outcome": "sent",
        "sent_to": "hub.orders",
        "sent_offset": None,
        "replay_id": replay_id(letters[0][1]),
    }
