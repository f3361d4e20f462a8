"""Mutation testing of the seed rules against their YAML tests.

A mutant is a rule file with one small change inside one rule: a comparison flipped
(``>=`` ↔ ``<``, ``>`` ↔ ``<=``, ``=`` ↔ ``!=``), a number of a duration, money, percent,
time of day or day of month moved by one, ``+`` ↔ ``-``, ``and`` ↔ ``or``,
``is present`` ↔ ``is missing``, a ``when``/``where`` negated, or a rule without ``when``
given ``when false``. A mutant is *killed* when at least one case of the rule file's test
files fails on it; one that survives is a behaviour no test pins down.

Text-level on purpose: the mutations are what an analyst's slip of the keyboard would do,
and they must not depend on the compiler under test. Comments and text literals are never
touched. Run ``python -m tests.rules.mutation`` for the full report.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from streams.offline.ruletest import load_test_file, run_test_file

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
TESTS = RULES / "tests"

CLAUSES = frozenset(
    {"severity", "label", "calendar", "on", "after", "every", "for", "where", "let", "when"}
    | {"expect", "cancel", "tier", "key", "message", "penalty"}
)

_FLIP = {">=": "<", "<": ">=", ">": "<=", "<=": ">", "=": "!=", "!=": "="}
_COMPARISON = re.compile(r">=|<=|!=|>|<|=")
_UNIT = r"%|\s*CNY\b|d\b|h\b|min\b|w\b|\s+business\s+(?:hours?|days?)\b"
_NUMBER = re.compile(rf"(?<![\w.:])(\d+)(?:({_UNIT})|(?![\w.:]))")
_TIME_OF_DAY = re.compile(r"(?<![\w:])(\d{1,2}):(\d{2})(?![\w:])")
_ARITHMETIC = re.compile(r"(?<=\s)[+-](?=\s)")
_LOGIC = re.compile(r"\b(and|or)\b")
_PRESENCE = re.compile(r"\bis (present|missing)\b")
_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_WEEKDAY = re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b")
_EVENT_TYPE = re.compile(r"\b(?:order|inventory|shipment|plan)\.[a-z_]+\b")
_TYPE_LISTS = ("on", "after", "expect", "cancel")


@dataclass(frozen=True)
class Mutant:
    rule: str  # the rule id the change is in
    line: int  # 1-based line of the change in the rule file
    description: str  # e.g. "`>=` → `<`"
    text: str  # the whole mutated rule file


@dataclass(frozen=True)
class Verdict:
    mutant: Mutant
    outcome: str  # "killed" | "survived" | "invalid" (the mutant does not load)
    detail: str = ""  # the first failing case, or the load error


def rule_blocks(text: str) -> list[tuple[str, int, int]]:
    """(rule id, first line index, last line index) of every rule in a rule file."""
    lines = text.splitlines()
    blocks: list[tuple[str, int, int]] = []
    for i, line in enumerate(lines):
        found = re.match(r"rule\s+(\S+)", line)
        if found:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "}")
            blocks.append((found.group(1), i, end))
    return blocks


def code_spans(line: str) -> list[tuple[int, int]]:
    """Ranges of ``line`` that are code: outside text literals and the trailing comment."""
    spans, start, i = [], 0, 0
    while i < len(line):
        char = line[i]
        if char == "#":
            break
        if char == '"':
            spans.append((start, i))
            i += 1
            while i < len(line) and line[i] != '"':
                i += 2 if line[i] == "\\" else 1
            start = i + 1
        i += 1
    spans.append((start, min(i, len(line))))
    return [(a, b) for a, b in spans if b > a]


def _comment_start(line: str) -> int:
    """Where the line's comment begins (its length when it has none)."""
    spans = code_spans(line)
    end = spans[-1][1] if spans else 0
    return line.index("#", end) if "#" in line[end:] else len(line)


def _replace(lines: list[str], index: int, start: int, end: int, new: str) -> str:
    line = lines[index]
    changed = [*lines[:index], line[:start] + new + line[end:], *lines[index + 1 :]]
    return "\n".join(changed) + "\n"


