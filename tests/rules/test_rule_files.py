"""Every case of every ``rules/tests/*.yaml`` through the real loader and engine, and a
check that no seed rule goes untested."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from streams.core.hooks import RuleJudge
from streams.offline.ruletest import (
    RuleTestCase,
    RuleTestFile,
    engine_factory,
    load_test_file,
    render,
    run_case,
)

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
TEST_FILES = sorted((RULES / "tests").glob("*.yaml"))


@cache
def _file(path: Path) -> RuleTestFile:
    return load_test_file(path)


@cache
def _engines(path: Path) -> Callable[[], RuleJudge]:
    return engine_factory(_file(path))


def _cases() -> list[tuple[Path, RuleTestCase]]:
    return [(path, case) for path in TEST_FILES for case in _file(path).cases]


@pytest.mark.parametrize(
    ("path", "case"), _cases(), ids=lambda v: v.name if isinstance(v, RuleTestCase) else v.stem
)
def test_rule_case(path: Path, case: RuleTestCase) -> None:
    result = run_case(case, _engines(path), str(path.relative_to(ROOT)), _file(path).zone)
    assert result.ok, render(result)


def seed_rule_ids() -> set[str]:
    return {
        match.group(1)
        for path in RULES.glob("*.rule")
        for match in re.finditer(r"^rule\s+(\S+)", path.read_text(encoding="utf-8"), re.M)
    }


def test_every_seed_rule_has_a_case_where_it_fires() -> None:
    fired = {
        want.rule
        for path in TEST_FILES
        for case in _file(path).cases
        for want in case.expect
        if want.status == "firing"
    }
    assert sorted(seed_rule_ids() - fired) == []
