"""The local broker's pieces that need no JVM: its config, its errors, the address lookup."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.settings import Settings
from deploy.kafka import (
    BrokerState,
    LocalKafka,
    NoBrokerError,
    ToolMissingError,
    bootstrap_servers,
    default_state_dir,
    server_properties,
)


def parse_properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_server_properties_describe_a_single_node_kraft_cluster_on_the_given_ports() -> None:
    props = parse_properties(server_properties(39092, 39093, Path("/srv/kafka/data")))

    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:39093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:39092,CONTROLLER://127.0.0.1:39093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:39092"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == "/srv/kafka/data"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["num.partitions"] == "1"
    assert props["auto.create.topics.enable"] == "true"


def test_up_without_java_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))

    with pytest.raises(ToolMissingError) as caught:
        LocalKafka(tmp_path / "kafka").up()

    assert str(caught.value) == (
        "java not found: install a JDK >= 17 (apt-get install openjdk-17-jre-headless)"
    )


def settings_for(home: Path, bootstrap: str | None = None) -> Settings:
    # By alias, as the environment would set it; _env_file=None keeps a developer's .env out.
    extra = {} if bootstrap is None else {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    return Settings(_env_file=None, home=home, **extra)  # type: ignore[call-arg]


@pytest.fixture
def no_env_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("ORDERHUB_KAFKA_BOOTSTRAP_SERVERS", raising=False)


@pytest.fixture
def running_local_broker(tmp_path: Path) -> Iterator[BrokerState]:
    """A stand-in for a live broker: a process named like Kafka and a listening port."""
    stand_in = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "kafka.Kafka"]
    )
    # Until the child has exec'd, its /proc cmdline is pytest's, which pid_alive rightly
    # does not take for a broker: wait for the exec, or the tests race it.
    cmdline = Path(f"/proc/{stand_in.pid}/cmdline")
    deadline = time.monotonic() + 10
    while cmdline.exists() and b"kafka.Kafka" not in cmdline.read_bytes():
        assert time.monotonic() < deadline, "the stand-in broker process did not start"
        time.sleep(0.01)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        state = BrokerState(stand_in.pid, f"127.0.0.1:{port}", port, 1, "2026-01-01T00:00:00", "x")
        state_dir = default_state_dir(settings_for(tmp_path))
        state_dir.mkdir(parents=True)
        state.save(state_dir / "broker.json")
        try:
            yield state
        finally:
            stand_in.kill()
            stand_in.wait()


@pytest.mark.usefixtures("no_env_bootstrap")
def test_bootstrap_servers_prefers_the_environment_over_the_local_broker(
    tmp_path: Path, running_local_broker: BrokerState
) -> None:
    settings = settings_for(tmp_path, bootstrap="kafka-1.prod:9092,kafka-2.prod:9092")

    assert bootstrap_servers(settings) == "kafka-1.prod:9092,kafka-2.prod:9092"


@pytest.mark.usefixtures("no_env_bootstrap")
def test_bootstrap_servers_falls_back_to_the_running_local_broker(
    tmp_path: Path, running_local_broker: BrokerState
) -> None:
    assert bootstrap_servers(settings_for(tmp_path)) == running_local_broker.bootstrap


@pytest.mark.usefixtures("no_env_bootstrap")
def test_bootstrap_servers_without_any_broker_tells_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(NoBrokerError) as caught:
        bootstrap_servers(settings_for(tmp_path))

    assert str(caught.value) == (
        "no Kafka broker: run `orderhub kafka up` or set KAFKA_BOOTSTRAP_SERVERS"
    )


@pytest.mark.usefixtures("no_env_bootstrap")
def test_bootstrap_servers_ignores_the_state_of_a_broker_that_died(tmp_path: Path) -> None:
    # Above Linux's pid_max: no process can have this pid.
    dead = BrokerState(99_999_999, "127.0.0.1:1", 1, 2, "2026-01-01T00:00:00", "x")
    state_dir = default_state_dir(settings_for(tmp_path))
    state_dir.mkdir(parents=True)
    dead.save(state_dir / "broker.json")

    with pytest.raises(NoBrokerError):
        bootstrap_servers(settings_for(tmp_path))
