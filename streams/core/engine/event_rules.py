"""Event rules (``on TYPE … when …``): fire while ``when`` is true, resolve when it is not.

Each trigger event is decided by the rule's compiled closures (``CompiledRule.decide``:
`where`, the lets, `when`). ``verdict`` turns that into fire, resolve or nothing without
changing anything; ``judge`` acts on it through ``alerts.fire`` / ``alerts.resolve``.
An alert fires again, with the new numbers, every time ``when`` is true; it resolves the
first time a later event for the same key finds ``when`` false, and the resolved alert
carries the lets' values of that evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contract.events import Alert, Event
from dsl.compiled import Decision
from streams.core.engine.alerts import fingerprint, fire, new_alert, resolve, values_text
from streams.core.engine.rules import Judging, Prepared, RuleEnv, bind
from streams.core.engine.state import FiringAlert, read_alert
from streams.core.engine.values import event_numbers, json_value
from streams.core.state import Tables


@dataclass(frozen=True, slots=True)
class Verdict:
    """An event rule fires (``fires``) or resolves ``firing``, the alert of ``key``;
    ``lets``: the lets' values of this evaluation, in order."""

    fires: bool
    lets: tuple[Any, ...]
    key: dict[str, str]
    firing: FiringAlert | None


def verdict(
    prepared: Prepared,
    tables: Tables,
    env: RuleEnv,
    event: Event,
    order: Mapping[str, Any] | None,
    seq: int,
) -> Verdict | None:
    """What an event rule makes of ``event``, without changing anything: None when nothing
    happens (`where` false, a redelivery, `when` false with nothing firing), else fire or
    resolve the alert of the event's key."""
    key = prepared.key_of(event, order)
    fp = fingerprint(prepared.rule.id, "", key)
    firing = read_alert(tables, fp)
    if firing is not None and firing.seq is not None and firing.seq >= seq:
        return None  # this event was judged already
    result: Decision = prepared.rule.decide(bind(env, prepared, key))
    if result is None:
        return None  # `where` is false
    if result is False:
        if firing is None:
            return None  # nothing firing for this key: nothing to resolve
        lets = tuple(env.lets.get(name) for name in prepared.let_names)
        return Verdict(False, lets, key, firing)
    return Verdict(True, result, key, firing)


def judge(
    judging: Judging,
    prepared: Prepared,
    tables: Tables,
    env: RuleEnv,
    event: Event,
    order: Mapping[str, Any] | None,
    seq: int,
) -> list[Alert]:
    """The alert ``event`` fires or resolves for this rule, if any."""
    found = verdict(prepared, tables, env, event, order, seq)
    if found is None:
        return []
    if found.firing is not None and not found.fires:
        values = {n: json_value(v) for n, v in zip(prepared.let_names, found.lets, strict=True)}
        values.update(event_numbers(event))
        why = f"the condition no longer holds ({values_text(values)})"
        return [resolve(tables, found.firing, event, [event.event_id], values, why)]
    bind(env, prepared, found.key)
    env.lets = dict(zip(prepared.let_names, found.lets, strict=True))
    alert = new_alert(
        prepared, "", prepared.outcome, env, event.event_time, [event.event_id], judging.rule_set
    )
    return [fire(tables, alert, seq)]
