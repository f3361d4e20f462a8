"""The assessment chart a sales manager opens: Chinese text in a CJK font, not tofu boxes.

Needs Debian's fonts-noto-cjk, which `make test` installs (deploy/packages.sh)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest

from streams.offline.assessment import replay_assessment
from streams.offline.assessment_files import write_chart

ROOT = Path(__file__).resolve().parents[3]


def test_the_demo_months_chart_renders_every_chinese_character(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from matplotlib import font_manager, image

    month = ROOT / "deploy" / "demo" / "month.jsonl"
    result, _ = replay_assessment(month, ROOT / "rules", "2026-09", None, "Asia/Shanghai")
    path = tmp_path / "chart.png"
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        write_chart(result, path)
    # matplotlib says "Glyph … missing from font(s)" for every character it cannot draw
    missing = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    assert not [m for m in missing if "missing from" in m], missing
    used = font_manager.findfont("Noto Sans CJK SC", fallback_to_default=False)
    assert "NotoSansCJK" in Path(used).name
    pixels = image.imread(str(path))
    assert pixels.shape[:2] == (605, 1430)  # 13 × 5.5 inches at 110 dpi
    assert pixels.std() > 0.05  # something was drawn
