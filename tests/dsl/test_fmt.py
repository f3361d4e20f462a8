"""Formatter: canonical, idempotent, comments kept, meaning unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsl.ast import dump
from dsl.errors import FormatError
from dsl.fmt import format_source
from dsl.parser import parse

SEEDS = sorted(Path("rules").glob("*.rule"))


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_seed_files_are_already_canonical(path: Path) -> None:
    src = path.read_text(encoding="utf-8")
    assert format_source(src, str(path)) == src


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_formatting_does_not_change_the_ast(path: Path) -> None:
    src = path.read_text(encoding="utf-8")
    out = format_source(src, str(path))
    assert dump(parse(out, "x").tree) == dump(parse(src, "x").tree)


MESSY = """# header comment


calendar   "cn-mainland-2026"
rule X-1   "Messy"   {   # on the header line
    severity    warning
  on order.entered,order.confirmed
      # before the lets
  let a = 1
  let longer_name=event.quantity*2   # trailing
  let b = (a+1)
 when longer_name>=a and not ("senior"in order.approvals)or event.quantity>1000000 and event.special
  tier 7d { severity info
    message "x" }
  key order_id,region
  message   "Order {order_id}"
}
rule Y "y" { severity info on order.entered message "m" }
# the end
"""

EXPECTED = """# header comment

calendar "cn-mainland-2026"

rule X-1 "Messy" {  # on the header line
  severity warning
  on order.entered, order.confirmed
  # before the lets
  let a           = 1
  let longer_name = event.quantity * 2  # trailing
  let b           = (a + 1)
  when longer_name >= a and not ("senior" in order.approvals)
       or event.quantity > 1000000 and event.special
  tier 7d {
    severity info
    message "x"
  }
  key order_id, region
  message "Order {order_id}"
}

rule Y "y" {
  severity info
  on order.entered
  message "m"
}
# the end
"""


def test_messy_layout_becomes_canonical_and_stays_so() -> None:
    out = format_source(MESSY)
    assert out == EXPECTED
    assert format_source(out) == out
    assert dump(parse(out).tree) == dump(parse(MESSY).tree)


def test_text_with_syntax_errors_is_not_formatted() -> None:
    with pytest.raises(FormatError) as err:
        format_source('rule A "a" {\n  when a == b\n}\n', "f.rule")
    assert [d.code for d in err.value.diagnostics] == ["E100"]
