"""The canonical layout of a rule file. ``format_source(fmt(x)) == fmt(x)``.

Layout: a blank line between top-level items (and wherever the source had one or more
blank lines, collapsed to one); 2-space indent per block; one clause per line; the `=` of
consecutive `let`s aligned; a condition longer than 100 columns is broken before its
top-level `or`/`and`, the continuation lines aligned under the condition's start; message
templates are kept exactly as written. Comments stay where they are: on their own line
before the next clause, or at the end of a clause's line. A comment inside a multi-line
clause moves above that clause. Parentheses are kept as written (they are in the AST).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dsl import ast as a
from dsl.errors import FormatError
from dsl.parser import parse

WIDTH = 100
INDENT = "  "
_PREC = {"or": 1, "and": 2, "=": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 5}
_PREC |= {"+": 7, "-": 7, "*": 8, "/": 8}


def format_source(text: str, file: str = "<string>") -> str:
    """The canonical text of a rule file; raises ``FormatError`` if it does not parse."""
    parsed = parse(text, file)
    errors = [d for d in parsed.diagnostics if d.is_error]
    if errors:
        raise FormatError(f"{file} has syntax errors; fix them before formatting", errors)
    return format_tree(parsed.tree)


# --- expressions ---------------------------------------------------------------------------


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def expr(e: a.Expr) -> str:
    """One expression on one line, as the parser reads it back."""
    match e:
        case a.Number(text=t):
            return t
        case a.Money(text=t):
            return f"{t} CNY"
        case a.Percent(text=t):
            return f"{t}%"
        case a.DurationLit():
            return e.text
        case a.TimeOfDay(hour=h, minute=m):
            return f"{h:02d}:{m:02d}"
        case a.Text(value=v):
            return _quote(v)
        case a.Bool(value=v):
            return "true" if v else "false"
        case a.Name():
            return e.dotted
        case a.Lookup(table=table, keys=keys):
            return f"{'.'.join(table)}[{', '.join(expr(k) for k in keys)}]"
        case a.Call(func=func, args=args):
            return f"{func}({', '.join(expr(x) for x in args)})"
        case a.Group(inner=inner):
            return f"({expr(inner)})"
        case a.Unary(op="not", operand=operand):
            return f"not {expr(operand)}"
        case a.Unary(operand=operand):
            return f"-{expr(operand)}"
        case a.Presence(operand=operand, present=present):
            return f"{expr(operand)} is {'present' if present else 'missing'}"
        case a.Binary(op=op, left=left, right=right):
            return f"{expr(left)} {op} {expr(right)}"
    raise FormatError(f"cannot print {type(e).__name__}", ())  # pragma: no cover


def _chain(e: a.Expr, op: str) -> list[a.Expr]:
    """The operands of a left-nested `a or b or c` chain."""
    if isinstance(e, a.Binary) and e.op == op:
        return [*_chain(e.left, op), e.right]
    return [e]


def _broken(prefix: str, e: a.Expr, suffix: str = "") -> list[str]:
    """`prefix + e + suffix`, broken before top-level `or`/`and` when it is too long."""
    line = prefix + expr(e) + suffix
    if len(line) <= WIDTH or not (isinstance(e, a.Binary) and e.op in ("or", "and")):
        return [line]
    operands = _chain(e, e.op)
    pad = " " * len(prefix)
    lines = [prefix + expr(operands[0])]
    lines += [f"{pad}{e.op} {expr(x)}" for x in operands[1:]]
    lines[-1] += suffix
    return lines


# --- clauses --------------------------------------------------------------------------------


def _types(types: Sequence[a.EventType]) -> str:
    return ", ".join(t.name for t in types)


def _clause(c: a.Clause, indent: str, let_width: int) -> list[str]:
    match c:
        case a.SeverityClause(level=level):
            return [f"{indent}severity {level.name}"]
        case a.LabelClause(name=name, value=value):
            return [f"{indent}label {name.name} = {_quote(value.value)}"]
        case a.CalendarClause(name=name):
            return [f"{indent}calendar {_quote(name.value)}"]
        case a.OnClause(types=types):
            return [f"{indent}on {_types(types)}"]
        case a.AfterClause(types=types):
            return [f"{indent}after {_types(types)}"]
        case a.CancelClause(types=types):
            return [f"{indent}cancel on {_types(types)}"]
        case a.EveryClause(day=day, at=at):
            return [f"{indent}every month on day {day.text} at {expr(at)}"]
        case a.ForEachClause(name=name):
            return [f"{indent}for each {name.name}"]
        case a.KeyClause(names=names):
            return [f"{indent}key {', '.join(n.name for n in names)}"]
        case a.MessageClause(template=template):
            return [f"{indent}message {template.raw}"]
        case a.WhereClause(cond=cond):
            return _broken(f"{indent}where ", cond)
        case a.WhenClause(cond=cond):
            return _broken(f"{indent}when ", cond)
        case a.LetClause(name=name, value=value):
            return _broken(f"{indent}let {name.name:<{let_width}} = ", value)
        case a.PenaltyClause(amount=amount, who=who):
            return [f"{indent}penalty {expr(amount)} to {expr(who)}"]
        case a.ExpectClause():
            return _expect(c, indent)
    raise FormatError(f"cannot print {type(c).__name__}", ())  # pragma: no cover


def _expect(c: a.ExpectClause, indent: str) -> list[str]:
    head = f"{indent}expect {_types(c.types)}"
    tail = ""
    if c.within is not None:
        tail = f" within {c.within.text}"
    elif c.by is not None:
        tail = f" by {expr(c.by)}"
    if c.where is None:
        return [head + tail]
    return _broken(head + " where ", c.where, tail)


# --- blocks, comments, blank lines ------------------------------------------------------------

Node = a.Clause | a.Rule | a.FileCalendar


@dataclass
class _Entry:
    """A line group to print: a node (with its trailing comment) or a lone comment."""

    first: int  # source lines, for blank-line decisions
    last: int
    node: Node | None = None
    comment: a.Comment | None = None
    trailing: a.Comment | None = None
    header_comment: a.Comment | None = None  # on a block's `{` line


def _is_block(node: Node | None) -> bool:
    return isinstance(node, a.Rule | a.TierClause)


def _entries(nodes: Sequence[Node], comments: list[a.Comment]) -> list[_Entry]:
    """Nodes and the comments among them (inner comments of blocks are left in place)."""
    entries = [_Entry(n.span.line, n.span.end_line, node=n) for n in nodes]
    for c in comments:
        line = c.span.line
        owner = next((e for e in entries if e.first <= line <= e.last), None)
        if owner is not None and _is_block(owner.node):
            if line == owner.first and owner.header_comment is None:
                owner.header_comment = c
            elif line == owner.last and owner.trailing is None:
                owner.trailing = c
            continue  # inside the block: printed by the block itself
        if owner is not None and line == owner.last and owner.trailing is None:
            owner.trailing = c
            continue
        # On its own line, or inside a multi-line clause: printed above what follows.
        first = owner.first if owner is not None else line
        entries.append(_Entry(first, first, comment=c))
    entries.sort(
        key=lambda e: (e.first, e.node is not None, e.comment.span.line if e.comment else 0)
    )
    return entries


def _inner(comments: list[a.Comment], block: a.Rule | a.TierClause) -> list[a.Comment]:
    """Comments strictly inside a block: after its `{` line, before its `}` line."""
    s = block.span
    return [c for c in comments if s.line < c.span.line < s.end_line]


def _print_block(
    nodes: Sequence[Node], comments: list[a.Comment], indent: str, top: bool
) -> list[str]:
    out: list[str] = []
    entries = _entries(nodes, comments)
    lets = _let_widths(entries)
    prev: _Entry | None = None
    for entry in entries:
        if prev is not None:
            between_rules = top and entry.node is not None and prev.node is not None
            if between_rules or entry.first - prev.last > 1:
                out.append("")
        out.extend(_print_entry(entry, comments, indent, lets.get(id(entry), 0), top))
        prev = entry
    return out


def _let_widths(entries: list[_Entry]) -> dict[int, int]:
    """Name width of each let, aligned within runs of adjacent lets."""
    widths: dict[int, int] = {}
    run: list[_Entry] = []

    def close() -> None:
        width = max(
            (len(e.node.name.name) for e in run if isinstance(e.node, a.LetClause)), default=0
        )
        widths.update({id(e): width for e in run})
        run.clear()

    for entry in entries:
        adjacent = run and entry.first - run[-1].last <= 1
        if isinstance(entry.node, a.LetClause) and (adjacent or not run):
            run.append(entry)
        else:
            close()
            if isinstance(entry.node, a.LetClause):
                run.append(entry)
    close()
    return widths


def _print_entry(
    entry: _Entry, comments: list[a.Comment], indent: str, let_width: int, top: bool
) -> list[str]:
    if entry.comment is not None:
        return [indent + entry.comment.text.rstrip()]
    node = entry.node
    head_comment = f"  {entry.header_comment.text.rstrip()}" if entry.header_comment else ""
    trailing = f"  {entry.trailing.text.rstrip()}" if entry.trailing else ""
    if isinstance(node, a.Rule):
        lines = [f"rule {node.id.name} {_quote(node.name.value)} {{{head_comment}"]
        lines += _print_block(node.clauses, _inner(comments, node), indent + INDENT, False)
        return [*lines, "}" + trailing]
    if isinstance(node, a.TierClause):
        lines = [f"{indent}tier {node.after.text} {{{head_comment}"]
        lines += _print_block(node.clauses, _inner(comments, node), indent + INDENT, False)
        return [*lines, f"{indent}}}{trailing}"]
    if isinstance(node, a.FileCalendar):
        return [f"calendar {_quote(node.name.value)}{trailing}"]
    assert node is not None
    lines = _clause(node, indent, let_width)
    lines[-1] += trailing
    return lines


def format_tree(tree: a.RuleFile) -> str:
    """Print a parsed file canonically (its comments included)."""
    lines = _print_block(tree.items, list(tree.comments), "", True)
    return "\n".join(lines) + "\n" if lines else ""
