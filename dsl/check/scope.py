"""What names mean at each place of a rule: the trigger event, its order, the key names,
``start``/``deadline`` and the lets defined so far."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from dsl import ast as a
from dsl import schema as s
from dsl.schema import Ty


@dataclass
class Scope:
    """What names mean at one place of a rule."""

    event_types: tuple[str, ...] | None  # None: no `event` here
    no_event_why: str = ""
    order: bool = False
    no_order_why: str = ""
    keys: frozenset[str] = frozenset()
    start: bool = False
    deadline: bool = False
    lets: dict[str, Ty] = field(default_factory=dict)

    def with_event(self, types: tuple[str, ...]) -> Scope:
        order = all(s.has_order(t) for t in types)
        keys = frozenset(k for k in s.KEY_NAMES if all(k in s.event_fields(t) for t in types))
        return Scope(
            types,
            "",
            order,
            _no_order_why(types),
            keys | self.keys,
            self.start,
            self.deadline,
            dict(self.lets),
        )

    def inside(self, deadline_rule: bool) -> Scope:
        """The scope of a clause's expressions: ``start`` and ``deadline`` are known in
        deadline and schedule rules. It shares the lets dict, so that a let defined in one
        clause is known in the clauses after it."""
        return self._copy(deadline_rule, deadline_rule, self.lets)

    def without_lets(self) -> Scope:
        """For `where`, which is judged before any let."""
        return self._copy(self.start, self.deadline, {})

    def without_deadline(self) -> Scope:
        """For `expect … by TIME`: the time that sets the deadline cannot use it."""
        return self._copy(self.start, False, self.lets)

    def own_lets(self) -> Scope:
        """For a tier: its lets are its own, the rule's are known in it."""
        return self._copy(self.start, self.deadline, dict(self.lets))

    def _copy(self, start: bool, deadline: bool, lets: dict[str, Ty]) -> Scope:
        # Not dataclasses.replace, several times slower: this runs for each of 10,000s of rules.
        return Scope(
            self.event_types,
            self.no_event_why,
            self.order,
            self.no_order_why,
            self.keys,
            start,
            deadline,
            lets,
        )


def anything(lets: dict[str, Ty] | None = None) -> Scope:
    """Every event field, the order, all key names: after an unknown event type (already
    reported), so that each of its fields does not get a second diagnostic."""
    scope = Scope(None, "", True, "", frozenset(s.KEY_NAMES), True, True)
    if lets is not None:
        scope.lets = dict(lets)
    return scope


def base_scope(kind: str, rule: a.Rule, triggers: tuple[str, ...] | None) -> Scope:
    """The scope of a rule's clauses, from its kind and its trigger event types."""
    if kind == "schedule":
        for_each = [c for c in rule.clauses if isinstance(c, a.ForEachClause)]
        return Scope(
            None,
            "a schedule rule has no trigger event",
            False,
            "a schedule rule has no order",
            frozenset(c.name.name for c in for_each),
            True,
            True,
        )
    if triggers is None:
        return anything()
    return Scope(None).with_event(triggers)


def _no_order_why(types: Iterable[str]) -> str:
    lacking = [t for t in types if not s.has_order(t)]
    return f"{lacking[0]} has no order_id" if lacking else ""
