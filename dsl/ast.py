"""The rule language's syntax tree: small frozen dataclasses, each with its source ``span``.

The tree is purely syntactic (names are not resolved here; ``dsl.check`` does that).
``dump()`` prints a tree without spans, for golden tests and for checking that ``fmt``
does not change meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from datetime import timedelta
from decimal import Decimal


@dataclass(frozen=True, order=True)
class Span:
    """Where a node is: 1-based line and column; the end column is exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def to(self, other: Span) -> Span:
        """From the start of this span to the end of ``other``."""
        return Span(self.file, self.line, self.col, other.end_line, other.end_col)


# --- expressions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    value: Decimal
    text: str  # as written, so fmt keeps "0.50" as "0.50"
    span: Span


@dataclass(frozen=True)
class Money:
    amount: Decimal  # CNY
    text: str  # the number as written, without the currency
    span: Span


@dataclass(frozen=True)
class Percent:
    value: Decimal  # a fraction: 30% is Decimal("0.30")
    text: str  # the number as written, without "%"
    span: Span


DURATION_UNITS: dict[str, timedelta] = {
    "min": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
BUSINESS_UNITS: dict[str, str] = {"minute": "min", "hour": "h", "day": "d"}


@dataclass(frozen=True)
class DurationLit:
    """`7d`, `30min`, or `3 business hours` (business=True, advanced on the calendar)."""

    count: int
    unit: str  # a key of DURATION_UNITS
    business: bool
    span: Span

    @property
    def amount(self) -> timedelta:
        return self.count * DURATION_UNITS[self.unit]

    @property
    def text(self) -> str:
        """The canonical spelling, also the name of a tier."""
        if not self.business:
            return f"{self.count}{self.unit}"
        word = next(w for w, u in BUSINESS_UNITS.items() if u == self.unit)
        return f"{self.count} business {word}{'s' * (self.count != 1)}"


@dataclass(frozen=True)
class TimeOfDay:
    hour: int
    minute: int
    span: Span


@dataclass(frozen=True)
class Text:
    value: str
    span: Span


@dataclass(frozen=True)
class Bool:
    value: bool
    span: Span


@dataclass(frozen=True)
class Name:
    """`order_id`, `deposit_due`, `event.quantity`, `order.amount`, `Mon` …"""

    parts: tuple[str, ...]
    span: Span

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Lookup:
    """A table lookup: `in_transit.region[event.region]`."""

    table: tuple[str, ...]
    keys: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class Unary:
    op: str  # "-" or "not"
    operand: Expr
    span: Span


@dataclass(frozen=True)
class Binary:
    op: str  # or and = != < <= > >= in + - * /
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class Presence:
    """`x is present` (present=True) / `x is missing`."""

    operand: Expr
    present: bool
    span: Span


@dataclass(frozen=True)
class Group:
    """Parentheses as written: kept so that fmt prints the author's grouping back."""

    inner: Expr
    span: Span


Expr = (
    Number
    | Money
    | Percent
    | DurationLit
    | TimeOfDay
    | Text
    | Bool
    | Name
    | Lookup
    | Call
    | Unary
    | Binary
    | Presence
    | Group
)

LITERALS = (Number, Money, Percent, DurationLit, TimeOfDay, Text, Bool)


@dataclass(frozen=True)
class Template:
    """A message: text pieces and `{expr}` pieces. ``raw`` is the quoted source text."""

    raw: str
    parts: tuple[str | Expr, ...]
    span: Span


# --- clauses ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ident:
    """A name in a clause (severity level, key name, label name), with its own span."""

    name: str
    span: Span


@dataclass(frozen=True)
class EventType:
    name: str  # "order.entered"
    span: Span


@dataclass(frozen=True)
class SeverityClause:
    level: Ident
    span: Span


@dataclass(frozen=True)
class LabelClause:
    name: Ident
    value: Text
    span: Span


@dataclass(frozen=True)
class CalendarClause:
    name: Text
    span: Span


@dataclass(frozen=True)
class OnClause:
    types: tuple[EventType, ...]
    span: Span


@dataclass(frozen=True)
class AfterClause:
    types: tuple[EventType, ...]
    span: Span


@dataclass(frozen=True)
class EveryClause:
    """`every month on day D at HH:MM`."""

    day: Number
    at: TimeOfDay
    span: Span


@dataclass(frozen=True)
class ForEachClause:
    name: Ident
    span: Span


@dataclass(frozen=True)
class WhereClause:
    cond: Expr
    span: Span


@dataclass(frozen=True)
class LetClause:
    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True)
