"""The rule hook the live worker runs: the rule files of a directory, judged by ``Engine``.

Shell side (reads files, the monotonic clock): it loads ``rules/*.rule`` with
``dsl.loader.load_rules`` and ``rules/calendars/*.yaml``, and hands every event and tick
to a ``streams.engine.Engine``. Two promises to the people who edit rules live:

* a rule file with errors is logged with its diagnostics and left out; the rules of the
  other files run;
* a reload swaps in the new rule set only when it loads without a single error, so a bad
  edit never takes the running rules down. ``on_tick`` reloads by itself when a rule or
  calendar file changes (checked every ``check_every`` seconds).

The engine's memory is in the tables, so a new rule set carries on with the watches and
alert states of the old one (a watch of a rule that is gone is dropped when it falls due).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dsl.calendar import DEFAULT_CALENDAR, Calendar, CalendarError, load_calendars
from dsl.compiled import CompiledRule
from streams.clock import WatermarkClock
from streams.engine import Engine, EngineError
from streams.models import Alert, Event
from streams.state import Tables

log = logging.getLogger(__name__)


class _Span(Protocol):
    file: str
    line: int
    col: int


class DiagnosticLike(Protocol):
    """What the hook reads of a ``dsl.diagnostics.Diagnostic``."""

    code: str
    message: str
    severity: str

    @property
    def span(self) -> _Span: ...


Loader = Callable[[Sequence[Path]], tuple[Sequence[CompiledRule], Sequence[Any]]]


def load_rule_files(paths: Sequence[Path]) -> tuple[Sequence[CompiledRule], Sequence[Any]]:
    """``dsl.loader.load_rules``, imported when first needed."""
    from dsl.loader import load_rules

    return load_rules(list(paths))


def describe(diag: DiagnosticLike) -> str:
    """``file:line:col: CODE message``: one line for the log."""
    s = diag.span
    return f"{s.file}:{s.line}:{s.col}: {diag.code} {diag.message}"


def _is_error(diag: DiagnosticLike) -> bool:
    return getattr(diag, "severity", "error") == "error"


@dataclass(frozen=True)
class Loaded:
    """The outcome of loading a rule directory: the rules that load, and what is wrong."""

    rules: tuple[CompiledRule, ...]
    calendars: dict[str, Calendar]
    problems: tuple[str, ...]  # errors, one line each; empty when everything loaded


class LiveRules:
    """The worker's ``RuleHook``: rules from ``rules_dir``, safe reloads.

    Deadlines fire only from ``on_tick`` (the engine runs with ``timers_follow_events``
    off): the worker merges several input topics, and one topic's later event must not fire
    deadlines that another topic's earlier events may still meet.

    The worker passes the event-time watermark (``streams.clock``) to ``on_tick``. A caller
    that only has a wall clock gives the hook a ``WatermarkClock`` of its own instead: the
    hook then feeds it every event and, after a restart, resumes it from the engine's
    watermark in ``rule_clock``.
    """

    def __init__(
        self,
        rules_dir: Path,
        *,
        calendars_dir: Path | None = None,
        default_calendar: Calendar = DEFAULT_CALENDAR,
        clock: WatermarkClock | None = None,
        loader: Loader = load_rule_files,
        check_every: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules_dir = Path(rules_dir)
        self.calendars_dir = calendars_dir or self.rules_dir / "calendars"
        self.default_calendar = default_calendar
        self.clock = clock
        self._loader = loader
        self._check_every = check_every
        self._monotonic = monotonic
        self._last_check = monotonic()
        self._signature = self._files_signature()
        self.engine = self._engine_keeping_good_rules(self._load())

    # --- the RuleHook protocol ----------------------------------------------------------

    def on_event(self, tables: Tables, event: Event, seq: int) -> list[Alert]:
        """The engine's alerts for ``event``; the event also moves the hook's own clock."""
        if self.clock is not None:
            self.clock.observe(event.event_time)
        return self.engine.on_event(tables, event, seq)

    def on_tick(self, tables: Tables, now: datetime) -> list[Alert]:
        """Deadlines due by ``now``, or, when the hook has its own clock, by that clock
        (then ``now`` is ignored). Reloads changed rule files first."""
        self._reload_if_changed()
        if self.clock is None:
            return self.engine.on_tick(tables, now)
        clock_now = self.clock.now()
        if clock_now is None:
            # After a restart, before the first event: carry on from the last time judged.
            seen = self.engine.watermark(tables)
            if seen is None:
                return []  # no event ever: nothing can be due
            self.clock.observe(seen)
            clock_now = seen
        return self.engine.on_tick(tables, clock_now)

    # --- loading --------------------------------------------------------------------------

    def rule_files(self) -> list[Path]:
        return sorted(self.rules_dir.glob("*.rule"))

    def reload(self) -> tuple[str, ...]:
        """Swap in the rule set as it is on disk now, only if it loads without errors.

        Returns the problems (empty when the new rules are live); on problems the current
        rules stay live and the problems are logged.
        """
        self._signature = self._files_signature()
        loaded = self._load()
        problems = loaded.problems
        if not problems:
            try:
                engine = Engine(
                    loaded.rules,
                    loaded.calendars,
                    self.default_calendar,
                    timers_follow_events=False,
                )
            except EngineError as exc:
                problems = (str(exc),)
            else:
                self.engine = engine
                log.info("rules reloaded: %d rules live", len(loaded.rules))
                return ()
        for problem in problems:
            log.error("rules not reloaded, the running rules stay live: %s", problem)
        return problems

    def _load(self) -> Loaded:
        try:
            calendars = load_calendars(self.calendars_dir)
        except CalendarError as exc:
            return Loaded((), {}, (str(exc),))
        # The loader rejects a file with errors as a whole and returns the other files'
        # rules, so one bad file does not hide the good ones.
        rules, diags = self._loader(self.rule_files())
        problems = tuple(describe(d) for d in diags if _is_error(d))
        return Loaded(tuple(rules), calendars, problems)

    def _engine_keeping_good_rules(self, loaded: Loaded) -> Engine:
        """The first engine: whatever loads runs, and every problem is logged."""
        for problem in loaded.problems:
            log.error("rule set problem (the rest runs): %s", problem)
        known = loaded.calendars
        rules = [r for r in loaded.rules if r.calendar is None or r.calendar in known]
        for rule in loaded.rules:
            if rule not in rules:
                log.error(
                    "%s: rule %s left out: no calendar %r", rule.source, rule.id, rule.calendar
                )
        try:
            engine = Engine(rules, known, self.default_calendar, timers_follow_events=False)
        except EngineError as exc:
            log.error("no rules run: %s", exc)
            engine = Engine([], known, self.default_calendar, timers_follow_events=False)
        log.info("%d rules live from %s", len(engine.rules), self.rules_dir)
        return engine

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


def live_rules(rules_dir: Path, timezone: str, loader: Loader = load_rule_files) -> LiveRules:
    """The worker's hook: the rules of ``rules_dir``; rules that name no calendar get the
    built-in working week in the deployment's business ``timezone``."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise EngineError(f"unknown business time zone {timezone!r}") from exc
    default = replace(DEFAULT_CALENDAR, zone=zone)
    return LiveRules(rules_dir, default_calendar=default, loader=loader)
