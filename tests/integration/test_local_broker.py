"""A real broker: the fixture's one carries records, and `orderhub kafka` manages its own."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic


def test_the_broker_returns_the_records_produced_to_a_new_topic(kafka_bootstrap: str) -> None:
    topic = f"local-broker-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        assert topic in admin.list_topics()
    finally:
        admin.close()

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for value in (b"order-1 created", b"order-1 shipped", b"order-1 delivered"):
        producer.send(topic, key=b"order-1", value=value)
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=20_000,
    )
    received: list[bytes] = []
    for record in consumer:
        received.append(record.value)
        if len(received) == 3:
            break
    consumer.close()

    assert received == [b"order-1 created", b"order-1 shipped", b"order-1 delivered"]


ADDRESS = re.compile(r"127\.0\.0\.1:\d+")


@pytest.fixture
def orderhub_kafka(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A scratch working dir and environment for the CLI; stops what it left running."""
    script = Path(sys.executable).with_name("orderhub")
    assert script.exists(), f"the `orderhub` console script is not installed next to {script}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"KAFKA_BOOTSTRAP_SERVERS", "ORDERHUB_KAFKA_BOOTSTRAP_SERVERS"}
    }
    env["ORDERHUB_HOME"] = str(tmp_path / "home")
    try:
        yield script, env
    finally:
        subprocess.run([script, "kafka", "down"], cwd=tmp_path, env=env, check=False)


def test_orderhub_kafka_up_status_down(
    tmp_path: Path, orderhub_kafka: tuple[Path, dict[str, str]]
) -> None:
    script, env = orderhub_kafka

    def orderhub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script, "kafka", *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    first = orderhub("up")
    assert first.returncode == 0, first.stderr
    address = ADDRESS.search(first.stdout)
    assert address is not None, first.stdout

    status = orderhub("status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["bootstrap"] == address.group()

    again = orderhub("up")
    assert again.returncode == 0, again.stderr
    assert ADDRESS.findall(again.stdout) == [address.group()]
    assert "already running" in again.stdout

    stopped = orderhub("down")
    assert stopped.returncode == 0, stopped.stderr
    assert not (tmp_path / "home" / "kafka" / "broker.json").exists()

    after = orderhub("status")
    assert after.returncode == 1  # not running: "not healthy"
    assert after.stdout.strip() == "not running"


def test_storage_formats_with_a_cluster_id_that_starts_with_a_dash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A random id like '-H2f…' once read as an option made 1 start in 64 fail."""
    from deploy import kafka as local

    monkeypatch.setattr(local, "new_cluster_id", lambda: "-H2fQ1pGRf2m0tY4J0vYnA")
    broker = local.LocalKafka(tmp_path / "kafka")
    broker.state_dir.mkdir(parents=True)
    broker.data_dir.mkdir(parents=True)
    broker._write_config(*local.free_ports(2))
    broker._format(local.require_tool("java"), broker.classpath())
    meta = (broker.data_dir / "meta.properties").read_text(encoding="utf-8")
    assert "cluster.id=-H2fQ1pGRf2m0tY4J0vYnA" in meta
