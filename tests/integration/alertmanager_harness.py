"""A real Prometheus Alertmanager for one test, and the sink as `orderhub connect alertmanager`.

Alertmanager runs on a free loopback port with its storage in a temporary folder and no
cluster gossip (``--cluster.listen-address=``). A missing binary fails the test, never skips it
(``make test`` installs it: deploy/packages.sh).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.binaries import binary, log_tail, stop
from tests.integration.stream_harness import Worker, free_port

BINARY = "prometheus-alertmanager"
READY_TIMEOUT = 30.0
ORDERHUB = [sys.executable, "-c", "from orderhub.cli import main; main()"]
CONFIG = """\
route:
  receiver: "null"
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: "null"
"""


@dataclass
class Alertmanager:
    """``prometheus-alertmanager`` on 127.0.0.1:``port``; stop and start keep the port."""

    home: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "alertmanager.yml"
        config.write_text(CONFIG, encoding="utf-8")
        log = (self.home / "alertmanager.log").open("ab")
        self.process = subprocess.Popen(
            [
                binary(BINARY),
                f"--config.file={config}",
                f"--storage.path={self.home / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"alertmanager exited; log:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"alertmanager not ready in {READY_TIMEOUT} s:\n{self.log_tail()}")

    def stop(self) -> None:
        stop(self.process)

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.home / "alertmanager.log", lines)

    def alerts(self, active: bool = True) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: the active alerts (not silenced, not inhibited)."""
        query = "?active=true&silenced=false&inhibited=false" if active else ""
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts{query}", timeout=5) as answer:
            return list(json.loads(answer.read()))


@dataclass
class Sink:
    """``orderhub connect alertmanager`` for ``worker``'s topics, as a subprocess."""

    worker: Worker
    urls: list[str]
    resend_interval: float = 2.0
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.worker.home / "alertmanager-sink.log"

    def start(self) -> None:
        command = [*ORDERHUB, "connect", "alertmanager"]
        for url in self.urls:
            command += ["--url", url]
        command += ["--resend-interval", str(self.resend_interval)]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, env=self.worker.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def stop(self) -> None:
        stop(self.process)

    def kill(self) -> None:
        """SIGKILL: no last push, no last commit."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def wait_for(check: Any, timeout: float, what: str, log: Any = None) -> Any:
    """Poll ``check()`` until it returns a truthy value; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    logs = f"\n{log()}" if log is not None else ""
    raise AssertionError(f"{what} not within {timeout} s (last: {last!r}){logs}")
