"""Assessment facts: the same rows whatever the order and however often an event comes,
and one codec the changelog table keeps."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

from contract.events import Event, parse_event
from streams.core.assessment.facts import (
    FactRules,
    Facts,
    expired,
    feed,
    key_of,
    row_from_json,
    row_json,
    row_key,
)

ROOT = Path(__file__).parents[4]
RULES = FactRules(ZoneInfo("Asia/Shanghai"), {"order.received": ("SLA-1",)})


def _events() -> list[Event]:
    lines = (ROOT / "deploy" / "demo" / "month.jsonl").read_text(encoding="utf-8").splitlines()
    return [parse_event(json.loads(line)) for line in lines[:400]]


def _fed(events: list[Event]) -> dict[str, object]:
    facts: Facts = {}
    for event in events:
        feed(facts, event, RULES)
    return {row_key(k): row_json(v) for k, v in facts.items()}


def test_repeats_and_order_do_not_change_the_facts() -> None:
    events = _events()
    once = _fed(events)
    assert once == _fed(list(reversed(events)) + events[::3])
    assert len(once) > 20


def test_a_later_plan_line_replaces_an_earlier_one_in_either_order() -> None:
    base = {
        "type": "plan.daily",
        "source": "t",
        "region": "north",
        "model": "X100",
        "week_start": "2026-10-12",
        "day": "2026-10-13",
        "compiled_by": "li",
        "approved_by": "zhao",
    }
    first = parse_event(
        {**base, "event_id": "a", "event_time": "2026-10-09T09:00:00+08:00", "quantity": 10}
    )
    second = parse_event(
        {**base, "event_id": "b", "event_time": "2026-10-10T09:00:00+08:00", "quantity": 12}
    )
    assert _fed([first, second]) == _fed([second, first])
    row = _fed([second, first])["2026-10-13|north"]
    assert row["plan"]["X100"]["quantity"] == 12  # type: ignore[index]


def test_the_codec_round_trips_and_keys_survive_a_bar_in_the_region() -> None:
    facts: Facts = {}
    for event in _events():
        feed(facts, event, RULES)
    for key, row in facts.items():
        assert row_from_json(json.loads(json.dumps(row_json(row)))) == row
        assert key_of(row_key(key)) == key
    assert key_of(row_key(("a|b", facts and next(iter(facts))[1])))[0] == "a|b"


def test_months_older_than_the_retention_expire() -> None:
    facts: Facts = {}
    for event in _events():
        feed(facts, event, RULES)
    # The demo month (September 2026) is kept while it is among the months kept.
    assert expired(facts, "2026-09", 1) == []
    assert expired(facts, "2026-10", 2) == []
    assert expired(facts, "2026-10", 1) == list(facts)
    assert expired(facts, "2027-11", 13) == sorted(facts, key=list(facts).index)
