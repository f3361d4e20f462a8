"""The hook the rule engine plugs into the worker.

The worker calls ``on_event`` after every event has been applied to the tables, and
``on_tick`` every few seconds with the current time: the event-time watermark advancing in
real time (``streams.worker.clock``; the clock lives in the worker, never in the engine). Both
return the alerts to publish; the worker sends them to the alerts topic keyed by
``Alert.fingerprint``. A hook may keep its own memory in the engine's
tables (``rule_timers``, ``rule_alerts``, ``rule_clock``: changelog-backed, so they survive
a restart) but must not write the tables ``streams.core.state.apply_event`` owns.

Delivery is at least once: after a crash the worker re-reads events it had already
handled, and ``on_event`` may see an event twice. Consumers de-duplicate alerts by
fingerprint and status; a hook that keeps its own memory should be idempotent per ``seq``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from contract.events import Alert, Event
from streams.core.state import Tables


class RuleJudge(Protocol):
    """What judges events and the passing of time: every ``RuleHook``, and the bare
    ``streams.core.engine.Engine`` that ``rules test`` runs."""

    def on_event(self, tables: Tables, event: Event, seq: int) -> list[Alert]:
        """Alerts caused by ``event`` (already applied to ``tables``; ``seq`` = its offset)."""
        ...

    def on_tick(self, tables: Tables, now: datetime) -> list[Alert]:
        """Alerts caused by the passing of time (deadlines, SLAs) up to ``now`` (aware)."""
        ...


class RuleHook(RuleJudge, Protocol):
    """What the worker needs from a rule engine: judging, and what it runs."""

    def status(self) -> dict[str, Any]:
        """The rule set running: ``{"version": str | None, "errors": [str, ...]}``.

        ``version`` is the one every alert carries (``Alert.rule_set``); ``errors`` are the
        load problems of the rule files now, one ``file:line:col: CODE message`` each.
        """
        ...


class NoRules:
    """The default hook: no rules, no alerts."""

    def on_event(self, tables: Tables, event: Event, seq: int) -> list[Alert]:
        return []

    def on_tick(self, tables: Tables, now: datetime) -> list[Alert]:
        return []

    def status(self) -> dict[str, Any]:
        return {"version": None, "errors": []}
