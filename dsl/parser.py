"""Text → ``RuleFile`` plus syntax diagnostics (E1xx).

The grammar lives in ``grammar.lark`` (LALR, positions propagated). A file that does not
parse is split at its `rule` lines and every block is parsed on its own, so that one
syntax error does not hide the rest of the file: the good blocks still reach the checker.
Comments are kept out of the tree but collected (for ``fmt``) by a lexer callback.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)
from lark.lexer import PatternRE, PatternStr, TerminalDef
from lark.tree import Meta

from dsl import ast as a
from dsl.diagnostics import Diagnostic


@dataclass(frozen=True)
class ParseResult:
    tree: a.RuleFile
    diagnostics: tuple[Diagnostic, ...]


class _CommentSink:
    """Where the lexer callback puts comments; swapped per parse under ``_LOCK``."""

    def __init__(self) -> None:
        self.tokens: list[Token] = []

    def __call__(self, token: Token) -> Token:
        self.tokens.append(token)
        return token


_KEYWORDS: dict[str, str] = {}  # terminal name -> its keyword, e.g. "OR" -> "or"


def _whole_word(term: TerminalDef) -> None:
    """A keyword matches only a whole word: `order_id` after a value is not `or` + `der_id`.

    Lark matches a keyword string anywhere a keyword may come, even as the start of a
    longer name; the look-ahead makes it a name's prefix no more. The keyword is kept
    above NAME (same text) so that `or` alone is still the keyword.
    """
    if isinstance(term.pattern, PatternStr) and term.pattern.value.isalpha():
        _KEYWORDS[term.name] = term.pattern.value
        word = re.escape(term.pattern.value)
        term.pattern = PatternRE(f"{word}(?![A-Za-z0-9_])", term.pattern.flags)
        term.priority = max(term.priority, 1)


_SINK = _CommentSink()
_LOCK = threading.Lock()
LARK = Lark(
    (Path(__file__).with_name("grammar.lark")).read_text(encoding="utf-8"),
    parser="lalr",
    start=["start", "expr"],
    propagate_positions=True,
    maybe_placeholders=True,
    lexer_callbacks={"COMMENT": _SINK},
    edit_terminals=_whole_word,
)


def _span(file: str, meta: Meta | Token) -> a.Span:
    line = meta.line or 1
    col = meta.column or 1
    end_line = meta.end_line or line
    end_col = meta.end_column or col + 1
    return a.Span(file, line, col, end_line, end_col)


def unescape(body: str) -> str:
    r"""The value of a quoted text's body: `\"` is a quote, `\\` a backslash."""
    return re.sub(r"\\(.)", r"\1", body)


def _durations_count(token: Token) -> int:
    return int(re.match(r"\d+", str(token)).group())  # type: ignore[union-attr]


@dataclass(frozen=True)
class _Shift:
    """Where a piece of text parsed on its own lies in the file: lines before it, and
    columns before it on its first line."""

    lines: int = 0
    cols: int = 0

    def span(self, s: a.Span) -> a.Span:
        col = s.col + self.cols if s.line == 1 else s.col
        end_col = s.end_col + self.cols if s.end_line == 1 else s.end_col
        return a.Span(s.file, s.line + self.lines, col, s.end_line + self.lines, end_col)

    def diagnostic(self, d: Diagnostic) -> Diagnostic:
        return Diagnostic(d.code, d.message, self.span(d.span), d.hint, d.severity)