def _token_mutants(line: str, is_assignment: bool) -> Iterator[tuple[int, int, str, str]]:
    """(start, end, replacement, description) for the tokens of one code line."""
    skip_first_equals = is_assignment
    for a, b in code_spans(line):
        code = line[a:b]
        for found in _COMPARISON.finditer(code):
            op = found.group()
            if op == "=" and skip_first_equals:
                skip_first_equals = False
                continue
            yield a + found.start(), a + found.end(), _FLIP[op], f"`{op}` → `{_FLIP[op]}`"
        yield from _number_mutants(code, a)
        for found in _ARITHMETIC.finditer(code):
            other = "-" if found.group() == "+" else "+"
            yield a + found.start(), a + found.end(), other, f"`{found.group()}` → `{other}`"
        for found in _LOGIC.finditer(code):
            other = "or" if found.group() == "and" else "and"
            yield a + found.start(), a + found.end(), other, f"`{found.group()}` → `{other}`"
        for found in _WEEKDAY.finditer(code):
            other = _WEEKDAYS[(_WEEKDAYS.index(found.group()) + 1) % 7]
            yield a + found.start(), a + found.end(), other, f"`{found.group()}` → `{other}`"
        for found in _PRESENCE.finditer(code):
            other = "missing" if found.group(1) == "present" else "present"
            new = f"is {other}"
            yield a + found.start(), a + found.end(), new, f"`{found.group()}` → `{new}`"


def _number_mutants(code: str, offset: int) -> Iterator[tuple[int, int, str, str]]:
    for found in _TIME_OF_DAY.finditer(code):
        hour, minute = int(found.group(1)), int(found.group(2))
        for delta in (1, -1):
            total = (hour * 60 + minute + delta) % (24 * 60)
            new = f"{total // 60:02d}:{total % 60:02d}"
            yield offset + found.start(), offset + found.end(), new, f"`{found.group()}` → `{new}`"
    masked = _TIME_OF_DAY.sub(lambda m: "x" * len(m.group()), code)
    for found in _NUMBER.finditer(masked):
        number, unit = int(found.group(1)), found.group(2) or ""
        for new_number in (number + 1, number - 1):
            if new_number <= 0:
                continue
            new_unit = _plural(unit, new_number)
            new = f"{new_number}{new_unit}"
            old = found.group()
            yield offset + found.start(), offset + found.end(), new, f"`{old}` → `{new}`"


def _plural(unit: str, number: int) -> str:
    """``1 business hour`` but ``2 business hours``."""
    if "business" not in unit:
        return unit
    singular = unit.rstrip("s")
    return singular if number == 1 else singular + "s"


def _dropped_types(line: str) -> Iterator[tuple[int, int, str, str]]:
    """Each event type of an ``on``/``after``/``expect``/``cancel on`` list of two or more,
    left out."""
    if line.split()[:1] not in ([w] for w in _TYPE_LISTS):
        return
    # Only the list itself: `expect X where …` / `within` / `by` may name order fields.
    listed = re.split(r"\s(?:where|within|by)\s", line, maxsplit=1)[0]
    found = list(_EVENT_TYPE.finditer(listed))
    if len(found) < 2:
        return
    for i, token in enumerate(found):
        # Remove the type with the separator after it (or, for the last, before it).
        if i + 1 < len(found):
            start, end = token.start(), found[i + 1].start()
        else:
            start, end = found[i - 1].end(), token.end()
        yield start, end, "", f"`{token.group()}` left out"


def _clause_extent(lines: list[str], start: int, end: int) -> int:
    """The last line of the clause that begins at ``start`` (continuations included)."""
    last = start
    for j in range(start + 1, end):
        words = lines[j].split()
        if not words or words[0] in CLAUSES or words[0].startswith(("#", "}")):
            break
        last = j
    return last


