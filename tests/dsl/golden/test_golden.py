"""Golden files: good/*.rule → *.ast (tree dumps); bad/*.rule → *.txt (rendered diagnostics).

Regenerate with ``UPDATE_GOLDEN=1 pytest tests/golden`` and review the diff before committing:
the expected files are the specification of what analysts see.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dsl.ast import dump
from dsl.diagnostics import render_all
from dsl.loader import load_report
from dsl.parser import parse

HERE = Path(__file__).parent
CALENDARS = Path("rules/calendars")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _compare(expected_path: Path, actual: str) -> None:
    if UPDATE:
        expected_path.write_text(actual, encoding="utf-8")
    assert expected_path.exists(), f"{expected_path} missing: run with UPDATE_GOLDEN=1"
    assert actual == expected_path.read_text(encoding="utf-8")


def _relative(path: Path) -> str:
    return str(path.relative_to(Path.cwd())) if path.is_absolute() else str(path)


@pytest.mark.parametrize("path", sorted((HERE / "good").glob("*.rule")), ids=lambda p: p.name)
def test_good_files_parse_check_and_compile_to_the_expected_tree(path: Path) -> None:
    report = load_report([_relative(path)], CALENDARS)
    assert report.diagnostics == []
    assert report.rules
    tree = parse(path.read_text(encoding="utf-8"), path.name).tree
    _compare(path.with_suffix(".ast"), dump(tree))


@pytest.mark.parametrize("path", sorted((HERE / "bad").glob("*.rule")), ids=lambda p: p.name)
def test_bad_files_give_the_expected_diagnostics(path: Path) -> None:
    report = load_report([_relative(path)], CALENDARS)
    assert report.diagnostics
    rendered = render_all(report.diagnostics, report.sources) + "\n"
    _compare(path.with_suffix(".txt"), rendered)
