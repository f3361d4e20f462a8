"""The watch folder's /metrics: what an operator's "plan files failing" graph reads, after
real files went through ``WatchFolder.scan``."""

from __future__ import annotations

import csv
import io
import os
import urllib.request
from pathlib import Path

from click.testing import CliRunner
from prometheus_client import CollectorRegistry, generate_latest

from connectors.base import MemorySink
from connectors.filedrop import WatchFolder
from connectors.filedrop_metrics import FileDropCollector, serve_metrics
from contract.topics import Topics
from orderhub.commands.connect import connect

NOW = 1_800_000_000.0
WEEKLY = "华北区域周需求计划表_2026-11-02.csv"
DAILY = "华东区域周需求计划表_2026-11-09.csv"


def drop(inbox: Path, name: str, data: bytes, age: float) -> None:
    path = inbox / name
    path.write_bytes(data)
    os.utime(path, (NOW - age, NOW - age))


def daily_form(bad_day: str) -> bytes:
    rows = [
        ["区域", "型号", "周开始日期", "发货日期", "发货数量（台）"],
        ["华东", "M-100", "2026-11-09", "2026-11-09", "40"],
        ["华东", "M-100", "2026-11-09", "2026-11-10", "35"],
        ["华东", "M-200", "2026-11-09", bad_day, "12"],
        ["编制：李明", "审核：王芳", "批准：赵总"],
    ]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def scanned(inbox: Path) -> WatchFolder:
    """Three files: a weekly plan with a bad row (2 published, 1 rejected), a daily plan
    with a bad line (its 2 good lines withheld), a file with no header (failed); and a clean
    daily plan (3 published)."""
    weekly = "型号,周开始日期,需求数量\nX1,2026-11-02,120\nX2,2026-11-02,35\nX3,2026-11-02,abc\n"
    drop(inbox, WEEKLY, weekly.encode("gb18030"), age=400)
    drop(inbox, DAILY, daily_form("someday"), age=300)
    drop(inbox, "export.csv", b"just,some,numbers\n1,2,3\n", age=200)
    drop(inbox, DAILY.replace(".csv", "-v2.csv"), daily_form("2026-11-11"), age=100)
    folder = WatchFolder(inbox, MemorySink(), Topics("t"), settle=2.0, clock=lambda: NOW)
    outcomes = folder.scan()
    assert [o.moved_to.parent.name for o in outcomes] == [
        "processed",
        "processed",
        "failed",
        "processed",
    ]
    return folder


def samples(text: str) -> set[str]:
    return {line for line in text.splitlines() if line and not line.startswith("#")}


EXPECTED = {
    'orderhub_csv_rows_total{kind="weekly",outcome="published"} 2.0',
    'orderhub_csv_rows_total{kind="weekly",outcome="rejected"} 1.0',
    'orderhub_csv_rows_total{kind="weekly",outcome="withheld"} 0.0',
    'orderhub_csv_rows_total{kind="daily",outcome="published"} 3.0',
    'orderhub_csv_rows_total{kind="daily",outcome="rejected"} 1.0',
    'orderhub_csv_rows_total{kind="daily",outcome="withheld"} 2.0',
    'orderhub_csv_files_total{outcome="published"} 1.0',
    'orderhub_csv_files_total{outcome="rows_rejected"} 2.0',
    'orderhub_csv_files_total{outcome="failed"} 1.0',
}


def test_rows_and_files_are_counted_by_kind_and_outcome(tmp_path: Path) -> None:
    folder = scanned(tmp_path)
    registry = CollectorRegistry()
    registry.register(FileDropCollector(lambda: folder.counters))
    assert samples(generate_latest(registry).decode()) == EXPECTED


def test_every_series_is_there_before_the_first_file(tmp_path: Path) -> None:
    folder = WatchFolder(tmp_path, MemorySink(), Topics("t"), clock=lambda: NOW)
    registry = CollectorRegistry()
    registry.register(FileDropCollector(lambda: folder.counters))
    got = samples(generate_latest(registry).decode())
    assert got == {line.rsplit(" ", 1)[0] + " 0.0" for line in EXPECTED}


def test_metrics_are_served_over_http_and_read_at_each_scrape(tmp_path: Path) -> None:
    folder = WatchFolder(tmp_path, MemorySink(), Topics("t"), settle=2.0, clock=lambda: NOW)
    server = serve_metrics(lambda: folder.counters, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        before = urllib.request.urlopen(url, timeout=5).read().decode()
        assert 'orderhub_csv_files_total{outcome="failed"} 0.0' in before
        drop(tmp_path, "export.csv", b"just,some,numbers\n1,2,3\n", age=60)
        folder.scan()
        after = urllib.request.urlopen(url, timeout=5).read().decode()
        assert 'orderhub_csv_files_total{outcome="failed"} 1.0' in after
    finally:
        server.shutdown()
        server.server_close()


def test_watch_once_refuses_a_metrics_port(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        connect, ["watch", "--once", "--metrics-port", "9096", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "--once exits at once" in result.stderr
