"""An event rule's decision (`where` + lets + `when`) as generated Python, compiled once.

``dsl.compile`` builds closures for every expression; for an event rule it also asks a
``DecisionWriter`` for one function doing the rule's whole decision, because one Python
call per clause and per operand is most of what the closures cost on the hot path::

    def decide(event, view, order, env):
        if not ((_t0 := view.region_reasonable_stock(event.region)) > _k0):
            return None                       # `where` is false
        _l0 = _t0                             # let stock (the lookup read once)
        _l1 = view.in_transit_region(event.region)
        ...
        if (event.quantity >= _l3):
            return (_l0, _l1, _l2, _l3)       # fires: the lets' values, in order
        return False                          # `when` is false

Safety rules (also in docs/design/language.md, "Compilation"); the generated text is
checked against them before it is compiled (``check_source``):

a. No user text reaches the source. Every identifier comes from a fixed table of ours:
   the parameters ``event view order env``, ``bool``, generated names ``_k0 _c0 _l0 _t0
   _n0 _lets``, event field names taken from the trigger models' ``model_fields`` keys
   after the checker resolved them (each asserted to be an identifier and a field of
   every trigger model), and ``StateView`` methods from ``dsl.schema.TABLES``. Let names
   become locals ``_l0, _l1 …``.
b. Every literal (numbers, decimals, texts, durations, sets, let names) is a constant in
   the function's namespace (``_k0 …``, ``_n0 …``), never spliced into the text: the
   source holds no string or number token at all.
c. Whatever the generator does not write out itself (an expression that may be missing
   or fail, calendar functions, order fields, key names) is the very closure the closure
   backend builds for it, passed in the namespace and called as ``_c0(env)``; a sure
   value (``_ExprCompiler.sure``) is written out only in forms whose Python meaning is
   the closure's. So the decision is the closures' decision, only with fewer calls.
d. The source is kept on the compiled rule (``Decision.source``,
   ``dsl.compile.source_of``) for debugging.

The namespace has empty ``__builtins__``: the code can reach nothing but what it is given.
"""

from __future__ import annotations

import io
import keyword
import re
import tokenize
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dsl import ast as a
from dsl import compile as compiler  # imports this module too: used at call time only
from dsl import schema as s
from dsl.compiled import DecideFn, Decision, Expr, Pred
from dsl.errors import CompileError

PARAMS = ("event", "view", "order", "env")
FUNCTION = "decide"
# Identifiers the generator writes besides attribute names: our parameters, generated
# names (constant, closure, let, temporary, let-name constant) and the one builtin.
_GENERATED = re.compile(r"_[kcltn][0-9]+|_lets")
_FIXED_NAMES = frozenset({*PARAMS, FUNCTION, "bool", "lets"})  # lets: env.lets
_KEYWORDS = frozenset({"def", "if", "not", "and", "or", "in", "return", "None", "False"})
VIEW_METHODS = frozenset(t.method for t in s.TABLES.values())
_PY_OPS = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "+": "+"}
_PY_OPS |= {"-": "-", "*": "*", "in": "in"}
_BOOL = "bool"  # the sort ``_ExprCompiler.sure`` gives a condition that is a bool


def event_fields(triggers: Iterable[str]) -> frozenset[str]:
    """Attribute names every trigger model has: the only event attributes written out."""
    models = [s.EVENT_TYPES[t] for t in triggers]
    common = set.intersection(*(set(m.model_fields) for m in models)) if models else set()
    return frozenset(n for n in common if n.isidentifier() and not keyword.iskeyword(n))


