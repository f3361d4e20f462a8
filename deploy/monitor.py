"""The local monitoring stack `make run` starts: Alertmanager, Prometheus and the sink.

Debian's ``prometheus-alertmanager`` and ``prometheus`` on loopback ports, each with a
configuration written under ``<home>/monitoring`` (Prometheus scrapes the worker and the
sink, evaluates ``deploy/monitoring``'s rules for the hub and sends to the local
Alertmanager), and ``orderhub connect alertmanager`` pushing the hub's alerts to it. Each
process is detached, with a pid file and a log, so ``down`` stops it from another shell.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from deploy.kafka import DeployError
from deploy.process import process_running, terminate

HOST = "127.0.0.1"
MONITORING = Path(__file__).with_name("monitoring")
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
PACKAGES = {"prometheus-alertmanager": "prometheus-alertmanager", "prometheus": "prometheus"}


class MonitoringError(DeployError):
    """A part of the local monitoring stack could not start or stop."""


@dataclass(frozen=True)
class Part:
    """One running process of the stack."""

    name: str
    pid: int
    url: str
    log: str


@dataclass(frozen=True)
class Ports:
    alertmanager: int = 9093
    prometheus: int = 9090
    sink_metrics: int = 9095
    worker: int = 6066


def missing_binaries() -> list[str]:
    """The Debian packages whose binaries are not on PATH."""
    return [pkg for binary, pkg in PACKAGES.items() if shutil.which(binary) is None]


def alertmanager_config() -> str:
    """The example routing in ``deploy/monitoring/alertmanager.yml``, else one null receiver."""
    example = MONITORING / "alertmanager.yml"
    if example.exists():
        return example.read_text(encoding="utf-8")
    return "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n"


def prometheus_config(ports: Ports) -> str:
    """Scrape the worker and the sink every 5 s; the hub's own rules; the local Alertmanager."""
    rules = sorted(
        str(p)
        for p in MONITORING.glob("*.yml")
        if p.name not in {"prometheus.yml", "alertmanager.yml"}
    )
    config = {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": rules,
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"{HOST}:{ports.alertmanager}"]}]}]
        },
        "scrape_configs": [
            {
                "job_name": "orderhub-worker",
                "static_configs": [{"targets": [f"{HOST}:{ports.worker}"]}],
            },
            {
                "job_name": "orderhub-alertmanager-sink",
                "static_configs": [{"targets": [f"{HOST}:{ports.sink_metrics}"]}],
            },
        ],
    }
    # JSON is YAML: no YAML writer needed for a file Prometheus reads.
    return json.dumps(config, indent=2)


class LocalMonitoring:
    """Start, stop and report the stack kept under ``state_dir``."""

    def __init__(self, state_dir: Path, ports: Ports = Ports()) -> None:
        self.state_dir = state_dir
        self.ports = ports

    def _pid_file(self, name: str) -> Path:
        return self.state_dir / f"{name}.pid"

    def status(self) -> list[Part]:
        """The parts that run now (a stale pid file is ignored)."""
        parts: list[Part] = []
        for name in ("alertmanager", "prometheus", "sink"):
            path = self._pid_file(name)
            if not path.exists():
                continue
            part = Part(**json.loads(path.read_text(encoding="utf-8")))
            if process_running(part.pid):
                parts.append(part)
        return parts

    def up(self, sink_command: Sequence[str], say: Callable[[str], None]) -> list[Part]:
        """Start whatever does not run yet; wait until Alertmanager and Prometheus answer."""
        missing = missing_binaries()
        if missing:
            raise MonitoringError(
                "install the Debian packages " + " ".join(missing) + " (deploy/packages.sh)"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        running = {p.name for p in self.status()}
        am = f"http://{HOST}:{self.ports.alertmanager}"
        prom = f"http://{HOST}:{self.ports.prometheus}"
        if "alertmanager" not in running:
            (self.state_dir / "alertmanager.yml").write_text(alertmanager_config(), "utf-8")
            self._start(
                "alertmanager",
                [
                    "prometheus-alertmanager",
                    f"--config.file={self.state_dir / 'alertmanager.yml'}",
                    f"--storage.path={self.state_dir / 'alertmanager-data'}",
                    f"--web.listen-address={HOST}:{self.ports.alertmanager}",
                    "--cluster.listen-address=",
                ],
                url=f"{am}/#/alerts",
                ready=f"{am}/-/ready",
                say=say,
            )
        if "prometheus" not in running:
            (self.state_dir / "prometheus.yml").write_text(prometheus_config(self.ports), "utf-8")
            self._start(
                "prometheus",
                [
                    "prometheus",
                    f"--config.file={self.state_dir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.state_dir / 'prometheus-data'}",
                    f"--web.listen-address={HOST}:{self.ports.prometheus}",
                ],
                url=f"{prom}/alerts",
                ready=f"{prom}/-/ready",
                say=say,
            )
        if "sink" not in running:
            self._start("sink", [*sink_command, "--url", am], url=am, ready=None, say=say)
        return self.status()

    def _start(
        self,
        name: str,
        argv: list[str],
        url: str,
        ready: str | None,
        say: Callable[[str], None],
    ) -> None:
        log = self.state_dir / f"{name}.log"
        say(f"starting {name} (log {log})")
        with log.open("ab") as out:
            proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        part = Part(name=name, pid=proc.pid, url=url, log=str(log))
        self._pid_file(name).write_text(json.dumps(asdict(part)), encoding="utf-8")
        if ready is not None:
            self._wait_ready(part, ready)

    def _wait_ready(self, part: Part, ready: str) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if not process_running(part.pid):
                raise MonitoringError(f"{part.name} exited at start; see {part.log}")
            try:
                with urllib.request.urlopen(ready, timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        raise MonitoringError(f"{part.name} did not answer {ready} in {READY_TIMEOUT_S:.0f} s")

    def down(self) -> list[Part]:
        """Stop every part that runs; return what was stopped."""
        stopped = self.status()
        for part in stopped:
            _terminate(part)
        for name in ("alertmanager", "prometheus", "sink"):
            self._pid_file(name).unlink(missing_ok=True)
        return stopped


def _terminate(part: Part) -> None:
    """SIGTERM, then SIGKILL after ``STOP_TIMEOUT_S``; an error if it outlives both."""
    if not terminate(part.pid, STOP_TIMEOUT_S, process_running):
        raise MonitoringError(f"{part.name} (pid {part.pid}) did not exit after SIGKILL")
