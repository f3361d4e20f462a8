"""The demo week shows the rule catalogue at work, and stays that way.

``make run`` publishes ``deploy/demo/events.jsonl``; a newcomer should see the rules fire.
These tests replay the committed file through the real rules (``rules/``), the way
``orderhub replay --rules rules deploy/demo/events.jsonl`` does, and check that every
rule the demo stages a story for still fires, that the caps can be checked everywhere
(CAP-LIMITS silent), that the demo is not noisy, and that only the three intentionally
malformed lines are rejected. A rule change that silences a story fails here; then fix the
story in ``deploy/demo/generate.py`` (or the rule) and regenerate the file.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from streams.offline.replay import Replay, load_engine, run
from tests.streams.offline.event_lines import read_events

ROOT = Path(__file__).parents[2]
DEMO = ROOT / "deploy" / "demo" / "events.jsonl"
RULES = ROOT / "rules"

# Every rule with a story in the demo (see the docstring of deploy/demo/generate.py).
STAGED = (
    "CAP-1",
    "CAP-2",
    "DEP-1",
    "DEP-2",
    "DEP-3",
    "APR-1",
    "INV-1",
    "INV-1-REPORTED",
    "CHG-1",
    "CHG-2",
    "REL-1",
    "REL-2",
    "SLA-1",
    "SLA-2",
    "SLA-3",
    "SLA-4",
    "SLA-5",
    "SLA-6",
    "SLA-6-DELAY",
    "SLA-7",
    "SLA-8",
    "SLA-9",
    "SLA-10",
    "DEL-1",
    "DEL-1-ETA",
)

# The three malformed records, by line number: truncated JSON, a negative quantity and an
# unknown event type.
MALFORMED = {119: "bad-1", 238: "bad-2", 358: "bad-3"}


@pytest.fixture(scope="module")
def demo() -> tuple[Replay, dict[int, str]]:
    rejected: dict[int, str] = {}

    def bad(line: int, reason: str) -> None:
        rejected[line] = reason

    with DEMO.open(encoding="utf-8") as lines:
        events = list(read_events(lines, bad))
    return run(load_engine(RULES), events, None), rejected


def firings(replay: Replay) -> Counter[str]:
    return Counter(a.rule_id for a in replay.alerts if a.status == "firing")


@pytest.mark.parametrize("rule_id", STAGED)
def test_every_staged_rule_fires_at_least_once(
    demo: tuple[Replay, dict[int, str]], rule_id: str
) -> None:
    replay, _ = demo
    assert firings(replay)[rule_id] >= 1, f"the demo no longer shows {rule_id}"


def test_dep2_fires_its_seven_day_tier(demo: tuple[Replay, dict[int, str]]) -> None:
    replay, _ = demo
    dep2 = [a for a in replay.alerts if a.rule_id == "DEP-2" and a.status == "firing"]
    assert any(a.severity == "warning" and "within 7 days" in a.message for a in dep2)


def test_every_region_and_model_has_limits_so_cap_limits_is_silent(
    demo: tuple[Replay, dict[int, str]],
) -> None:
    replay, _ = demo
    assert [a for a in replay.alerts if a.rule_id == "CAP-LIMITS"] == []


def test_most_orders_are_clean(demo: tuple[Replay, dict[int, str]]) -> None:
    replay, _ = demo
    total = sum(firings(replay).values())
    assert 25 <= total <= 60, f"{total} firings: the demo should show the rules, not drown"
    assert replay.errors == {}, "every rule evaluates on every demo event"


def test_only_the_three_malformed_lines_are_rejected(
    demo: tuple[Replay, dict[int, str]],
) -> None:
    _, rejected = demo
    assert set(rejected) == set(MALFORMED)
    assert rejected[119].startswith("not JSON")
    assert rejected[238].startswith("quantity:")
    assert rejected[358].startswith("unknown event type 'order.teleported'")
    lines = DEMO.read_text(encoding="utf-8").splitlines()
    for number, event_id in MALFORMED.items():
        assert f'"{event_id}"' in lines[number - 1]
