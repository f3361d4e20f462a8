"""`orderhub produce` with bad lines against a real broker (issue 7): each bad line is
reported with its number and reason and dead-lettered, every good line is sent, the counts
are printed and the exit code is 1."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration.test_connectors import ORDERHUB, read_all

pytestmark = pytest.mark.integration


def confirmed(name: str, **change: object) -> bytes:
    record = {
        "event_id": f"{name}-c",
        "type": "order.confirmed",
        "event_time": "2026-11-02T09:00:00+08:00",
        "source": "erp",
        "order_id": name,
        "region": "south",
        "model": "X1",
        "quantity": 3,
        "amount": "100.00",
        **change,
    }
    return json.dumps(record).encode()  # ensure_ascii: "\ud800" stays an escape


def test_produce_reports_each_bad_line_sends_the_rest_and_exits_1(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    lines = [
        confirmed("A"),  # 1
        confirmed("S", order_id="\ud800"),  # 2: a lone surrogate as a JSON escape
        b'{"event_id": "raw", "order_id": "\xed\xa0\x80"}',  # 3: ... as raw bytes
        b'{"note": "' + b"x" * 2_000_000 + b'"}',  # 4: a 2 MB line
        b"{not json",  # 5
        confirmed("E", event_time="1730512800"),  # 6: epoch seconds
        confirmed("B"),  # 7
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    prefix = f"it-produce-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ORDERHUB_TOPIC_PREFIX": prefix,
        "ORDERHUB_HOME": str(tmp_path / "home"),
    }
    subprocess.run([*ORDERHUB, "topics", "create"], env=env, check=True, timeout=120)
    run = subprocess.run(
        [*ORDERHUB, "produce", str(path)], env=env, capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    rejected = [line.split(": ")[:2] for line in run.stderr.splitlines()]
    assert rejected == [
        [f"{path}:2", "not_utf8"],
        [f"{path}:3", "not_utf8"],
        [f"{path}:4", "too_large"],
        [f"{path}:5", "not_json"],
        [f"{path}:6", "time_without_offset"],
    ]
    assert run.stdout.strip() == (
        f"sent 2 records ({prefix}.orders: 2); rejected 5 lines (on the dead-letter topic)"
    )
    orders = read_all(kafka_bootstrap, f"{prefix}.orders", 2)
    assert sorted(r.value for r in orders) == sorted([lines[0], lines[6]])
    letters = [json.loads(r.value) for r in read_all(kafka_bootstrap, f"{prefix}.dead-letter", 5)]
    assert [(d["offset"], d["reason"], d["topic"]) for d in letters] == [
        (2, "not_utf8", "file:events.jsonl"),
        (3, "not_utf8", "file:events.jsonl"),
        (4, "too_large", "file:events.jsonl"),
        (5, "not_json", "file:events.jsonl"),
        (6, "time_without_offset", "file:events.jsonl"),
    ]
    assert letters[2]["size"] == len(lines[3]) and letters[2]["truncated"] is True