class _ToAst:
    """Lark tree → ``dsl.ast``: one method per grammar rule (or alias), called with the
    node's positions and its children, already built. Problems with literal values become
    diagnostics here."""

    def __init__(
        self,
        file: str,
        parse_expr: Callable[[str, int, int], a.Expr | None],
        shift: _Shift = _Shift(),
    ) -> None:
        self.file = file
        self.diags: list[Diagnostic] = []
        self._parse_expr = parse_expr
        self._shift = shift

    def transform(self, tree: Tree[Token]) -> Any:
        """Build bottom-up without recursion, so a tree of any depth becomes an AST without
        a RecursionError (the clauses nested too deeply for the later stages are then left
        out with an E104). Lark's own transformers wrap every call (functools.wraps per
        node): this loop is what makes a 5 MB file's tree an AST in seconds."""
        order: list[Any] = []
        todo: list[Any] = [tree]
        while todo:
            node = todo.pop()
            order.append(node)
            if isinstance(node, Tree):
                todo.extend(node.children)
        built: list[Any] = []
        for node in reversed(order):
            if isinstance(node, Tree):
                cut = len(built) - len(node.children)
                children = built[cut:]
                del built[cut:]
                built.append(getattr(self, str(node.data))(node.meta, children))
            else:
                built.append(node)
        [result] = built
        return result

    def _s(self, meta: Meta | Token) -> a.Span:
        return self._shift.span(_span(self.file, meta))

    def too_deep(self, node: a.Clause | a.Expr) -> bool:
        """True (and an E104) when ``node`` nests deeper than the later stages can take."""
        message = a.too_deep(node)
        if message is None:
            return False
        hint = "give parts of it a name with `let`, or split the rule"
        self.diags.append(Diagnostic("E104", message, node.span, hint))
        return True

    def _error(self, code: str, message: str, where: Meta | Token, hint: str | None) -> None:
        self.diags.append(Diagnostic(code, message, self._s(where), hint))

    # --- file and rules
    def start(self, meta: Meta, items: list[Any]) -> list[Any]:
        return items

    def file_calendar(self, meta: Meta, c: list[Any]) -> a.FileCalendar:
        return a.FileCalendar(self._text(c[0]), self._s(meta))

    def rule(self, meta: Meta, c: list[Any]) -> a.Rule:
        ident = a.Ident(str(c[0]), self._s(c[0]))
        clauses = tuple(clause for clause in c[2:] if not self.too_deep(clause))
        return a.Rule(ident, self._text(c[1]), clauses, self._s(meta))

    def _text(self, token: Token) -> a.Text:
        return a.Text(unescape(str(token)[1:-1]), self._s(token))

    def _ident(self, token: Token) -> a.Ident:
        return a.Ident(str(token), self._s(token))

    # --- clauses
    def severity(self, meta: Meta, c: list[Any]) -> a.SeverityClause:
        return a.SeverityClause(self._ident(c[0]), self._s(meta))

    def label(self, meta: Meta, c: list[Any]) -> a.LabelClause:
        return a.LabelClause(self._ident(c[0]), self._text(c[1]), self._s(meta))

    def calendar(self, meta: Meta, c: list[Any]) -> a.CalendarClause:
        return a.CalendarClause(self._text(c[0]), self._s(meta))

    def on(self, meta: Meta, c: list[Any]) -> a.OnClause:
        return a.OnClause(c[0], self._s(meta))

    def after(self, meta: Meta, c: list[Any]) -> a.AfterClause:
        return a.AfterClause(c[0], self._s(meta))

    def cancel(self, meta: Meta, c: list[Any]) -> a.CancelClause:
        return a.CancelClause(c[0], self._s(meta))

    def every(self, meta: Meta, c: list[Any]) -> a.EveryClause:
        day = a.Number(Decimal(str(c[0])), str(c[0]), self._s(c[0]))
        return a.EveryClause(day, self.time_of_day(c[1], [c[1]]), self._s(meta))

    def for_each(self, meta: Meta, c: list[Any]) -> a.ForEachClause:
        return a.ForEachClause(self._ident(c[0]), self._s(meta))

    def where(self, meta: Meta, c: list[Any]) -> a.WhereClause:
        return a.WhereClause(c[0], self._s(meta))

    def when(self, meta: Meta, c: list[Any]) -> a.WhenClause:
        return a.WhenClause(c[0], self._s(meta))

    def let(self, meta: Meta, c: list[Any]) -> a.LetClause:
        return a.LetClause(self._ident(c[0]), c[1], self._s(meta))

    def expect(self, meta: Meta, c: list[Any]) -> a.ExpectClause:
        types, where, tail = c
        within = tail if isinstance(tail, a.DurationLit) else None
        by = tail.inner if isinstance(tail, _By) else None
        return a.ExpectClause(types, where, within, by, self._s(meta))

    def expect_where(self, meta: Meta, c: list[Any]) -> a.Expr:
        return c[0]  # type: ignore[no-any-return]

    def within(self, meta: Meta, c: list[Any]) -> a.DurationLit:
        return c[0]  # type: ignore[no-any-return]

    def by(self, meta: Meta, c: list[Any]) -> _By:
        return _By(c[0])

    def tier(self, meta: Meta, c: list[Any]) -> a.TierClause:
        return a.TierClause(c[0], tuple(c[1:]), self._s(meta))

    def key(self, meta: Meta, c: list[Any]) -> a.KeyClause:
        return a.KeyClause(tuple(self._ident(t) for t in c), self._s(meta))

    def message(self, meta: Meta, c: list[Any]) -> a.MessageClause:
        return a.MessageClause(self._template(c[0]), self._s(meta))

    def penalty(self, meta: Meta, c: list[Any]) -> a.PenaltyClause:
        return a.PenaltyClause(c[0], c[1], self._s(meta))

    def event_types(self, meta: Meta, c: list[Any]) -> tuple[a.EventType, ...]:
        return tuple(c)

    def event_type(self, meta: Meta, c: list[Any]) -> a.EventType:
        return a.EventType(f"{c[0]}.{c[1]}", self._s(meta))

    # --- expressions
    def _binary(self, op: str, meta: Meta, c: list[Any]) -> a.Binary:
        return a.Binary(op, c[0], c[-1], self._s(meta))

    def or_op(self, meta: Meta, c: list[Any]) -> a.Binary:
        return self._binary("or", meta, c)

    def and_op(self, meta: Meta, c: list[Any]) -> a.Binary:
        return self._binary("and", meta, c)

    def in_op(self, meta: Meta, c: list[Any]) -> a.Binary:
        return self._binary("in", meta, c)

    def compare(self, meta: Meta, c: list[Any]) -> a.Binary:
        return self._binary(str(c[1]), meta, c)

    def arith(self, meta: Meta, c: list[Any]) -> a.Binary:
        return self._binary(str(c[1]), meta, c)

    def not_op(self, meta: Meta, c: list[Any]) -> a.Unary:
        return a.Unary("not", c[0], self._s(meta))

    def neg(self, meta: Meta, c: list[Any]) -> a.Unary:
        return a.Unary("-", c[0], self._s(meta))

    def is_present(self, meta: Meta, c: list[Any]) -> a.Presence:
        return a.Presence(c[0], True, self._s(meta))

    def is_missing(self, meta: Meta, c: list[Any]) -> a.Presence:
        return a.Presence(c[0], False, self._s(meta))

    def group(self, meta: Meta, c: list[Any]) -> a.Group:
        return a.Group(c[0], self._s(meta))

    def path(self, meta: Meta, c: list[Any]) -> tuple[str, ...]:
        return tuple(str(t) for t in c)

    def name(self, meta: Meta, c: list[Any]) -> a.Name:
        return a.Name(c[0], self._s(meta))

    def lookup(self, meta: Meta, c: list[Any]) -> a.Lookup:
        return a.Lookup(c[0], c[1], self._s(meta))

    def call(self, meta: Meta, c: list[Any]) -> a.Call:
        return a.Call(str(c[0]), c[1] or (), self._s(meta))

    def args(self, meta: Meta, c: list[Any]) -> tuple[a.Expr, ...]:
        return tuple(c)

    # --- literals
    def number(self, meta: Meta, c: list[Any]) -> a.Number:
        return a.Number(Decimal(str(c[0])), str(c[0]), self._s(meta))

    def money(self, meta: Meta, c: list[Any]) -> a.Money:
        return a.Money(Decimal(str(c[0])), str(c[0]), self._s(meta))

    def percent(self, meta: Meta, c: list[Any]) -> a.Percent:
        return a.Percent(Decimal(str(c[0])) / 100, str(c[0]), self._s(meta))

    def duration(self, meta: Meta, c: list[Any]) -> a.DurationLit:
        token = c[0]
        unit = str(token).lstrip("0123456789")
        return self._duration(_durations_count(token), unit, False, meta)

    def business_duration(self, meta: Meta, c: list[Any]) -> a.DurationLit:
        count_text, word = str(c[0]), str(c[1]).rstrip("s")
        if not count_text.isdigit():
            self._error(
                "E103",
                f"a business duration needs a whole number, not {count_text}",
                c[0],
                f"write e.g. 2 business {word}s",
            )
            count_text = "0"
        return self._duration(int(count_text), a.BUSINESS_UNITS[word], True, meta)

    def _duration(self, count: int, unit: str, business: bool, meta: Meta) -> a.DurationLit:
        if count > 100_000:  # beyond timedelta's range for weeks, and beyond any policy
            self._error("E103", f"duration of {count} is too long", meta, "at most 100000")
            count = 0
        return a.DurationLit(count, unit, business, self._s(meta))

    def time_of_day(self, meta: Meta | Token, c: list[Any]) -> a.TimeOfDay:
        hour, minute = (int(p) for p in str(c[0]).split(":"))
        if hour > 23 or minute > 59:
            self._error("E207", f"{c[0]} is not a time of day", meta, "use 00:00 to 23:59")
            hour, minute = 0, 0
        return a.TimeOfDay(hour, minute, self._s(meta))

    def text(self, meta: Meta, c: list[Any]) -> a.Text:
        raw = str(c[0])
        body = raw[2:-2] if raw.startswith("\\") else raw[1:-1]
        return a.Text(unescape(body), self._s(meta))

    def true(self, meta: Meta, c: list[Any]) -> a.Bool:
        return a.Bool(True, self._s(meta))

    def false(self, meta: Meta, c: list[Any]) -> a.Bool:
        return a.Bool(False, self._s(meta))

    # --- message templates
    def _template(self, token: Token) -> a.Template:
        raw = str(token)
        at = self._s(token)
        parts: list[str | a.Expr] = []
        for piece, offset, closed in _template_pieces(raw[1:-1]):
            if offset < 0:
                parts.append(piece)
                continue
            col = at.col + 1 + offset
            if not closed:
                where = a.Span(self.file, at.line, col - 1, at.line, col)
                hint = "close it with } or write {{ for a literal brace"
                self.diags.append(Diagnostic("E100", "unclosed { in message", where, hint))
                continue
            expr = self._template_expr(piece, at.line, col)
            if expr is not None:
                parts.append(expr)
        return a.Template(raw, tuple(parts), at)

    def _template_expr(self, text: str, line: int, col: int) -> a.Expr | None:
        if text.strip() == "":
            where = a.Span(self.file, line, col - 1, line, col + len(text) + 1)
            self.diags.append(
                Diagnostic("E100", "empty {} in message", where, "write {{ for a literal brace")
            )
            return None
        return self._parse_expr(text, line, col)


