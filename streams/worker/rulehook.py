"""The rule hook the live worker runs: the rule files of a directory, judged by ``Engine``.

Shell side (reads files, the monotonic clock): it loads ``rules/*.rule`` and
``rules/calendars/*.yaml`` (``streams.core.ruleload.load_rule_set``, as ``replay`` and
``rules test`` do) and hands every event and tick to a
``streams.core.engine.Engine``. Three promises to the people who edit rules live:

* a rule or calendar file with errors runs its last good version, kept in a durable store
  (``streams.core.ruleset.RuleSetStore``; the worker's is the compacted topic
  ``<prefix>.rulesets``), so neither a bad edit nor a restart with a bad file turns its
  rules off; a file never good is left out; the other files' rules run;
* every file that does not load is a critical ``RULESET-LOAD`` alert (one per file, with
  its diagnostics as ``file:line:col``), resolved when the file loads again; ``status()``
  lists the same diagnostics and the version of the rule set running;
* ``on_tick`` reloads by itself when a rule or calendar file changes (checked every
  ``check_every`` seconds).

The engine's memory is in the tables, so a new rule set carries on with the watches and
alert states of the old one (a watch of a rule that is gone is dropped when it falls due).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from contract.events import Alert, Event
from dsl.calendar import DEFAULT_CALENDAR
from dsl.compiled import CompiledRule
from streams.core.engine import Engine, EngineError, fingerprint
from streams.core.ruleload import (
    FileProblem,
    Loaded,
    Loader,
    RuleSet,
    TextCompiler,
    compile_rule_text,
    load_rule_set,
    location,
)
from streams.core.ruleset import MemoryRuleStore, RuleSetStore, RuleStoreError, changed, version
from streams.core.state import Tables
from streams.worker.clock import WatermarkClock

log = logging.getLogger(__name__)

LOAD_RULE_ID = "RULESET-LOAD"
LOAD_RULE_NAME = "Rule file loads without errors"
# ``rule_clock`` entry: store name -> the firing RULESET-LOAD alert of that file (JSON), so
# that a worker restarted after the file was fixed still resolves it.
OPEN_LOAD_ALERTS = "ruleset-load"


class LiveRules:
    """The worker's ``RuleHook``: rules from ``rules_dir``, safe reloads.

    Deadlines fire only from ``on_tick`` (the engine runs with ``timers_follow_events``
    off): the worker merges several input topics, and one topic's later event must not fire
    deadlines that another topic's earlier events may still meet.

    The worker passes the event-time watermark (``streams.worker.clock``) to ``on_tick``. A caller
    that only has a wall clock gives the hook a ``WatermarkClock`` of its own instead: the
    hook then feeds it every event and, after a restart, resumes it from the engine's
    watermark in ``rule_clock``.
    """

    def __init__(
        self,
        rules_dir: Path,
        *,
        calendars_dir: Path | None = None,
        timezone: str = DEFAULT_CALENDAR.zone.key,
        clock: WatermarkClock | None = None,
        loader: Loader | None = None,
        compile_text: TextCompiler = compile_rule_text,
        store: RuleSetStore | None = None,
        check_every: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``store`` keeps each file's last good text (default: in memory, which outlives a
        reload but not a restart). Rules that name no calendar get the built-in working week
        in the business ``timezone``. Raises ``RuleStoreError`` when the store cannot be
        read, ``EngineError`` for an unknown time zone."""
        self.rules_dir = Path(rules_dir)
        self.calendars_dir = calendars_dir or self.rules_dir / "calendars"
        self.timezone = timezone
        self.clock = clock
        self._loader = loader
        self._compile_text = compile_text
        self._store: RuleSetStore = store if store is not None else MemoryRuleStore()
        self._stored = self._store.load()
        self._fresh: dict[str, str] = {}  # the disk texts that loaded last: to be stored
        self._check_every = check_every
        self._monotonic = monotonic
        self._last_check = monotonic()
        self._signature = self._files_signature()
        # The engine running and, per event type, the ids of the rules it concerns.
        self._concerned: tuple[Engine | None, dict[str, tuple[str, ...]]] = (None, {})
        loaded = self._load()
        try:
            self.engine = self._engine(loaded)
        except EngineError as exc:
            nothing = replace(loaded, rules=(), version=version({}, timezone))
            self.engine = self._engine(nothing)
            self._problems = (*loaded.problems, self._rule_set_problem(exc))
        else:
            self._problems = loaded.problems
            self._keep(loaded.loaded)
        self._log_problems("rule set problem")
        log.info("%d rules live from %s", len(self.engine.rules), self.rules_dir)

    # --- the RuleHook protocol ----------------------------------------------------------

    def on_event(self, tables: Tables, event: Event, seq: int) -> list[Alert]:
        """The engine's alerts for ``event``; the event also moves the hook's own clock."""
        if self.clock is not None:
            self.clock.observe(event.event_time)
        return self.engine.on_event(tables, event, seq)

    def on_tick(self, tables: Tables, now: datetime) -> list[Alert]:
        """Deadlines due by ``now``, or, when the hook has its own clock, by that clock
        (then ``now`` is ignored). Reloads changed rule files first, and fires (or
        resolves) the ``RULESET-LOAD`` alert of each file that does not load (or loads
        again), dated at that same time."""
        self._reload_if_changed()
        at = self._tick_time(tables, now)
        if at is None:
            return []  # no event ever: nothing can be due, no time to date an alert by
        return [*self._load_alerts(tables, at), *self.engine.on_tick(tables, at)]

    def status(self) -> dict[str, Any]:
        """``version``: the rule set running (``Alert.rule_set``); ``errors``: the
        diagnostics of every file that does not load, ``file:line:col: CODE message``;
        ``evaluation_failures``: per rule id, the evaluations that failed on their data."""
        return {
            "version": self.engine.rule_set,
            "errors": [line for problem in self._problems for line in problem.errors],
            # Rule expressions that failed on the data (a missing value): the rule's
            # problem, not the hub's; shown, but they do not make the worker unhealthy.
            "evaluation_failures": dict(self.engine.errors),
        }

    def _tick_time(self, tables: Tables, now: datetime) -> datetime | None:
        if self.clock is None:
            return now
        clock_now = self.clock.now()
        if clock_now is None:
            # After a restart, before the first event: carry on from the last time judged.
            seen = self.engine.watermark(tables)
            if seen is None:
                return None
            self.clock.observe(seen)
            clock_now = seen
        return clock_now

    # --- loading --------------------------------------------------------------------------

    def rule_files(self) -> list[Path]:
        return sorted(self.rules_dir.glob("*.rule"))

    def reload(self) -> tuple[str, ...]:
        """Swap in the rule set as it is on disk now, each file that does not load replaced
        by its last good version.

        Returns the errors (empty when every file loaded as it is). Should the new set not
        make an engine at all, the current rules stay live.
        """
        self._signature = self._files_signature()
        loaded = self._load()
        try:
            engine = self._engine(loaded)
        except EngineError as exc:
            self._problems = (*loaded.problems, self._rule_set_problem(exc))
            self._log_problems("rules not reloaded, the running rules stay live")
        else:
            self.engine = engine
            self._problems = loaded.problems
            self._keep(loaded.loaded)
            self._log_problems("rule set problem")
            log.info(
                "rules reloaded: %d rules live, rule set %s", len(engine.rules), engine.rule_set
            )
        return tuple(self.status()["errors"])

    def _load(self) -> RuleSet:
        return load_rule_set(
            self.rule_files(),
            self.calendars_dir,
            self.timezone,
            stored=self._stored,
            loader=self._loader,
            compile_text=self._compile_text,
        )

    def _engine(self, rule_set: RuleSet) -> Engine:
        engine = rule_set.engine(timers_follow_events=False)
        self._concerned = (engine, concerned_by_type(rule_set.rules))
        return engine

    def rules_for(self, event_type: str) -> tuple[str, ...]:
        """The ids of the rules an event of ``event_type`` is judged by (it triggers, is
        expected or cancels a watch), in the rule set running: the metrics count them."""
        engine, index = self._concerned
        return index.get(event_type, ()) if engine is self.engine else ()

    def _rule_set_problem(self, exc: EngineError) -> FileProblem:
        where = str(self.rules_dir)
        return FileProblem(where, where, (f"{where}:1:1: E000 {exc}",), last_good=False)

    def _keep(self, loaded: Loaded) -> None:
        """Store the text of every file that loaded as it is, as its last good version. A
        store that fails is logged, and the next check (``check_every``) tries again."""
        self._fresh = loaded.fresh
        for name, text in list(changed(loaded.fresh, self._stored)):
            self._save(name, text)

    def _save(self, name: str, text: str) -> None:
        try:
            self._store.save(name, text)
        except RuleStoreError as exc:
            log.error("the last good version of %s is not kept: %s", name, exc)
            return
        self._stored[name] = text

    def _log_problems(self, what: str) -> None:
        for problem in self._problems:
            runs = "its last good version runs" if problem.last_good else "its rules are off"
            for line in problem.errors:
                log.error("%s (%s): %s", what, runs, line)

    # --- load-problem alerts -----------------------------------------------------------------

    def _load_alerts(self, tables: Tables, at: datetime) -> list[Alert]:
        """Fire the alert of each file whose problems are new or changed, resolve those of
        files that load again; remembered in ``rule_clock`` (changelog-backed)."""
        clock = tables["rule_clock"]
        open_alerts: dict[str, Any] = dict(clock.get(OPEN_LOAD_ALERTS) or {})
        alerts: list[Alert] = []
        current = {problem.name: problem for problem in self._problems}
        for name, problem in current.items():
            if not _same_problem(open_alerts.get(name), problem):
                alert = load_alert(problem, at, self.engine.rule_set)
                open_alerts[name] = alert.model_dump(mode="json")
                alerts.append(alert)
        for name in [name for name in open_alerts if name not in current]:
            fired = Alert.model_validate(open_alerts.pop(name))
            # Says what resolved it, with the values at resolution (as the engine's do).
            resolved = {
                "status": "resolved",
                "at": at,
                "message": f"Resolved: {name} loads again (rule set {self.engine.rule_set})",
                "values": {**fired.values, "errors": []},
                "rule_set": self.engine.rule_set,
            }
            alerts.append(fired.model_copy(update=resolved))
        if alerts:
            clock[OPEN_LOAD_ALERTS] = open_alerts  # a new value: Faust sees assignments only
        return alerts

    def _files_signature(self) -> tuple[tuple[str, int, int], ...]:
        paths = [*self.rule_files(), *sorted(self.calendars_dir.glob("*.y*ml"))]
        signature = []
        for path in paths:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # deleted between glob and stat: the next check sees it gone
            signature.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(signature)

    def _reload_if_changed(self) -> None:
        now = self._monotonic()
        if now - self._last_check < self._check_every:
            return
        self._last_check = now
        if self._files_signature() != self._signature:
            self.reload()
            return
        for name, text in list(changed(self._fresh, self._stored)):  # a store that failed
            self._save(name, text)


