"""Names: event types, calendars, keys, lets and the names of expressions (E200-E202,
E205, E208). An unknown name gets the names valid at that place as a did-you-mean hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from dsl import ast as a
from dsl import schema as s
from dsl.check.report import Report
from dsl.check.scope import Scope
from dsl.schema import Ty

# A let may not take the name of something the language already names.
_BUILT_IN_NAMES = frozenset({*s.KEY_NAMES, "event", "order", "start", "deadline", *s.WEEKDAYS})


def did_you_mean(name: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, sorted(set(options)), n=3, cutoff=0.6)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


def calendar_name(report: Report, name: a.Text) -> None:
    calendars = report.calendars
    if calendars is not None and name.value not in calendars:
        hint = did_you_mean(name.value, calendars) or (
            "known calendars: " + (", ".join(sorted(calendars)) or "none")
        )
        report.error("E205", f"unknown calendar '{name.value}'", name.span, hint)


def trigger_types(report: Report, rule: a.Rule) -> tuple[str, ...] | None:
    """Check every event-type list; the trigger types (None for schedule rules, or when
    one of them is unknown)."""
    triggers: tuple[str, ...] | None = None
    for clause in rule.clauses:
        if isinstance(clause, a.OnClause | a.AfterClause | a.CancelClause | a.ExpectClause):
            known = _event_types(report, clause.types)
            if isinstance(clause, a.OnClause | a.AfterClause) and triggers is None:
                triggers = known if len(known) == len(clause.types) else None
    return triggers


def _event_types(report: Report, types: tuple[a.EventType, ...]) -> tuple[str, ...]:
    known: list[str] = []
    for t in types:
        if t.name in s.EVENT_TYPES:
            known.append(t.name)
        else:
            hint = did_you_mean(t.name, s.EVENT_TYPES)
            report.error("E200", f"unknown event type '{t.name}'", t.span, hint)
    return tuple(known)


def keys(report: Report, names: tuple[a.Ident, ...], scope: Scope, kind: str) -> None:
    """A `key` names fields every trigger event has (a schedule rule: its `for each`)."""
    for ident in names:
        if ident.name not in s.KEY_NAMES:
            hint = did_you_mean(ident.name, s.KEY_NAMES) or "key names: order_id, region, model"
            report.error("E202", f"'{ident.name}' is not a key name", ident.span, hint)
        elif kind == "schedule" and ident.name not in scope.keys:
            report.error(
                "E208",
                f"a schedule rule for each {', '.join(scope.keys) or '…'} "
                f"cannot be keyed by {ident.name}",
                ident.span,
            )
        elif ident.name not in scope.keys and not scope.order and scope.event_types:
            report.error(
                "E201",
                f"{scope.event_types[0]} has no field {ident.name}",
                ident.span,
                "key by fields every trigger event has",
            )


def define_let(report: Report, clause: a.LetClause, ty: Ty, scope: Scope) -> bool:
    """Add the let to ``scope`` with its value's type ``ty``; whether its use is worth
    tracking (a let whose value had an error needs no second diagnostic)."""
    name = clause.name.name
    if name in scope.lets:
        report.error(
            "E208",
            f"let {name} is defined twice",
            clause.name.span,
            "give the second one another name",
        )
    elif name in _BUILT_IN_NAMES:
        report.error(
            "E208",
            f"let {name} would hide the built-in name {name}",
            clause.name.span,
            "choose another name",
        )
    scope.lets[name] = ty.required() if ty.name != s.UNKNOWN else ty
    return ty.name != s.UNKNOWN


def name_type(report: Report, e: a.Name, scope: Scope, used_lets: set[str]) -> Ty:
    """The type of a name, or UNKNOWN and a diagnostic; a let it names joins ``used_lets``."""
    head, rest = e.parts[0], e.parts[1:]
    if head == "event" and len(rest) == 1:
        return _event_field(report, e, rest[0], scope)
    if head == "order" and len(rest) == 1:
        return _order_field(report, e, rest[0], scope)
    if rest:
        if e.dotted in s.TABLES:
            hint = f"a table needs a key: {e.dotted}[…]"
            return report.unknown("E202", f"'{e.dotted}' is a table", e.span, hint)
        valid = [*s.TABLES, "event.…", "order.…"]
        return report.unknown(
            "E202", f"unknown name '{e.dotted}'", e.span, did_you_mean(e.dotted, valid)
        )
    if head in scope.lets:
        used_lets.add(head)
        return scope.lets[head]
    if head in s.KEY_NAMES and (head in scope.keys or scope.order):
        return Ty(s.TEXT)
    if head in ("start", "deadline") and getattr(scope, head):
        return Ty(s.TIME)
    if head in s.WEEKDAYS:
        return Ty(s.WEEKDAY)
    return report.unknown("E202", f"unknown name '{head}'", e.span, _name_hint(head, scope))


def _name_hint(head: str, scope: Scope) -> str | None:
    if head in ("event", "order"):
        return f"write {head}.FIELD"
    if head in ("start", "deadline"):
        return f"`{head}` is known in deadline and schedule rules (not in their `where`)"
    if head in s.KEY_NAMES:
        return f"the trigger events have no {head}"
    valid = [*scope.lets, *scope.keys, *s.WEEKDAYS]
    valid += [n for n in ("start", "deadline") if getattr(scope, n)]
    return did_you_mean(head, valid) or (
        f"names here: {', '.join(sorted(valid))}" if scope.lets else None
    )


def _event_field(report: Report, e: a.Name, name: str, scope: Scope) -> Ty:
    if scope.event_types is None:
        if scope.no_event_why:
            hint = "`event` is the expected event inside `expect … where`"
            return report.unknown("E202", f"no event here: {scope.no_event_why}", e.span, hint)
        return Ty(s.UNKNOWN)
    fields = [s.event_fields(t) for t in scope.event_types]
    lacking = [t for t, f in zip(scope.event_types, fields, strict=True) if name not in f]
    if lacking:
        common = set.intersection(*(set(f) for f in fields)) if fields else set()
        hint = did_you_mean(name, common) or f"fields: {', '.join(sorted(common))}"
        return report.unknown("E201", f"unknown field '{name}' of {lacking[0]}", e.span, hint)
    types = [f[name] for f in fields]
    optional = any(t.optional for t in types)
    return Ty(types[0].name, optional, types[0].choices)


def _order_field(report: Report, e: a.Name, name: str, scope: Scope) -> Ty:
    if not scope.order:
        why = scope.no_order_why or "no order here"
        return report.unknown(
            "E202",
            f"no order record here: {why}",
            e.span,
            "`order` is the record of the event's order_id",
        )
    if name not in s.ORDER_FIELDS:
        hint = did_you_mean(name, s.ORDER_FIELDS)
        return report.unknown("E201", f"unknown field '{name}' of order", e.span, hint)
    return s.ORDER_FIELDS[name]