@dataclass(frozen=True)
class _By:
    inner: a.Expr


def _template_pieces(body: str) -> Iterator[tuple[str, int, bool]]:
    """Split a template body into (text, -1, True) and (expression, offset, closed) pieces.

    `{{` and `}}` are literal braces; `closed` is False for a `{` without its `}`.
    """
    text: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if body.startswith("{{", i) or body.startswith("}}", i):
            text.append(ch)
            i += 2
        elif ch == "{":
            end = _closing_brace(body, i + 1)
            if text:
                yield unescape("".join(text)), -1, True
                text = []
            yield body[i + 1 : end], i + 1, end < len(body)
            i = end + 1
        elif ch == "\\" and i + 1 < len(body):
            text.append(body[i : i + 2])
            i += 2
        else:
            text.append(ch)
            i += 1
    if text:
        yield unescape("".join(text)), -1, True


def _closing_brace(body: str, start: int) -> int:
    """Index of the `}` that closes an expression (skipping "texts" and \\"texts\\"), or
    len(body)."""
    in_text = False
    i = start
    while i < len(body):
        quote = 2 if body.startswith('\\"', i) else 1 if body[i] == '"' else 0
        if quote:
            in_text = not in_text
            i += quote
            continue
        if body[i] == "}" and not in_text:
            return i
        i += 1
    return len(body)


