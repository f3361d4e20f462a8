"""The watch folder without a broker: what it publishes, where files go, restarts."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from connectors.base import MemorySink, Routed
from connectors.exceptions import PublishError
from connectors.filedrop import WatchFolder
from contract.topics import Topics

TOPICS = Topics("t")
NAME = "华北区域周需求计划表_2026-11-02.csv"
GOOD = "型号,周开始日期,需求数量\nX1,2026-11-02,120\nX2,2026-11-02,35\nX3,2026-11-02,abc\n"
NOW = 1_800_000_000.0


def drop(inbox: Path, name: str, data: bytes, age: float = 60.0) -> Path:
    path = inbox / name
    path.write_bytes(data)
    os.utime(path, (NOW - age, NOW - age))
    return path


def folder(inbox: Path, sink: Any) -> WatchFolder:
    return WatchFolder(inbox, sink, TOPICS, settle=2.0, clock=lambda: NOW)


def values(sink: MemorySink, topic: str) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in sink.records if r.topic == topic]


def test_good_rows_go_to_plans_by_region_bad_rows_to_dead_letters_then_processed(
    tmp_path: Path,
) -> None:
    drop(tmp_path, NAME, GOOD.encode("gb18030"))
    sink = MemorySink()
    [outcome] = folder(tmp_path, sink).scan()
    assert (outcome.events, len(outcome.rejections)) == (2, 1)
    assert [(r.topic, r.key) for r in sink.records[:2]] == [("t.plans", "华北".encode())] * 2
    assert [(p["model"], p["quantity"]) for p in values(sink, "t.plans")] == [
        ("X1", 120),
        ("X2", 35),
    ]
    [dead] = values(sink, "t.dead-letter")
    assert (dead["reason"], dead["topic"], dead["offset"]) == ("bad_quantity", f"file:{NAME}", 4)
    assert dead["error"].startswith(f"{NAME}:4: ")
    assert base64.b64decode(dead["value_base64"]).decode() == "X3,2026-11-02,abc"
    assert outcome.moved_to == tmp_path / "processed" / NAME
    assert not (tmp_path / NAME).exists()


def test_an_unreadable_file_is_dead_lettered_whole_and_moved_to_failed(tmp_path: Path) -> None:
    data = b"just,some,numbers\n1,2,3\n"
    drop(tmp_path, "export.csv", data)
    sink = MemorySink()
    [outcome] = folder(tmp_path, sink).scan()
    assert outcome.error is not None and outcome.error.reason == "no_header"
    [dead] = values(sink, "t.dead-letter")
    assert (dead["reason"], base64.b64decode(dead["value_base64"])) == ("no_header", data)
    assert (tmp_path / "failed" / "export.csv").read_bytes() == data


def test_a_file_the_system_cannot_read_goes_to_failed_and_the_others_are_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop(tmp_path, "a-locked.csv", GOOD.encode(), age=120)
    drop(tmp_path, NAME, GOOD.encode("gb18030"))
    real_read = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "a-locked.csv":
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    sink = MemorySink()
    locked, good = folder(tmp_path, sink).scan()
    assert locked.error is not None and locked.error.reason == "cannot_read"
    assert locked.moved_to == tmp_path / "failed" / "a-locked.csv"
    assert good.events == 2 and good.moved_to == tmp_path / "processed" / NAME
    dead = values(sink, "t.dead-letter")
    assert [(d["reason"], d["error"]) for d in dead if d["offset"] == 0] == [
        ("cannot_read", "a-locked.csv: Permission denied")
    ]


def test_young_files_and_other_files_are_left_alone(tmp_path: Path) -> None:
    drop(tmp_path, "young.csv", GOOD.encode(), age=0.5)
    drop(tmp_path, "notes.txt", b"hello")
    drop(tmp_path, "~$plan.csv", b"excel lock")
    drop(tmp_path, "plan.csv.part", GOOD.encode())
    sink = MemorySink()
    assert folder(tmp_path, sink).scan() == []
    assert sink.records == []


class DownSink:
    def publish(self, records: Sequence[Routed]) -> None:
        raise PublishError("broker down")


def test_a_broker_outage_keeps_the_file_and_a_restart_publishes_the_same_ids(
    tmp_path: Path,
) -> None:
    path = drop(tmp_path, NAME, GOOD.encode())
    with pytest.raises(PublishError):
        folder(tmp_path, DownSink()).scan()
    assert path.exists()
    first, second = MemorySink(), MemorySink()
    folder(tmp_path, first).scan()
    # the ERP drops the same export again: the same events, ids and all
    drop(tmp_path, NAME, GOOD.encode())
    [outcome] = folder(tmp_path, second).scan()
    assert first.records == second.records
    assert outcome.moved_to == tmp_path / "processed" / "华北区域周需求计划表_2026-11-02-1.csv"


def test_files_are_taken_oldest_first(tmp_path: Path) -> None:
    drop(tmp_path, "b.csv", "区域,型号,周一,数量\n华东,B,2026-11-02,1\n".encode(), age=30)
    drop(tmp_path, "a.csv", "区域,型号,周一,数量\n华北,A,2026-11-02,1\n".encode(), age=10)
    sink = MemorySink()
    assert [o.file for o in folder(tmp_path, sink).scan()] == ["b.csv", "a.csv"]
