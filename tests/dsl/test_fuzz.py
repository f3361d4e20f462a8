"""Fuzz: whatever the text, the pipeline returns diagnostics and never raises."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl.check import check
from dsl.compile import compile_file
from dsl.diagnostics import render_all
from dsl.fmt import format_source
from dsl.parser import parse

SEEDS = [p.read_text(encoding="utf-8") for p in sorted(Path("rules").glob("*.rule"))]
ALPHABET = st.sampled_from(list('{}()[]"\\#=<>!+-*/%.,: \n\tabcdefxyz0123456789'))
TOKENS = st.sampled_from(
    ["rule", "{", "}", "when", "==", "=", "7", "d", "business", '"', "\\", "#", "\n", "event.",
     "order.", "(", ")", "{x}", "and", "or", "not", "tier", "expect", "within", "by", "CNY", "%"]
)  # fmt: skip


def pipeline(text: str) -> None:
    parsed = parse(text, "fuzz.rule")
    checked = check(parsed.tree, {"cn-mainland-2026"})
    diags = [*parsed.diagnostics, *checked.diagnostics]
    render_all(diags, {"fuzz.rule": text})
    if not diags or all(not d.is_error for d in diags):
        compile_file(parsed.tree, checked)
        formatted = format_source(text, "fuzz.rule")
        assert format_source(formatted, "fuzz.rule") == formatted


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text(alphabet=ALPHABET, max_size=200))
def test_random_text(text: str) -> None:
    pipeline(text)


@FAST
@given(st.lists(TOKENS, max_size=40))
def test_random_token_soup(tokens: list[str]) -> None:
    pipeline(" ".join(tokens))


@FAST
@given(st.sampled_from(SEEDS), st.data())
def test_truncated_seed_files(seed: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(seed)))
    pipeline(seed[:cut])


@FAST
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_seed_files(seed: str, data: st.DataObject) -> None:
    text = seed
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        span = data.draw(st.integers(0, 8))
        token = data.draw(TOKENS)
        text = text[:at] + token + text[at + span :]
    pipeline(text)
