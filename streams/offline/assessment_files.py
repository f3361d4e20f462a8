"""The assessment report's files: the ``.xlsx`` workbook (a sheet per view, English and
Chinese headings) and the chart (fines and breaches per region, the daily plan's on-time
rate per region per week), Chinese text in Noto Sans CJK."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from streams.core.assessment.kpis import Assessment
from streams.exceptions import StreamsError
from streams.offline.assessment import sheet_rows, views

# fonts-noto-cjk (deploy/packages.sh installs it); matplotlib finds it by family name.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC")


class ReportFileError(StreamsError):
    """A report file cannot be written (no CJK font, an unwritable path)."""


def write_xlsx(assessment: Assessment, path: Path) -> None:
    """One sheet per view: the English headings in row 1, the Chinese in row 2, then rows."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for view in views(assessment):
        sheet = book.create_sheet(view.name)
        for row in sheet_rows(view):
            sheet.append(list(row))
        for cell in (*sheet[1], *sheet[2]):
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A3"
    try:
        book.save(path)
    except OSError as exc:
        raise ReportFileError(f"{path}: cannot write: {exc.strerror}") from exc


def _cjk_font() -> str:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    raise ReportFileError(
        "no CJK font for the chart's Chinese text: install fonts-noto-cjk (deploy/packages.sh)"
    )


def write_chart(assessment: Assessment, path: Path) -> None:
    """Left: fines (CNY) and breaches per region; right: the on-time rate of the daily
    shipping plan per region and ISO week (weeks without plan lines are gaps)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = [_cjk_font(), "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5))
    regions = [r.region for r in assessment.region_fines]
    xs = list(range(len(regions)))
    left.bar(
        [x - 0.2 for x in xs],
        [float(r.amount) for r in assessment.region_fines],
        0.4,
        label="罚款 fines (CNY)",
        color="#c0392b",
    )
    twin = left.twinx()
    twin.bar(
        [x + 0.2 for x in xs],
        [r.breaches for r in assessment.region_fines],
        0.4,
        label="违规次数 breaches",
        color="#2980b9",
    )
    left.set_xticks(xs, regions)
    left.set_ylabel("罚款 fines (CNY)")
    twin.set_ylabel("违规次数 breaches")
    left.set_title(f"{assessment.month} 区域罚款与违规 Fines and breaches per region")
    handles = left.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    twin.legend(handles, [str(h.get_label()) for h in handles], loc="upper left")  # on top
    weeks = sorted({p.start for p in assessment.periods if p.period == "week"})
    regions_w = sorted({p.region for p in assessment.periods})
    styles = ["-", "--", "-.", ":"]
    for i, region in enumerate(regions_w):
        by_week = {
            p.start: p.on_time_rate
            for p in assessment.periods
            if p.region == region and p.period == "week"
        }
        rates = [by_week.get(w) for w in weeks]
        # A small sideways dodge and a line style per region: equal rates stay visible.
        dodge = (i - (len(regions_w) - 1) / 2) * 0.06
        right.plot(
            [x + dodge for x in range(len(weeks))],
            [float("nan") if r is None else r * 100 for r in rates],
            marker="o",
            linestyle=styles[i % len(styles)],
            label=region,
        )
    # Every week of the month on the axis; one without plan lines (a holiday week) says so.
    planned = {p.start for p in assessment.periods if p.period == "week" and p.plan_lines}
    right.set_xticks(
        range(len(weeks)),
        [f"{w:%m-%d}" + ("" if w in planned else "\n无计划 no plan") for w in weeks],
    )
    right.set_ylim(0, 105)
    right.set_ylabel("及时率 on-time rate (%)")
    right.set_xlabel("周 week (from 起)")
    right.set_title("日发货计划及时率 On-time rate of the daily shipping plan")
    right.legend(title="区域 region")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise ReportFileError(f"{path}: cannot write: {exc.strerror}") from exc
    finally:
        plt.close(fig)