def concerned_by_type(rules: Iterable[CompiledRule]) -> dict[str, tuple[str, ...]]:
    """Event type -> the ids of the rules it triggers, is expected by or cancels."""
    index: dict[str, list[str]] = {}
    for rule in rules:
        for type_name in sorted(rule.triggers | rule.expect | rule.cancel_on):
            index.setdefault(type_name, []).append(rule.id)
    return {name: tuple(ids) for name, ids in index.items()}


def load_alert(problem: FileProblem, at: datetime, rule_set: str | None) -> Alert:
    """The critical alert of a file that does not load: one per file (its fingerprint is
    the file's store name), every diagnostic in ``values["errors"]``."""
    runs = (
        "its last good version runs"
        if problem.last_good
        else "its rules are off (no good version of it is kept)"
    )
    first = problem.errors[0] if problem.errors else problem.path
    count = len(problem.errors)
    key = {"file": problem.name}
    return Alert(
        fingerprint=fingerprint(LOAD_RULE_ID, "", key),
        rule_id=LOAD_RULE_ID,
        rule_name=LOAD_RULE_NAME,
        severity="critical",
        status="firing",
        key=key,
        message=f"{problem.path} does not load ({count} error(s)); {runs}: {first}",
        values={"errors": list(problem.errors), "last_good": problem.last_good},
        at=at,
        source=location(first),
        rule_set=rule_set,
    )


def _same_problem(fired: Mapping[str, Any] | None, problem: FileProblem) -> bool:
    """Whether the firing alert ``fired`` already says what ``problem`` says."""
    if fired is None:
        return False
    values = fired.get("values") or {}
    return bool(
        values.get("errors") == list(problem.errors)
        and values.get("last_good") == problem.last_good
    )


def live_rules(
    rules_dir: Path,
    timezone: str,
    loader: Loader | None = None,
    *,
    store: RuleSetStore | None = None,
) -> LiveRules:
    """The worker's hook: the rules of ``rules_dir``; rules that name no calendar get the
    built-in working week in the deployment's business ``timezone``; ``store`` keeps the
    last good version of each file (the worker passes ``rulestore.KafkaRuleStore``)."""
    return LiveRules(rules_dir, timezone=timezone, loader=loader, store=store)
