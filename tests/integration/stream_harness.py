"""A worker subprocess with its own topic prefix, home and web port, for one test."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from contract.events import parse_event
from contract.settings import Settings
from contract.topics import Topics
from streams.clients.kafka_io import client_config, resolve_topic, route_line
from streams.clients.worker_api import WorkerClient
from streams.core.state import TABLE_NAMES, apply_event, empty_tables, public
from streams.worker.control import wait_caught_up, wait_ready

READY_TIMEOUT = 120.0
CATCH_UP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Worker:
    """``python -m streams.worker.control`` configured through ORDERHUB_* variables."""

    bootstrap: str
    home: Path
    prefix: str = field(default_factory=lambda: f"it-{uuid.uuid4().hex[:10]}")
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # Folders put first on the worker's PYTHONPATH (fault injection: tests/integration/faults).
    python_path: tuple[Path, ...] = ()
    # A worker joining a group that has an active worker becomes a standby: it is started
    # once it is one (it never holds the events partition till then).
    standby: bool = False
    # Kafka security settings (field: value), e.g. tests.integration.secure_broker's.
    security: Mapping[str, Any] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        path = [str(p) for p in self.python_path]
        if os.environ.get("PYTHONPATH"):
            path.append(os.environ["PYTHONPATH"])
        return {
            **os.environ,
            **({"PYTHONPATH": os.pathsep.join(path)} if path else {}),
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "ORDERHUB_HOME": str(self.home),
            "ORDERHUB_TOPIC_PREFIX": self.prefix,
            "ORDERHUB_WEB_PORT": str(self.port),
            **{f"ORDERHUB_{name.upper()}": str(value) for name, value in self.security.items()},
        }

    @property
    def settings(self) -> Settings:
        return Settings(
            kafka_bootstrap_servers=self.bootstrap,
            home=self.home,
            topic_prefix=self.prefix,
            web_port=self.port,
            **self.security,
        )

    @property
    def topics(self) -> Topics:
        return Topics(self.prefix)

    @property
    def web(self) -> WorkerClient:
        return WorkerClient.at("127.0.0.1", self.port)

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        log = (self.home / "worker.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streams.worker.control"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        try:
            wait_ready(self.settings, READY_TIMEOUT, pid=self.process.pid, standby=self.standby)
        except Exception:
            self.stop()
            raise AssertionError(f"worker did not start; log:\n{self.log_tail()}") from None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit, no flush."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def log_tail(self, lines: int = 60) -> str:
        path = self.home / "worker.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def publish(self, lines: Iterable[bytes], topic: str | None = None) -> None:
        produce_lines(self.settings, self.bootstrap, lines, topic)

    def caught_up(self) -> None:
        try:
            wait_caught_up(self.settings, self.bootstrap, CATCH_UP_TIMEOUT)
        except Exception as exc:
            raise AssertionError(f"{exc}; worker log:\n{self.log_tail()}") from exc

    def table(self, name: str) -> dict[str, Any]:
        return self.web.table(name)

    def qty(self, name: str) -> dict[str, int]:
        return {key: int(entry["qty"]) for key, entry in self.table(name).items()}

    def read(self, topic: str, count: int, timeout: float = 30.0) -> list[Any]:
        """The first ``count`` records of ``topic`` (fails after ``timeout`` s)."""
        consumer = KafkaConsumer(**client_config(self.settings, self.bootstrap))
        try:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            found: list[Any] = []
            deadline = time.monotonic() + timeout
            while len(found) < count and time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=500).values():
                    found.extend(records)
            return found
        finally:
            consumer.close()


def lines(records: Iterable[Mapping[str, Any]]) -> list[bytes]:
    return [json.dumps(r).encode() for r in records]


def oracle(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The tables computed by the pure core alone: every event once, in order."""
    tables = empty_tables()
    for seq, record in enumerate(records):
        apply_event(tables, parse_event(dict(record)), seq)
    return {name: {k: public(v) for k, v in tables[name].items()} for name in TABLE_NAMES}


def produce_lines(
    settings: Settings, bootstrap: str, lines: Iterable[bytes], topic: str | None
) -> Counter[str]:
    """Send every non-empty line as it is, unchecked; ``topic`` forces one topic.
    Returns records per topic: the tests' way to put bad records before the worker
    (``orderhub produce`` checks each line first: ``produce_checked``)."""
    topics = Topics(settings.topic_prefix)
    fallback = resolve_topic(topics, topic) if topic else topics.family("orders")
    sent: Counter[str] = Counter()
    producer = KafkaProducer(**client_config(settings, bootstrap), acks="all", linger_ms=5)
    try:
        for line in lines:
            line = line.rstrip(b"\r\n")  # only the line end: the bytes are sent as they are
            if not line.strip():
                continue
            routed = route_line(line, topics, fallback)
            target = fallback if topic else routed.topic
            producer.send(target, key=routed.key, value=routed.value)
            sent[target] += 1
        producer.flush()
    finally:
        producer.close()
    return sent
