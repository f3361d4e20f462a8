"""One load of the live rule directory: each file as it is on disk when it loads, else the
last good text the store kept of it.

``dsl.loader.load_rules`` rejects a rule file with errors as a whole and returns the other
files' rules; here such a file is replaced by its last good text (``streams.core.ruleset``
store), compiled under the file's own name so its alerts point at the same ``source``. The
same holds for a calendar file. Every file that does not load is a ``FileProblem``: its
diagnostics as ``file:line:col: CODE message`` and whether its last good version runs.

Shell side: reads files. The store itself is passed in already read (``stored``), and what
loaded cleanly comes back in ``Loaded.fresh`` for the caller to keep.

``load_rule_set`` is the one way a rule set is built: the worker, ``replay`` and
``rules test`` call it with the deployment's time zone (read by the command-line shell from
``ORDERHUB_TIMEZONE``; nothing here reads the environment).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dsl.calendar import DEFAULT_CALENDAR, Calendar, CalendarError, calendar_from_text
from dsl.compiled import CompiledRule
from streams.core.engine import Engine, EngineError
from streams.core.ruleset import calendar_file_name, calendar_files, rule_file_name, version

log = logging.getLogger(__name__)

IO_ERROR = "E000"  # as ``dsl.loader``: a file that cannot be read
CALENDAR_ERROR = "E010"  # a calendar file that is not valid YAML or not a calendar
DUPLICATE_ID = "E206"  # as ``dsl.loader``: a rule id defined twice
_WHERE = re.compile(r"^(?P<file>.*?):(?P<line>\d+):(?P<col>\d+): ")


class _Span(Protocol):
    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def col(self) -> int: ...


class DiagnosticLike(Protocol):
    """What the hook reads of a ``dsl.diagnostics.Diagnostic``."""

    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def span(self) -> _Span: ...


Loader = Callable[[Sequence[Path]], tuple[Sequence[CompiledRule], Sequence[Any]]]
# (text, file name, known calendar names or None) -> (rules, errors as ``describe`` lines)
TextCompiler = Callable[[str, str, Collection[str] | None], tuple[list[CompiledRule], list[str]]]


def load_rule_files(
    paths: Sequence[Path], calendars_dir: Path | None = None
) -> tuple[Sequence[CompiledRule], Sequence[Any]]:
    """``dsl.loader.load_rules``, imported when first needed (calendar names from
    ``calendars_dir``, else from a ``calendars`` folder next to the rules)."""
    from dsl.loader import load_rules

    return load_rules(list(paths), calendars_dir)


def describe(diag: DiagnosticLike) -> str:
    """``file:line:col: CODE message``: one line for the log, the alert and the status."""
    s = diag.span
    return f"{s.file}:{s.line}:{s.col}: {diag.code} {diag.message}"


def is_error(diag: DiagnosticLike) -> bool:
    return getattr(diag, "severity", "error") == "error"


def compile_rule_text(
    text: str, file: str, calendars: Collection[str] | None
) -> tuple[list[CompiledRule], list[str]]:
    """The rules of one rule file's ``text`` as ``dsl.loader`` compiles a file (parse, check,
    compile; a test pins the two together), or its errors."""
    from dsl.check import check
    from dsl.compile import compile_file
    from dsl.parser import parse

    parsed = parse(text, file)
    checked = check(parsed.tree, calendars)
    errors = [describe(d) for d in [*parsed.diagnostics, *checked.diagnostics] if is_error(d)]
    if errors:
        return [], errors
    return compile_file(parsed.tree, checked), []


def location(problem_line: str) -> str:
    """``file:line`` of a ``file:line:col: CODE message`` line (the line itself otherwise)."""
    found = _WHERE.match(problem_line)
    return f"{found['file']}:{found['line']}" if found else problem_line


@dataclass(frozen=True)
class FileProblem:
    """A rule or calendar file that does not load as it is on disk."""

    name: str  # the store name: "caps.rule", "calendars/cn-mainland-2026.yaml"
    path: str  # as on disk
    errors: tuple[str, ...]  # "file:line:col: CODE message", in order
    last_good: bool  # its last good version runs in its place


@dataclass(frozen=True)
class Loaded:
    """What one load gives: the rules and calendars to run, and what is wrong."""

    rules: tuple[CompiledRule, ...]
    calendars: dict[str, Calendar]
    texts: dict[str, str]  # store name -> text of every file loaded (disk or last good)
    fresh: dict[str, str]  # store name -> disk text that loaded: the new last good texts
    problems: tuple[FileProblem, ...]

    @property
    def errors(self) -> tuple[str, ...]:
        return tuple(line for problem in self.problems for line in problem.errors)


def load_directory(
    rule_paths: Sequence[Path],
    calendars_dir: Path | None,
    stored: Mapping[str, str],
    loader: Loader = load_rule_files,
    compile_text: TextCompiler = compile_rule_text,
) -> Loaded:
    """Load ``rule_paths`` and the calendars of ``calendars_dir``, each broken file replaced
    by its last good text in ``stored`` (store name -> text) when there is one."""
    build = _Build(stored)
    calendars = build.calendars(calendar_files(calendars_dir))
    known = set(calendars) if calendars_dir is not None and calendars_dir.is_dir() else None
    rules = build.rules(rule_paths, loader, compile_text, known)
    rules = build.with_calendars(rules, calendars)
    problems = tuple(build.problems.values())
    return Loaded(tuple(rules), calendars, build.texts, build.fresh, problems)


@dataclass(frozen=True)
class RuleSet:
    """The rule set of a directory as every tool judges it: the live worker
    (``streams.worker.rulehook``), ``orderhub replay`` and ``orderhub rules test`` all build it with
    ``load_rule_set``, so the three judge the same files with the same calendars, the same
    default calendar in the same time zone, and name the same version."""

    rules: tuple[CompiledRule, ...]
    calendars: dict[str, Calendar]
    default_calendar: Calendar  # of rules that name no calendar
    version: str  # ``streams.core.ruleset.version``: files, time zone, default calendar
    loaded: Loaded  # what the load found: texts, last good texts used, problems

    @property
    def problems(self) -> tuple[FileProblem, ...]:
        return self.loaded.problems

    @property
    def errors(self) -> tuple[str, ...]:
        return self.loaded.errors

    def engine(self, *, timers_follow_events: bool = True) -> Engine:
        """A fresh engine judging this set. ``timers_follow_events``: see ``Engine``; the
        live worker passes False. Raises ``EngineError`` (e.g. two files define one id)."""
        return Engine(
            self.rules,
            self.calendars,
            self.default_calendar,
            timers_follow_events=timers_follow_events,
            rule_set=self.version,
        )


def business_zone(timezone: str) -> ZoneInfo:
    """The deployment's business time zone (``ORDERHUB_TIMEZONE``, read by the caller).
    Raises ``EngineError`` for a name that is not a time zone."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise EngineError(f"unknown business time zone {timezone!r}") from exc