def _negations(lines: list[str], rule: str, start: int, end: int) -> Iterator[Mutant]:
    """``when C`` → ``when not (C)``, the same for ``where``; no ``when`` → ``when false``."""
    has_when = False
    for i in range(start + 1, end):
        words = lines[i].split()
        if not words or words[0] not in ("when", "where"):
            continue
        has_when = has_when or words[0] == "when"
        last = _clause_extent(lines, i, end)
        changed = list(lines)
        tail = changed[last]
        code_end = len(tail[: _comment_start(tail)].rstrip())
        changed[last] = tail[:code_end] + ")" + tail[code_end:]
        keyword = words[0]
        changed[i] = changed[i].replace(f"{keyword} ", f"{keyword} not (", 1)
        text = "\n".join(changed) + "\n"
        yield Mutant(rule, i + 1, f"`{keyword} C` → `{keyword} not (C)`", text)
    is_event_rule = any(lines[i].split()[:1] == ["on"] for i in range(start + 1, end))
    if is_event_rule and not has_when:
        changed = [*lines[:end], "  when false", *lines[end:]]
        yield Mutant(rule, end + 1, "no `when` → `when false`", "\n".join(changed) + "\n")


def mutants(text: str) -> Iterator[Mutant]:
    """Every mutant of a rule file, rule by rule."""
    lines = text.splitlines()
    for rule, start, end in rule_blocks(text):
        for i in range(start + 1, end):
            words = lines[i].split()
            if not words or words[0] in ("message", "label", "calendar") or words[0][0] == "#":
                continue
            assignment = words[0] == "let"
            for a, b, new, description in _token_mutants(lines[i], assignment):
                yield Mutant(rule, i + 1, description, _replace(lines, i, a, b, new))
            for a, b, new, description in _dropped_types(lines[i]):
                yield Mutant(rule, i + 1, description, _replace(lines, i, a, b, new))
        yield from _negations(lines, rule, start, end)


def files_testing(rule_file: Path) -> list[Path]:
    """The YAML test files whose ``rules:`` include ``rule_file``."""
    target = rule_file.resolve()
    return [
        path
        for path in sorted(TESTS.glob("*.yaml"))
        if target in {p.resolve() for p in load_test_file(path).rules}
    ]


def judge(mutant: Mutant, rule_file: Path, test_files: list[Path]) -> Verdict:
    """Run the test files with ``rule_file`` replaced by the mutant."""
    with tempfile.TemporaryDirectory() as tmp:
        mutated = Path(tmp) / rule_file.name
        mutated.write_text(mutant.text, encoding="utf-8")
        for test_file in test_files:
            results = run_test_file(test_file, replace={rule_file: mutated})
            failed = [r for r in results if not r.ok]
            if failed and failed[0].name == "(file)":
                return Verdict(mutant, "invalid", failed[0].problems[0].splitlines()[-1])
            if failed:
                return Verdict(mutant, "killed", f"{test_file.name}: {failed[0].name}")
    return Verdict(mutant, "survived")


def judge_rule_file(rule_file: Path) -> list[Verdict]:
    test_files = files_testing(rule_file)
    text = rule_file.read_text(encoding="utf-8")
    return [judge(m, rule_file, test_files) for m in mutants(text)]


def report(verdicts: list[Verdict]) -> str:
    lines = []
    for v in verdicts:
        where = f"{v.mutant.rule} line {v.mutant.line}: {v.mutant.description}"
        lines.append(f"{v.outcome:9} {where}" + (f"  ({v.detail})" if v.detail else ""))
    return "\n".join(lines)


def main() -> None:
    everything: list[Verdict] = []
    for rule_file in sorted(RULES.glob("*.rule")):
        verdicts = judge_rule_file(rule_file)
        print(f"== {rule_file.relative_to(ROOT)}")
        print(report(verdicts))
        everything += verdicts
    counts = {k: sum(1 for v in everything if v.outcome == k) for k in ("killed", "survived")}
    invalid = sum(1 for v in everything if v.outcome == "invalid")
    print(
        f"{len(everything)} mutants: {counts['killed']} killed, {counts['survived']} survived,"
        f" {invalid} invalid"
    )


if __name__ == "__main__":
    main()
