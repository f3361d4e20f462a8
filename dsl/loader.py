"""Rule files on disk → compiled rules and diagnostics: what the engine, the worker,
`orderhub rules check|test` and `replay` call.

A file with an error is rejected whole (its rules are not loaded) while the other files'
rules still load, so a live worker keeps its good rules when an analyst saves a bad file.
A rule id defined twice (in one file or across files) is an error at both places.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dsl.ast import RuleFile, Span
from dsl.calendar import CalendarError, calendar_from_text
from dsl.check import check
from dsl.compile import compile_file
from dsl.compiled import CompiledRule
from dsl.diagnostics import Diagnostic, has_errors, sort_diagnostics
from dsl.parser import parse

IO_ERROR = "E000"  # a file that cannot be read (the CLI exits 2 for it)
CALENDAR_ERROR = "E010"  # a calendar file that is not valid YAML or not a calendar


@dataclass
class LoadedFile:
    path: str
    source: str
    tree: RuleFile | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    rules: list[CompiledRule] = field(default_factory=list)


@dataclass(frozen=True)
class LoadReport:
    """Everything a load produced: per-file results, so the CLI can show source lines."""

    files: tuple[LoadedFile, ...]
    calendars: tuple[LoadedFile, ...] = ()  # the calendar files read (no tree, no rules)

    @property
    def rules(self) -> list[CompiledRule]:
        return [r for f in self.files for r in f.rules]

    @property
    def diagnostics(self) -> list[Diagnostic]:
        every = (*self.calendars, *self.files)
        return sort_diagnostics(d for f in every for d in f.diagnostics)

    @property
    def sources(self) -> dict[str, str]:
        """Path -> text of each rule file (what a rule set's version is made of)."""
        return {f.path: f.source for f in self.files}

    @property
    def calendar_sources(self) -> dict[str, str]:
        """Path -> text of each calendar file read, to show its lines in a diagnostic."""
        return {f.path: f.source for f in self.calendars}


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """The *.rule files named, or found (recursively) under the directories named."""
    found: list[Path] = []
    for p in map(Path, paths):
        found.extend(sorted(p.rglob("*.rule")) if p.is_dir() else [p])
    return list(dict.fromkeys(found))


def calendar_names(directory: str | Path) -> set[str]:
    """The names of the calendars in a directory (`name:` of each YAML file, else its stem)."""
    names: set[str] = set()
    for path in sorted(Path(directory).glob("*.y*ml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError, RecursionError):
            data = None  # the calendar loader reports a broken calendar; here only its name
        name = data.get("name") if isinstance(data, dict) else None
        names.add(str(name) if name else path.stem)
    return names


def _calendar_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Calendars next to the rules: `<dir>/calendars` for each directory or file's folder."""
    dirs = {(p if p.is_dir() else p.parent) / "calendars" for p in map(Path, paths)}
    return [d for d in sorted(dirs) if d.is_dir()]


def _read(path: Path) -> str | LoadedFile:
    """The file's text, or a loaded file holding why it cannot be read (E000)."""
    name = str(path)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        diag = Diagnostic(IO_ERROR, f"cannot read {name}: {err}", Span(name, 1, 1, 1, 2))
        return LoadedFile(name, "", None, [diag])


def _calendar_file(path: Path, seen: dict[str, Path]) -> LoadedFile:
    """One calendar file, read and checked as ``replay`` and the worker load it."""
    name = str(path)
    source = _read(path)
    if isinstance(source, LoadedFile):
        return source
    loaded = LoadedFile(name, source, None)
    try:
        calendar = calendar_from_text(source, name)
    except CalendarError as err:
        line, col = err.line or 1, err.col or 1
        message = str(err).removeprefix(f"{name}: ")
        span = Span(name, line, col, line, col + 1)
        loaded.diagnostics.append(Diagnostic(CALENDAR_ERROR, message, span))
        return loaded
    if calendar.name in seen:
        message = f"calendar '{calendar.name}' is defined twice"
        hint = f"also in {seen[calendar.name]}; give each calendar its own name"
        loaded.diagnostics.append(Diagnostic(CALENDAR_ERROR, message, Span(name, 1, 1, 1, 2), hint))
    seen.setdefault(calendar.name, path)
    return loaded


def load_calendar_files(dirs: Iterable[Path]) -> tuple[set[str], list[LoadedFile]]:
    """The calendar names of ``dirs`` and each calendar file with its diagnostics (E010).

    A broken calendar's name still counts as known: its file's diagnostic says what is
    wrong, rather than an "unknown calendar" at every rule that names it.
    """
    seen: dict[str, Path] = {}
    files: list[LoadedFile] = []
    names: set[str] = set()
    for directory in dirs:
        names |= calendar_names(directory)
        paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
        files += [_calendar_file(p, seen) for p in paths]
    return names, files


def _load_file(path: Path, calendars: Collection[str] | None) -> LoadedFile:
    name = str(path)
    source = _read(path)
    if isinstance(source, LoadedFile):
        return source
    parsed = parse(source, name)
    checked = check(parsed.tree, calendars)
    loaded = LoadedFile(name, source, parsed.tree, [*parsed.diagnostics, *checked.diagnostics])
    if not has_errors(loaded.diagnostics):
        loaded.rules = compile_file(parsed.tree, checked)
    return loaded


def _duplicates_across(files: list[LoadedFile]) -> None:
    """E206 at both places when two files define the same rule id (and reject both)."""
    where: dict[str, list[tuple[LoadedFile, Span]]] = {}
    for f in files:
        for rule in f.tree.rules if f.tree else ():
            where.setdefault(rule.id.name, []).append((f, rule.id.span))
    for rule_id, places in where.items():
        owners = {id(f) for f, _ in places}
        if len(owners) < 2:
            continue  # within one file the checker reports it
        for f, span in places:
            others = ", ".join(f"{s.file}:{s.line}" for g, s in places if s != span)
            f.diagnostics.append(
                Diagnostic(
                    "E206",
                    f"duplicate rule id {rule_id}",
                    span,
                    f"also defined at {others}; rule ids must be unique",
                )
            )
            f.rules = []


def load_report(
    paths: Iterable[str | Path],
    calendars_dir: str | Path | None = None,
    fallback_calendars_dir: str | Path | None = None,
) -> LoadReport:
    """Load, check and compile every rule file under ``paths``; never raises for bad rules.

    Calendars come from ``calendars_dir``, else from a ``calendars`` folder next to the
    rules (a directory given, or a file's folder), else from ``fallback_calendars_dir``;
    their files are checked too (E010). With none of these, calendar names are not
    checked. A calendar directory that does not exist knows no calendar.
    """
    path_list = list(paths)
    if calendars_dir is not None:
        dirs = [Path(calendars_dir)]
    else:
        near = _calendar_dirs(path_list)
        fallback = [Path(fallback_calendars_dir)] if fallback_calendars_dir is not None else []
        dirs = near or fallback
    names, calendar_files = load_calendar_files(d for d in dirs if d.is_dir())
    calendars = names if dirs else None
    files = [_load_file(p, calendars) for p in rule_files(path_list)]
    _duplicates_across(files)
    return LoadReport(tuple(files), tuple(calendar_files))


def load_rules(
    paths: Iterable[str | Path],
    calendars_dir: str | Path | None = None,
) -> tuple[list[CompiledRule], list[Diagnostic]]:
    """The compiled rules of every good file under ``paths``, and all diagnostics (sorted).

    Diagnostics with severity "error" mean their file was rejected; the rules of the other
    files are still returned. Only the rule files' diagnostics: the worker reads and
    reports its calendar files itself (``load_report`` has theirs).
    """
    report = load_report(paths, calendars_dir)
    return report.rules, sort_diagnostics(d for f in report.files for d in f.diagnostics)