def load_rule_set(
    rule_paths: Sequence[Path],
    calendars_dir: Path | None,
    timezone: str,
    *,
    default_calendar: str | None = None,
    stored: Mapping[str, str] | None = None,
    loader: Loader | None = None,
    compile_text: TextCompiler = compile_rule_text,
) -> RuleSet:
    """The rule set of ``rule_paths`` and the calendars of ``calendars_dir``.

    Rules that name no calendar use ``default_calendar`` (a calendar of ``calendars_dir``
    by name) or else the built-in working week in the business ``timezone``. ``stored``
    holds last good texts (store name -> text) to run in place of a broken file (the worker
    passes its store; the offline tools none, and refuse a set with ``errors``). Raises
    ``EngineError`` for an unknown time zone or default calendar; never for bad rule files
    (they are ``problems``).
    """
    zone = business_zone(timezone)
    folder = calendars_dir if calendars_dir is not None and calendars_dir.is_dir() else None
    if loader is None:
        loader = partial(load_rule_files, calendars_dir=folder)
    loaded = load_directory(rule_paths, folder, stored or {}, loader, compile_text)
    if default_calendar is None:
        default = replace(DEFAULT_CALENDAR, zone=zone)
    elif default_calendar in loaded.calendars:
        default = loaded.calendars[default_calendar]
    else:
        known = ", ".join(sorted(loaded.calendars)) or "none"
        raise EngineError(f"unknown default calendar {default_calendar!r} (known: {known})")
    rule_set = version(loaded.texts, zone.key, default_calendar)
    return RuleSet(loaded.rules, loaded.calendars, default, rule_set, loaded)


def shown_errors(rule_set: RuleSet, rule_paths: Sequence[Path], calendars_dir: Path | None) -> str:
    """The errors of a rule set an offline tool refuses, for a person: each rule file's
    diagnostics with its source line and a caret (``dsl.diagnostics.render_all``; read
    again, as this runs only when something is wrong), every other problem as its line."""
    from dsl.diagnostics import render_all
    from dsl.loader import load_report

    folder = calendars_dir if calendars_dir is not None and calendars_dir.is_dir() else None
    report = load_report(list(rule_paths), folder)
    diags = [d for d in report.diagnostics if d.is_error]
    shown = {d.span.file for d in diags}
    others = [line for p in rule_set.problems if p.path not in shown for line in p.errors]
    return "\n".join([*([render_all(diags, report.sources)] if diags else []), *others])


