"""Names, types and units of a parsed rule file (E2xx, W3xx).

``check`` never stops at the first problem: every rule and every clause is checked and all
diagnostics come back sorted by position, each with its span and, for an unknown name, the
names that are valid at that place (did-you-mean). Types never need a run time: the
compiler uses the ``types`` map this returns.

The checker is split by what it checks, so that a change to one kind of diagnostic is made
in one module. From the whole file down to the helpers, each module uses only those after
it in this list:

- ``rulefile``: the whole file (its calendar, duplicate rule ids, clauses nested too deep)
  and, per rule, the order of the checks and the warnings about the whole rule (W301
  unused let, W303/W304 department);
- ``kinds``: the rule's kind from its trigger, and the clauses each kind takes, needs and
  takes once (E208, E209, W302);
- ``clauses``: each clause against its scope, and the type its expressions must have;
- ``types``: the type of every expression, with the tables of what operators accept;
- ``calls``: function calls and table lookups (arity, argument types, literal arguments);
- ``names``: event types, calendars, keys, lets and names, with did-you-mean hints;
- ``scope``: what names mean at each place of a rule (the trigger event, its order, the
  keys, ``start``/``deadline``, the lets defined so far);
- ``report``: what a check produces, the diagnostics and each expression's type.
"""

from dsl.check.names import did_you_mean
from dsl.check.report import CheckResult
from dsl.check.rulefile import check

__all__ = ["CheckResult", "check", "did_you_mean"]