class WhenClause:
    cond: Expr
    span: Span


@dataclass(frozen=True)
class ExpectClause:
    types: tuple[EventType, ...]
    where: Expr | None
    within: DurationLit | None
    by: Expr | None
    span: Span


@dataclass(frozen=True)
class CancelClause:
    types: tuple[EventType, ...]
    span: Span


@dataclass(frozen=True)
class TierClause:
    after: DurationLit
    clauses: tuple[Clause, ...]
    span: Span  # through the closing brace


@dataclass(frozen=True)
class KeyClause:
    names: tuple[Ident, ...]
    span: Span


@dataclass(frozen=True)
class MessageClause:
    template: Template
    span: Span


@dataclass(frozen=True)
class PenaltyClause:
    amount: Expr
    who: Expr
    span: Span


Clause = (
    SeverityClause
    | LabelClause
    | CalendarClause
    | OnClause
    | AfterClause
    | EveryClause
    | ForEachClause
    | WhereClause
    | LetClause
    | WhenClause
    | ExpectClause
    | CancelClause
    | TierClause
    | KeyClause
    | MessageClause
    | PenaltyClause
)


@dataclass(frozen=True)
class Rule:
    id: Ident
    name: Text
    clauses: tuple[Clause, ...]
    span: Span  # through the closing brace


@dataclass(frozen=True)
class FileCalendar:
    """`calendar "name"` at the top of a file: the default calendar of its rules."""

    name: Text
    span: Span


@dataclass(frozen=True)
class Comment:
    text: str  # with the leading "#"
    span: Span


@dataclass(frozen=True)
class RuleFile:
    file: str
    items: tuple[FileCalendar | Rule, ...]
    comments: tuple[Comment, ...]

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(i for i in self.items if isinstance(i, Rule))

    @property
    def calendar(self) -> FileCalendar | None:
        return next((i for i in self.items if isinstance(i, FileCalendar)), None)


# --- nesting ---------------------------------------------------------------------------------

# How deep an expression (or a tier) may nest. Real rules nest under ten levels; the limit
# is far above that and below what the stages after the parser can take: the checker and
# formatter walk the tree recursively (Python's recursion limit), with room to spare for
# the worker's own stack. A deeper clause is a diagnostic (E104), never a RecursionError.
MAX_NESTING = 100
# A chain of one operator (a rule listing 201 models with `or`) does not nest, but the
# checker walks it recursively too: up to 250 terms, a longer chain is an E104 as well.
MAX_CHAIN = 249


def _children(node: object) -> tuple[object, ...]:
    """The expressions and clauses directly under ``node``."""
    match node:
        case Group(inner=inner):
            return (inner,)
        case Unary(operand=x) | Presence(operand=x):
            return (x,)
        case Binary(left=left, right=right):
            return (left, right)
        case Call(args=args):
            return args
        case Lookup(keys=keys):
            return keys
        case Template(parts=parts):
            return tuple(p for p in parts if not isinstance(p, str))
        case WhereClause(cond=x) | WhenClause(cond=x) | LetClause(value=x):
            return (x,)
        case ExpectClause(where=where, by=by):
            return tuple(x for x in (where, by) if x is not None)
        case MessageClause(template=template):
            return (template,)
        case PenaltyClause(amount=amount, who=who):
            return (amount, who)
        case TierClause(clauses=clauses):
            return clauses
    return ()