def parse_calendar(text: str | None, path: str) -> tuple[Calendar | None, tuple[str, ...]]:
    """A calendar file's text as a calendar, or its errors (YAML errors with their place)."""
    if text is None:
        return None, (f"{path}:1:1: {IO_ERROR} cannot read {path}",)
    try:
        return calendar_from_text(text, path), ()
    except CalendarError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        return None, (f"{path}:{exc.line or 1}:{exc.col or 1}: {CALENDAR_ERROR} {reason}",)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # the loader reports it (E000)


def _errors_by_file(diags: Sequence[Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for diag in diags:
        if is_error(diag):
            found.setdefault(diag.span.file, []).append(describe(diag))
    return found


@dataclass
class _Build:
    """The pieces of one ``Loaded``, gathered file by file."""

    stored: Mapping[str, str]
    texts: dict[str, str] = field(default_factory=dict)
    fresh: dict[str, str] = field(default_factory=dict)
    problems: dict[str, FileProblem] = field(default_factory=dict)

    def problem(self, name: str, path: str, errors: Sequence[str], last_good: bool) -> None:
        """Note a file's errors (added to any it has already)."""
        old = self.problems.get(name)
        if old is not None:
            errors, last_good = (*old.errors, *errors), old.last_good and last_good
        self.problems[name] = FileProblem(name, path, tuple(errors), last_good)

    def calendars(self, paths: Sequence[Path]) -> dict[str, Calendar]:
        found: dict[str, Calendar] = {}
        for path in paths:
            name = calendar_file_name(path)
            text = _read(path)
            calendar, errors = parse_calendar(text, str(path))
            if calendar is not None and text is not None:
                self.texts[name] = self.fresh[name] = text
            else:
                old = self.stored.get(name)
                calendar = parse_calendar(old, str(path))[0] if old is not None else None
                if calendar is not None and old is not None:
                    self.texts[name] = old
                self.problem(name, str(path), errors, last_good=calendar is not None)
            if calendar is None:
                continue
            if calendar.name in found:
                twice = f"calendar {calendar.name!r} is defined twice"
                self.problem(name, str(path), [f"{path}:1:1: {CALENDAR_ERROR} {twice}"], False)
                self.texts.pop(name, None)
                self.fresh.pop(name, None)
                continue
            found[calendar.name] = calendar
        return found

    def rules(
        self,
        paths: Sequence[Path],
        loader: Loader,
        compile_text: TextCompiler,
        calendars: Collection[str] | None,
    ) -> list[CompiledRule]:
        before = {path: _read(path) for path in paths}
        rules, diags = loader(paths)
        errors = _errors_by_file(diags)
        good = list(rules)
        for path in paths:
            name, found, text = rule_file_name(path), errors.pop(str(path), None), before[path]
            if found:
                good += self._last_good(name, str(path), found, compile_text, calendars, good)
            elif text is not None:
                self.texts[name] = text
                if _read(path) == text:  # changed while loading: the next check reloads it
                    self.fresh[name] = text
        for file, lines in errors.items():  # diagnostics about a file not asked for
            self.problem(rule_file_name(file), file, lines, last_good=False)
        return good

    def _last_good(
        self,
        name: str,
        path: str,
        errors: Sequence[str],
        compile_text: TextCompiler,
        calendars: Collection[str] | None,
        running: Sequence[CompiledRule],
    ) -> list[CompiledRule]:
        """The rules of ``name``'s last good text, less any rule id a running file defines."""
        old = self.stored.get(name)
        if old is None:
            self.problem(name, path, errors, last_good=False)
            return []
        rules, old_errors = compile_text(old, path, calendars)
        if old_errors:  # e.g. it names a calendar that is gone
            lines = [f"{line} (in its last good version)" for line in old_errors]
            self.problem(name, path, [*errors, *lines], last_good=False)
            return []
        taken = {rule.id for rule in running}
        clash = [rule for rule in rules if rule.id in taken]
        lines = [
            f"{rule.source}:1: {DUPLICATE_ID} rule {rule.id} of its last good version left out:"
            " another file defines it now"
            for rule in clash
        ]
        self.texts[name] = old
        self.problem(name, path, [*errors, *lines], last_good=True)
        return [rule for rule in rules if rule.id not in taken]

    def with_calendars(
        self, rules: Sequence[CompiledRule], calendars: Mapping[str, Calendar]
    ) -> list[CompiledRule]:
        """``rules`` less those naming a calendar that did not load (a problem of their file)."""
        kept = []
        for rule in rules:
            if rule.calendar is None or rule.calendar in calendars:
                kept.append(rule)
                continue
            file = rule.source.rsplit(":", 1)[0]
            line = f"{rule.source}:1: {CALENDAR_ERROR} rule {rule.id} left out: no calendar"
            self.problem(rule_file_name(file), file, [f"{line} {rule.calendar!r}"], False)
        return kept
