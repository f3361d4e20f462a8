"""`orderhub connect watch --once` against a real broker: exact plan events and dead letters."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from contract.topics import Topics

pytestmark = pytest.mark.integration

ORDERHUB = [sys.executable, "-c", "from orderhub.cli import main; main()"]
NAME = "华北区域周需求计划表_2026-11-02.csv"
EXPORTED = 1_793_343_600  # 2026-10-30T07:00:00Z, the export's modification time
CSV = (
    "华北区域周需求计划表\r\n"
    "型号,周开始日期,需求数量（台）,备注\r\n"
    "X1,2026-11-02,120,\r\n"
    "X2,2026-11-02,35,加急\r\n"
    "X3,2026/11/9,0,\r\n"
    "X4,2026-11-02,十二,\r\n"
)


def read_all(bootstrap: str, topic: str, count: int, timeout: float = 30.0) -> list[Any]:
    """Every record of ``topic`` from its start, once ``count`` have arrived (or time is up)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False)
    try:
        deadline = time.monotonic() + timeout
        while not (parts := consumer.partitions_for_topic(topic)):
            assert time.monotonic() < deadline, f"topic {topic} was never created"
            time.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        while len(records) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        # a moment more: a record beyond ``count`` would be a duplicate or a stray row
        for batch in consumer.poll(timeout_ms=1000).values():
            records.extend(batch)
        return records
    finally:
        consumer.close()


def test_watch_once_publishes_good_rows_to_plans_and_the_bad_row_to_dead_letters(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = inbox / NAME
    path.write_bytes(CSV.encode("gb18030"))
    os.utime(path, (EXPORTED, EXPORTED))
    prefix = f"it-connect-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ORDERHUB_TOPIC_PREFIX": prefix,
        "ORDERHUB_HOME": str(tmp_path / "home"),
    }
    run = subprocess.run(
        [*ORDERHUB, "connect", "watch", str(inbox), "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 1, run.stderr  # 1: a row was rejected, the rest published
    assert f"{NAME}: 3 event(s) published, 1 row(s) rejected" in run.stdout
    assert (inbox / "processed" / NAME).exists() and not path.exists()

    topics = Topics(prefix)
    plans = read_all(kafka_bootstrap, topics.family("plans"), 3)
    assert {r.key for r in plans} == {"华北".encode()}
    events = sorted((json.loads(r.value) for r in plans), key=lambda e: e["model"])
    for event, row in zip(events, (3, 4, 5), strict=True):
        assert event.pop("event_id").startswith(f"csv:{NAME}:{row}:")
    common = {"type": "plan.weekly", "event_time": "2026-10-30T07:00:00Z", "source": "erp"}
    assert events == [
        {**common, "region": "华北", "model": "X1", "week_start": "2026-11-02", "quantity": 120},
        {**common, "region": "华北", "model": "X2", "week_start": "2026-11-02", "quantity": 35},
        {**common, "region": "华北", "model": "X3", "week_start": "2026-11-09", "quantity": 0},
    ]

    [record] = read_all(kafka_bootstrap, topics.dead_letter, 1)
    letter = json.loads(record.value)
    row = "X4,2026-11-02,十二,".encode()
    assert base64.b64decode(letter.pop("value_base64")) == row
    assert letter == {
        "reason": "bad_quantity",
        "error": f"{NAME}:6: 需求数量/quantity '十二' is not a whole number "
        "from 0 to 1,000,000,000",
        "topic": f"file:{NAME}",
        "partition": 0,
        "offset": 6,
        "size": len(row),
        "sha256": hashlib.sha256(row).hexdigest(),
        "truncated": False,
    }