# --- syntax errors -------------------------------------------------------------------------

CLAUSE_KEYWORDS = (
    "severity",
    "label",
    "calendar",
    "on",
    "after",
    "every",
    "for",
    "where",
    "let",
    "when",
    "expect",
    "cancel",
    "tier",
    "key",
    "message",
    "penalty",
)
_OPERATORS = {"OR", "AND", "IN", "IS", "COMPARE", "ADD_OP", "MUL_OP", "LSQB", "DOT", "LPAR"}
_VALUE_STARTS = {
    "NAME",
    "NUMBER",
    "STRING",
    "TEMPLATE_STRING",
    "LPAR",
    "MINUS",
    "TRUE",
    "FALSE",
    "DURATION",
    "TIME_OF_DAY",
    "NOT",
}
_DESCRIBE = {
    "NAME": "a name",
    "RULE_ID": "a rule id (letters, digits, - and _)",
    "STRING": "a text in quotes",
    "TEMPLATE_STRING": "a text in quotes",
    "MESSAGE_TEXT": "a message in quotes",
    "NUMBER": "a number",
    "INT": "a whole number",
    "DURATION": "a duration (7d, 1h, 30min, 2w)",
    "TIME_OF_DAY": "a time of day (15:00)",
    "COMPARE": "a comparison (=, !=, <, <=, >, >=)",
    "ADD_OP": "+ or -",
    "MUL_OP": "* or /",
    "BUSINESS_UNIT": "hours, days or minutes",
    "$END": "end of file",
}