def check_source(source: str, attributes: frozenset[str]) -> None:
    """Refuse generated text that breaks the safety rules (module docstring): a string
    or number token, or an identifier that is neither ours nor an allowed attribute."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    for tok in tokens:
        if tok.type in (tokenize.STRING, tokenize.NUMBER):
            raise CompileError(f"generated code holds a literal: {tok.string!r}", ())
        if tok.type != tokenize.NAME:
            continue
        name = tok.string
        ours = name in _FIXED_NAMES or name in _KEYWORDS or _GENERATED.fullmatch(name)
        if not ours and name not in attributes:
            raise CompileError(f"generated code names {name!r}", ())


@dataclass
class _Statement:
    code: str
    calls_closure: bool  # reads ``env`` (then earlier lets must be in ``env.lets``)


@dataclass
class DecisionWriter:
    """Writes one event rule's decision clause by clause, in the compiler's own order, so
    that each clause sees the compiler state (which lets are sure) that its closure saw."""

    exprs: compiler._ExprCompiler
    triggers: tuple[str, ...]
    namespace: dict[str, Any] = field(default_factory=dict)
    attributes: frozenset[str] = frozenset()  # event fields + view methods allowed
    _where: _Statement | None = None
    _lets: list[_Statement] = field(default_factory=list)
    _let_locals: dict[str, str] = field(default_factory=dict)
    _when: _Statement | None = None
    _closures: int = 0
    _temps: dict[str, str] = field(default_factory=dict)  # lookup code -> temporary
    _pending: dict[str, str] = field(default_factory=dict)  # temporaries of this statement
    _temp_count: int = 0
    _conditional: int = 0  # > 0 inside a right operand of and/or (may not run)

    def __post_init__(self) -> None:
        self.attributes = event_fields(self.triggers) | VIEW_METHODS

    # --- names in the namespace ---------------------------------------------------------

    def _name(self, prefix: str, value: Any) -> str:
        name = f"{prefix}{sum(1 for n in self.namespace if n.startswith(prefix))}"
        self.namespace[name] = value
        return name

    def const(self, value: Any) -> str:
        return self._name("_k", value)

    def closure(self, fn: Callable[[Any], Any]) -> str:
        self._closures += 1
        return f"{self._name('_c', fn)}(env)"

    # --- clauses ------------------------------------------------------------------------

    def _statement(self, write: Callable[[], str]) -> _Statement:
        before = self._closures
        self._pending = {}
        code = write()
        self._temps.update(self._pending)  # read in later statements only
        return _Statement(code, self._closures > before)

    def where(self, cond: a.Expr, compiled: Pred) -> None:
        self._where = self._statement(lambda: self.condition(cond, compiled))

    def let(self, name: str, value: a.Expr, sort: str | None, compiled: Expr) -> None:
        """``let name = value``; ``sort``: its sure sort, None when it may be missing."""
        local = f"_l{len(self._lets)}"
        write = (lambda: self.sure(value)) if sort is not None else (lambda: self.closure(compiled))
        statement = self._statement(write)
        for code, temp in self._pending.items():
            if statement.code == f"({temp} := {code})":  # the let is a lookup: it is the copy
                statement.code, self._temps[code] = code, local
        self._lets.append(statement)
        self._let_locals[name] = local

    def when(self, cond: a.Expr, compiled: Pred) -> None:
        self._when = self._statement(lambda: self.condition(cond, compiled))

    # --- expressions --------------------------------------------------------------------

    def condition(self, cond: a.Expr, compiled: Pred | None = None) -> str:
        """A bool that is the closure ``predicate(cond)``'s value: a missing value makes it
        false. ``A and B`` splits into two conditions (either one missing makes both
        false), ``A or B`` only when ``A`` cannot be missing (a missing ``A`` makes the
        whole false, not ``B``); the rest is the pre-built closure."""
        sort = self.exprs.sure(cond)
        if sort is not None:
            code = self.sure(cond)
            return code if sort == _BOOL else f"bool({code})"
        match cond:
            case a.Group(inner=inner):
                return self.condition(inner)
            case a.Binary(op="and", left=left, right=right):
                return f"({self.condition(left)} and {self._then(right)})"
            case a.Binary(op="or", left=left, right=right) if self.exprs.sure(left):
                return f"({self.condition(left)} or {self._then(right)})"
        return self.closure(compiled or compiler.predicate(self.exprs.expr(cond)))

    def _then(self, cond: a.Expr) -> str:
        self._conditional += 1
        try:
            return self.condition(cond)
        finally:
            self._conditional -= 1

    def sure(self, e: a.Expr) -> str:
        """A sure expression (``_ExprCompiler.sure``) written out like its closure."""
        folded = self.exprs.fold(e)
        if folded is not compiler._NO_VALUE:
            return self.const(folded)
        match e:
            case a.Group(inner=inner):
                return self.sure(inner)
            case a.Name(parts=("event", name)):
                return self.event_field(name, e)
            case a.Name(parts=(name,)):
                return self._let_locals[name]
            case a.Lookup():
                return self.lookup(e)
            case a.Unary(op="not", operand=operand):
                return f"(not {self.sure(operand)})"
            case a.Unary(op="-", operand=operand):
                return f"(-{self.sure(operand)})"
            case a.Binary(op="and" | "or" as op, left=left, right=right):
                return self.logic(op, left, right)
            case a.Binary(op=op, left=left, right=right) if op in _PY_OPS:
                return f"({self.sure(left)} {_PY_OPS[op]} {self.sure(right)})"
        return self.closure(self.exprs.expr(e))  # `is present`, …: the closure itself

    def logic(self, op: str, left: a.Expr, right: a.Expr) -> str:
        """``and``/``or`` of sure values: bools as they are, anything else through bool()
        (the closure's ``_as_bool``)."""
        both = self.exprs.sure(left) == _BOOL and self.exprs.sure(right) == _BOOL
        lc = self.sure(left)
        self._conditional += 1
        try:
            rc = self.sure(right)
        finally:
            self._conditional -= 1
        return f"({lc} {op} {rc})" if both else f"(bool({lc}) {op} bool({rc}))"

    def event_field(self, name: str, e: a.Expr) -> str:
        attr = "event_time" if name == "time" else name
        if attr not in self.attributes:  # a field name that cannot be written out safely
            return self.closure(self.exprs.expr(e))
        assert attr.isidentifier() and all(
            attr in s.EVENT_TYPES[t].model_fields for t in self.triggers
        )
        return f"event.{attr}"

    def lookup(self, e: a.Lookup) -> str:
        """``view.METHOD(keys)``; read once when the same lookup runs for sure earlier
        (the tables do not change during a decision)."""
        method = s.TABLES[".".join(e.table)].method
        assert method in VIEW_METHODS and method.isidentifier()
        code = f"view.{method}({', '.join(self.sure(k) for k in e.keys)})"
        if code in self._temps:
            return self._temps[code]
        stable = "(" not in code[len(f"view.{method}(") :]  # keys: fields, lets, constants
        if self._conditional or not stable or code in self._pending:
            return code
        temp = f"_t{self._temp_count}"
        self._temp_count += 1
        self._pending[code] = temp
        return f"({temp} := {code})"

    # --- the function -------------------------------------------------------------------

    def source(self) -> str:
        later = [*self._lets, *([self._when] if self._when else [])]
        keep_lets = any(st.calls_closure for st in later)
        lines = [f"def {FUNCTION}({', '.join(PARAMS)}):"]
        if self._where is not None:
            lines += [f"    if not {self._where.code}:", "        return None"]
        if keep_lets and self._lets:
            lines.append("    _lets = env.lets")  # the closures read earlier lets there
        for (name, local), st in zip(self._let_locals.items(), self._lets, strict=True):
            lines.append(f"    {local} = {st.code}")
            if keep_lets:
                lines.append(f"    _lets[{self._name('_n', name)}] = {local}")
        values = ", ".join(self._let_locals.values())
        values = f"({values},)" if len(self._let_locals) == 1 else f"({values})"
        if self._when is None:
            lines.append(f"    return {values}")
        else:
            lines += [f"    if {self._when.code}:", f"        return {values}", "    return False"]
        return "\n".join(lines) + "\n"

    def _unused_temps_dropped(self, text: str) -> str:
        """``(_t0 := view.m(k))`` -> ``view.m(k)`` where ``_t0`` is never read again."""
        for code, temp in self._temps.items():
            if len(re.findall(rf"\b{temp}\b", text)) == 1:
                text = text.replace(f"({temp} := {code})", code)
        return text

    def build(
        self, where: Pred | None, lets: tuple[tuple[str, Expr], ...], when: Pred | None
    ) -> Decision:
        """Compile the source once into ``decide``; ``where``, ``lets``, ``when``: the
        closures it stands for (see ``Decision``)."""
        text = self._unused_temps_dropped(self.source())
        check_source(text, self.attributes)
        namespace: dict[str, Any] = {"__builtins__": {}, "bool": bool, **self.namespace}
        exec(compile(text, "<dsl.codegen decision>", "exec"), namespace)
        run: DecideFn = namespace[FUNCTION]
        return Decision(run, text, self._closures > 0, where, lets, when)