def nesting(node: object) -> int:
    """How many levels deep ``node`` (an expression, template or clause) nests; 1 for a leaf.

    Iterative, so that it measures any depth without recursing.
    """
    return _measure(node)[0]


def longest_chain(node: object) -> int:
    """The most operators in one chain of one operator (``a or b or c``: 2) under ``node``."""
    return _measure(node)[1]


def too_deep(node: object) -> str | None:
    """Why the later stages cannot take ``node`` (an E104 message), or None when they can."""
    depth, chain = _measure(node)
    if depth > MAX_NESTING:
        return f"nested {depth} levels deep; at most {MAX_NESTING}"
    if chain > MAX_CHAIN:
        return f"a chain of {chain + 1} terms; at most {MAX_CHAIN + 1}"
    return None


def _measure(node: object) -> tuple[int, int]:
    deepest, longest = 0, 0
    stack: list[tuple[object, int, int]] = [(node, 1, 1 if isinstance(node, Binary) else 0)]
    while stack:
        current, level, chain = stack.pop()
        deepest, longest = max(deepest, level), max(longest, chain)
        for child in _children(current):
            # A chain of one operator (`a or b or …`, `x + y - z`) is a list to a reader,
            # and the compiler runs it as one: it does not nest, it has a length.
            if _chain_op(child) is not None and _chain_op(child) == _chain_op(current):
                stack.append((child, level, chain + 1))
            else:
                stack.append((child, level + 1, 1 if isinstance(child, Binary) else 0))
    return deepest, longest


def _chain_op(node: object) -> str | None:
    if not isinstance(node, Binary):
        return None
    return "+-" if node.op in ("+", "-") else node.op


# --- dump ------------------------------------------------------------------------------------


def _scalar(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def _leaf(node: Ident | EventType | Text) -> str:
    return _scalar(node.value) if isinstance(node, Text) else node.name


def _dump(node: object, indent: str, out: list[str]) -> None:
    if not is_dataclass(node):
        out.append(indent + _scalar(node))
        return
    inline: list[str] = []
    children: list[tuple[str, object]] = []
    for f in fields(node):
        if f.name == "span" or (isinstance(node, Template) and f.name in ("raw", "parts")):
            continue
        value = getattr(node, f.name)
        if (
            isinstance(value, tuple)
            and value
            and all(isinstance(v, Ident | EventType) for v in value)
        ):
            inline.append(f"{f.name}=" + ",".join(_leaf(v) for v in value))
        elif isinstance(value, tuple) and value and f.name not in ("parts", "table"):
            children.append((f.name, value))
        elif isinstance(value, Ident | EventType | Text):
            inline.append(f"{f.name}={_leaf(value)}")
        elif is_dataclass(value):
            children.append((f.name, value))
        elif isinstance(value, tuple):
            text = "." if f.name == "table" else ""
            inline.append(f"{f.name}={text.join(str(v) for v in value)}")
        else:
            inline.append(f"{f.name}={_scalar(value)}")
    if isinstance(node, Name):
        inline = [node.dotted]
    out.append(indent + " ".join([type(node).__name__, *inline]))
    for name, value in children:
        items = value if isinstance(value, tuple) else (value,)
        out.append(f"{indent}  {name}:")
        for item in items:
            _dump(item, indent + "    ", out)
    if isinstance(node, Template):
        out.append(f"{indent}  parts:")
        for part in node.parts:
            _dump(part, indent + "    ", out)


def dump(node: object) -> str:
    """An indented tree without spans (and without comments): equal trees, equal meaning."""
    out: list[str] = []
    if isinstance(node, RuleFile):
        for item in node.items:
            _dump(item, "", out)
    else:
        _dump(node, "", out)
    return "\n".join(out) + "\n"