_SLIPS: dict[str, tuple[str, str, str]] = {
    "missing_brace": ("E100", "missing '}' before the next rule", "close the rule above with }"),
    "duration_unit": (
        "E103",
        "a duration needs a unit",
        "write 7d, 3h, 30min, 2w or 2 business days",
    ),
}
# What an author most likely meant by an operator the language does not have.
_OPERATOR_FIXES = {
    "==": "=",
    "===": "=",
    "=>": ">=",
    "=<": "<=",
    ">>": ">",
    "<<": "<",
    "<>": "!=",
    "!==": "!=",
    ">==": ">=",
    "<==": "<=",
    "=!": "!=",
}
_OPERATOR_CHARS = "=<>!"


def _terminal_text(lark: Lark, name: str) -> str:
    if name in _DESCRIBE:
        return _DESCRIBE[name]
    if name in _KEYWORDS:
        return f"'{_KEYWORDS[name]}'"
    term = next((t for t in lark.terminals if t.name == name), None)
    if term is not None and term.pattern.type == "str":
        return f"'{term.pattern.value}'"
    return name.lower()


def _expected_text(lark: Lark, expected: set[str]) -> str:
    names = set(expected)
    words: list[str] = []
    clause_terms = {n for n in names if n.lower() in CLAUSE_KEYWORDS}
    if len(clause_terms) >= 5:
        names -= clause_terms
        words.append("a clause (severity, on, when, key, message, …)")
    if {"NAME", "NUMBER", "STRING", "LPAR"} <= names:
        names -= _VALUE_STARTS
        words.append("a value (a name, number, text, duration, …)")
    if len(names & _OPERATORS) >= 4:
        names -= _OPERATORS
        words.append("an operator")
    words += sorted({_terminal_text(lark, n) for n in names})
    if not words:
        return ""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _token_text(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type in ("NAME", "RULE_ID"):
        return f"name '{token}'"
    if token.type in ("STRING", "MESSAGE_TEXT"):
        return f"text {token}"
    if str(token).isalpha():
        return f"keyword '{token}'"
    return f"'{token}'"


def syntax_diagnostic(
    err: UnexpectedInput, text: str, file: str, lark: Lark, in_message: bool = False
) -> Diagnostic:
    """A friendly E1xx diagnostic for a lark parse error."""
    line, col = err.line, err.column
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream or 0
        char = text[pos] if pos < len(text) else ""
        end = len(text[pos:].split("\n", 1)[0]) + col
        span = a.Span(file, line, col, line, end if char == '"' else col + 1)
        if char == '"' and not in_message:
            return Diagnostic(
                "E102", "unterminated text", span, 'end the text with " on the same line'
            )
        return Diagnostic("E100", f"unexpected character {char!r}", span, None)
    assert isinstance(err, UnexpectedToken | UnexpectedEOF)
    token = err.token
    expected = _expected_text(lark, _expected(err))
    unclosed = _unclosed(err, text, file)
    if unclosed is not None:
        return unclosed
    if token.type == "$END":
        span = a.Span(
            file,
            token.end_line or line,
            token.end_column or col,
            token.end_line or line,
            (token.end_column or col) + 1,
        )
        if "RBRACE" in _expected(err) and not in_message:
            hint = "every rule (and tier) ends with }; close it before the next rule"
            return Diagnostic("E101", "missing '}' at the end of the rule", span, hint)
        message = "unexpected end of " + ("expression" if in_message else "file")
        return Diagnostic("E101", message + (f", expected {expected}" if expected else ""), span)
    span = _span(file, token)
    message = f"unexpected {_token_text(token)}" + (f", expected {expected}" if expected else "")
    return _refine(token, message, span, text, err)


def _refine(
    token: Token, message: str, span: a.Span, text: str, err: UnexpectedInput
) -> Diagnostic:
    """Hints the example table cannot give: unknown clause, unit slips, misplaced `rule`."""
    pos = token.start_pos or 0
    expected = _expected(err)
    if token.type == "NAME" and pos > 0 and text[pos - 1].isdigit():
        hint = f"durations are 7d, 3h, 30min, 2w or 2 business days; not '{token}'"
        return Diagnostic("E103", f"bad duration unit '{token}'", span, hint)
    if token.type == "RULE":
        code, what, hint = _SLIPS["missing_brace"]
        return Diagnostic(code, f"{what}: {message}", span, hint)
    if token.type in ("EQUAL", "COMPARE", "BANG") or str(token) in _OPERATOR_CHARS:
        wrong = _wrong_operator(token, span, text)
        if wrong is not None:
            return wrong
    if token.type in ("NAME", "RULE_ID") and len(expected & _OPERATORS) >= 4:
        hint = "join it with an operator (and, or, =, +, …), or start a new clause"
        return Diagnostic("E100", f"unexpected {_token_text(token)} after a value", span, hint)
    if expected == {"BUSINESS"}:
        code, what, hint = _SLIPS["duration_unit"]
        return Diagnostic(code, f"{what}: {message}", span, hint)
    clause_keywords = {n for n in expected if n.lower() in CLAUSE_KEYWORDS}
    if token.type in ("NAME", "RULE_ID") and len(clause_keywords) >= 5:
        close = difflib.get_close_matches(str(token), CLAUSE_KEYWORDS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else "clauses: " + ", ".join(CLAUSE_KEYWORDS)
        return Diagnostic("E100", f"unknown clause '{token}'", span, hint)
    return Diagnostic("E100", message, span, None)


def _wrong_operator(token: Token, span: a.Span, text: str) -> Diagnostic | None:
    """`==`, `=>`, `>>`, `< <`: an operator the language does not have, as written."""
    pos = token.start_pos or 0
    begin = pos
    while begin > 0 and text[begin - 1] in _OPERATOR_CHARS + " \t":
        begin -= 1
    while begin < pos and text[begin] in " \t":
        begin += 1
    if begin == pos:
        return None
    end = token.end_pos or pos + len(token)
    while end < len(text) and text[end] in _OPERATOR_CHARS:
        end += 1
    found = text[begin:end]
    compact = "".join(found.split())
    fix = _OPERATOR_FIXES.get(compact, "!=" if compact.startswith("!") else compact[0])
    where = a.Span(span.file, span.line, span.col - (pos - begin), span.line, span.col + end - pos)
    hint = (
        "compare with a single '=': a = b"
        if fix == "="
        else f"did you mean '{fix}'? the comparisons are =, !=, <, <=, > and >="
    )
    return Diagnostic("E100", f"'{found}' is not an operator", where, hint)


_CLOSERS = {"LPAR": ("(", ")"), "LSQB": ("[", "]")}


def _unclosed(err: UnexpectedInput, text: str, file: str) -> Diagnostic | None:
    """A `(` or `[` still open when its clause (or rule, or file) ends: reported at itself."""
    if not isinstance(err, UnexpectedToken) or not {"RPAR", "RSQB"} & _expected(err):
        return None
    if err.token.type not in ("RBRACE", "RULE", "$END") and (
        err.token.type.lower() not in CLAUSE_KEYWORDS
    ):
        return None
    stack = getattr(getattr(err, "interactive_parser", None), "parser_state", None)
    values = getattr(stack, "value_stack", None) or []
    opener = next(
        (v for v in reversed(values) if isinstance(v, Token) and v.type in _CLOSERS), None
    )
    if opener is None:
        return None
    left, right = _CLOSERS[opener.type]
    before = "the end of the file" if err.token.type == "$END" else f"'{err.token}'"
    hint = f"close it with {right} before {before}"
    return Diagnostic("E101", f"unclosed '{left}'", _span(file, opener), hint)


def _expected(err: UnexpectedInput) -> set[str]:
    """What the parser could take here: the exact set when lark computed it."""
    accepts = getattr(err, "accepts", None)
    return set(accepts or getattr(err, "expected", None) or ())


# --- parsing -------------------------------------------------------------------------------

_RULE_LINE = re.compile(r"^[ \t]*rule\b", re.MULTILINE)


def _chunks(text: str) -> Iterator[tuple[str, _Shift]]:
    """The file cut before every `rule` line, each chunk with the lines before it."""
    starts = [0, *(m.start() for m in _RULE_LINE.finditer(text) if m.start() > 0)]
    lines = 0
    for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
        yield text[begin:end], _Shift(lines)
        lines += text.count("\n", begin, end)


class _FileParser:
    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.diags: list[Diagnostic] = []
        self.comments: list[a.Comment] = []
        self._templates: dict[str, Tree[Token] | Diagnostic] = {}

    def parse(self) -> ParseResult:
        items = self._parse_chunk(self.text, _Shift(), report=False)
        if items is None:
            # Something is wrong: parse rule by rule so the good rules are still checked.
            self.comments = []
            items = []
            for chunk, shift in _chunks(self.text):
                items.extend(self._parse_chunk(chunk, shift, report=True) or [])
        unique = {c.span: c for c in self.comments}
        comments = tuple(sorted(unique.values(), key=lambda c: c.span))
        tree = a.RuleFile(self.file, tuple(items), comments)
        return ParseResult(tree, tuple(self.diags))

    def _parse_chunk(
        self, chunk: str, shift: _Shift, report: bool
    ) -> list[a.FileCalendar | a.Rule] | None:
        transformer = _ToAst(self.file, self._parse_expr, shift)
        with _LOCK:
            _SINK.tokens = []
            try:
                lark_tree = LARK.parse(chunk, start="start")
            except UnexpectedInput as err:
                if report:
                    found = syntax_diagnostic(err, chunk, self.file, LARK)
                    self.diags.append(shift.diagnostic(found))
                return None
            finally:
                self.comments.extend(
                    a.Comment(str(t), shift.span(_span(self.file, t))) for t in _SINK.tokens
                )
        items = transformer.transform(lark_tree)
        self.diags.extend(transformer.diags)
        return list(items)

    def _parse_expr(self, source: str, line: int, col: int) -> a.Expr | None:
        """An expression inside a message template, at its place in the file.

        Parsed on its own and its positions shifted: padding the text out to its place
        would make a large file's parse quadratic.
        """
        shift = _Shift(line - 1, col - 1)
        parsed = self._templates.get(source)
        if parsed is None:
            parsed = self._templates[source] = self._parse_template_expr(source)
        if isinstance(parsed, Diagnostic):
            self.diags.append(shift.diagnostic(parsed))
            return None
        transformer = _ToAst(self.file, self._parse_expr, shift)
        expr: a.Expr = transformer.transform(parsed)
        deep = transformer.too_deep(expr)
        self.diags.extend(transformer.diags)
        return None if deep else expr

    def _parse_template_expr(self, source: str) -> Tree[Token] | Diagnostic:
        """The lark tree of a template expression, or its syntax error, at line 1 col 1.

        Kept per text: a large file says `{order_id}` thousands of times, and a lark tree
        is not changed by building an AST from it."""
        with _LOCK:
            _SINK.tokens = []
            try:
                return LARK.parse(source, start="expr")
            except UnexpectedInput as err:
                return syntax_diagnostic(err, source, self.file, LARK, in_message=True)


def parse(text: str, file: str = "<string>") -> ParseResult:
    """Parse rule text. Never raises for bad input: problems are in ``diagnostics``."""
    return _FileParser(text, file).parse()
