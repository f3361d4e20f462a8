"""Alerts: their identity, how one is made, and the one way one fires and one resolves.

``fire`` sends a new alert and remembers it in ``rule_alerts`` while it fires; ``resolve``
sends the resolved alert and forgets it, so the table follows what fires now, not the
history (the worker's commit journal, not this table, keeps an event from being judged
twice: ``streams.worker.judging``). Every rule kind goes through these two.

A firing alert's ``values`` are the rule's lets, the trigger event's numbers as
``event.FIELD``, and ``start``/``deadline`` for deadline rules (``streams.core.engine.values``
says how they are written). A resolved alert keeps the firing alert's identity, severity,
key, labels, penalty and rule-set version; its ``at`` and ``triggered_by`` are those of the
event that resolved it, its ``values`` are the values at resolution (an event rule's lets
now, the resolving event's numbers) and its ``message`` says what resolved it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from contract.events import Alert, Event, Penalty
from dsl.builtins import EvaluationFailed
from dsl.compiled import Outcome
from streams.core.engine.rules import Prepared, RuleEnv
from streams.core.engine.state import FiringAlert, write_alert
from streams.core.engine.values import duration_text, event_numbers, json_value
from streams.core.state import Tables

_CENT = Decimal("0.01")


def fingerprint(rule_id: str, tier: str, key: Mapping[str, str]) -> str:
    """Stable alert identity: sha256 of rule id, tier name and key, first 16 hex digits.

    Event rules have the tier name ``""``.
    """
    # ``key_text`` written out: this runs for every event rule that fires or resolves.
    text = f"{rule_id}\n{tier}\n" + "|".join([f"{name}={value}" for name, value in key.items()])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _penalty(outcome: Outcome, env: RuleEnv) -> Penalty | None:
    if outcome.penalty is None:
        return None
    amount = outcome.penalty.amount(env)
    who = outcome.penalty.who(env)
    if amount is None or who is None:
        raise EvaluationFailed("the penalty's amount or person is missing")
    try:
        cents = Decimal(amount).quantize(_CENT)
    except ArithmeticError as err:  # an amount too large for its cents
        raise EvaluationFailed(f"the penalty's amount {amount}: {err}") from err
    return Penalty(amount=cents, who=str(who))


def new_alert(
    prepared: Prepared,
    tier: str,
    outcome: Outcome,
    env: RuleEnv,
    at: datetime,
    triggered_by: list[str],
    rule_set: str | None,
) -> Alert:
    """The firing alert of ``outcome`` on ``env`` (lets evaluated, key bound)."""
    rule = prepared.rule
    values = {name: json_value(value) for name, value in env.lets.items()}
    values.update(event_numbers(env.event))
    if env.start is not None:
        values["start"] = env.start.isoformat()
    if env.deadline is not None:
        values["deadline"] = env.deadline.isoformat()
    message = outcome.message(env)
    return Alert(
        fingerprint=fingerprint(rule.id, tier, env.key),
        rule_id=rule.id,
        rule_name=rule.name,
        severity=outcome.severity,
        status="firing",
        key=dict(env.key),
        labels=dict(rule.labels),
        message=str(message),
        values=values,
        triggered_by=triggered_by,
        at=at,
        source=rule.source,
        penalty=_penalty(outcome, env),
        rule_set=rule_set,
    )


def fire(tables: Tables, alert: Alert, seq: int | None) -> Alert:
    """Remember ``alert`` as firing (``seq``: the event that fired it) and return it."""
    write_alert(tables, FiringAlert(alert=alert, seq=seq))
    return alert


def resolve(
    tables: Tables,
    firing: FiringAlert,
    event: Event,
    by: list[str],
    values: dict[str, Any],
    why: str,
) -> Alert:
    """The firing alert, resolved by ``event`` and forgotten: ``values`` are its values at
    resolution, its message names the event and says ``why``."""
    del tables["rule_alerts"][firing.alert.fingerprint]
    message = f"Resolved by {event.type} {event.event_id}: {why}"
    update = {"status": "resolved", "at": event.event_time, "triggered_by": by}
    return firing.alert.model_copy(update={**update, "values": values, "message": message})


def values_text(values: Mapping[str, Any]) -> str:
    """``"stock 100, cap 50, event.quantity 90"``: values in a resolved alert's message."""
    return ", ".join(f"{name} {value}" for name, value in values.items())


def lateness(at: datetime, deadline: datetime) -> str:
    """How ``at`` stands to ``deadline``, for a resolved deadline alert's message."""
    if at > deadline:
        return f"{duration_text(at - deadline)} after the deadline {deadline.isoformat()}"
    return f"the deadline was {deadline.isoformat()}"
