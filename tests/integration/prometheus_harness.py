"""A real Prometheus server for one test: a free loopback port, a generated config that
scrapes the given targets every second, its storage in the test's temporary directory."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.binaries import binary, log_tail, stop
from tests.integration.stream_harness import free_port

BINARY = "prometheus"
READY_TIMEOUT = 60.0


def prometheus_binary() -> str:
    """The ``prometheus`` binary's path (never a skip: ``make test`` installs it)."""
    return binary(BINARY)


def scrape_config(targets: Sequence[str], job: str) -> str:
    """A Prometheus config (JSON is YAML) scraping ``targets`` every second."""
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(targets)}]}],
    }
    return json.dumps(config, indent=2)


@dataclass
class Prometheus:
    home: Path
    targets: Sequence[str]
    job: str = "orderhub-worker"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = prometheus_binary()
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "prometheus.yml"
        config.write_text(scrape_config(self.targets, self.job), encoding="utf-8")
        log = (self.home / "prometheus.log").open("ab")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.home / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise AssertionError(f"prometheus did not start; log:\n{self.log_tail()}")

    def stop(self) -> None:
        stop(self.process)

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.home / "prometheus.log", lines)

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query through the HTTP API: the result vector."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as answer:
            body = json.load(answer)
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def by(self, label: str, promql: str) -> dict[str, float]:
        """An instant query's values keyed by one label."""
        return {row["metric"].get(label, ""): float(row["value"][1]) for row in self.query(promql)}

    def until(self, read: Callable[[], Any], expected: Any, timeout: float = 60.0) -> Any:
        """``read()`` once it equals ``expected``, or its last value after ``timeout`` s
        (the caller asserts it): scrapes come every second, the worker's figures settle."""
        deadline = time.monotonic() + timeout
        found = read()
        while found != expected and time.monotonic() < deadline:
            time.sleep(1)
            found = read()
        return found
