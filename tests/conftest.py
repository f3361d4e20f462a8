"""Shared fixtures: the Kafka broker of the integration tests, and the `integration` marker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.kafka import DeployError, LocalKafka

INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/integration needs a real broker: mark it `integration`."""
    for item in items:
        if INTEGRATION_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)


def _docker_engine_answers() -> str | None:
    """None when a Docker engine answers a ping, else why not (fast when there is none)."""
    try:
        import docker
        import requests

        docker.from_env(timeout=5).ping()
    except ImportError as exc:
        return f"docker SDK not installed ({exc})"
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        return f"no Docker engine ({exc})"
    return None


def _local_broker(tmp_path_factory: pytest.TempPathFactory, why_not_docker: str) -> Iterator[str]:
    # The broker stays in pytest's process group, so a Ctrl-C on the run stops it as well.
    local = LocalKafka(tmp_path_factory.mktemp("kafka"), new_session=False)
    try:
        result = local.up()
    except DeployError as exc:
        pytest.fail(
            "no Kafka broker for the integration tests: KAFKA_BOOTSTRAP_SERVERS is unset, "
            f"{why_not_docker}, and the local broker failed: {exc}",
            pytrace=False,
        )
    try:
        yield result.state.bootstrap
    finally:
        local.down()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Kafka broker's "host:port" for the whole session, never a skip.

    KAFKA_BOOTSTRAP_SERVERS if set, else a testcontainers Kafka when a Docker engine answers,
    else a local broker (deploy/kafka.py) in a temporary directory on its own free ports.
    """
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    why_not_docker = _docker_engine_answers()
    if why_not_docker is None:
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as container:
            yield container.get_bootstrap_server()
        return
    yield from _local_broker(tmp_path_factory, why_not_docker)
