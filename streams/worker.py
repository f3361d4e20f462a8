"""Running the Faust worker: in the foreground (``python -m streams.worker``), or detached
with a pid file and a log under ``settings.home`` (``orderhub worker start --detach``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.process import process_running
from orderhub.settings import Settings, get_settings
from streams.client import WorkerClient, WorkerUnavailable, lagging, retry
from streams.exceptions import WorkerNotReady
from streams.hooks import RuleHook
from streams.topics import Topics


def bootstrap(settings: Settings) -> str:
    """The broker: KAFKA_BOOTSTRAP_SERVERS, or the local one of ``orderhub kafka up``."""
    from deploy.kafka import bootstrap_servers

    return bootstrap_servers(settings)


def rule_hook(settings: Settings) -> RuleHook:
    """The rule engine the worker runs: the rule files of ``settings.rules_dir``, each
    file's last good version kept on the ``<prefix>.rulesets`` topic."""
    from streams.rulehook import live_rules
    from streams.rulestore import KafkaRuleStore

    store = KafkaRuleStore.of(settings, bootstrap(settings))
    return live_rules(settings.rules_dir, settings.timezone, store=store)


def run(settings: Settings) -> None:
    """Create the topics, then run the worker until SIGTERM/SIGINT."""
    import faust

    from streams.app import create_app
    from streams.kafka_io import create_topics

    servers = bootstrap(settings)
    create_topics(settings, servers)
    app = create_app(settings, servers, hook=rule_hook(settings))
    faust.Worker(app, loglevel="INFO").execute_from_commandline()


# --- detached process control ----------------------------------------------------------


@dataclass(frozen=True)
class WorkerFiles:
    pid: Path
    log: Path

    @classmethod
    def of(cls, settings: Settings) -> WorkerFiles:
        return cls(pid=settings.home / "worker.pid", log=settings.home / "worker.log")


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    return process_running(pid)


def running_pid(files: WorkerFiles) -> int | None:
    """The pid of the detached worker, if its pid file names a live process."""
    try:
        pid = int(files.pid.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


def client(settings: Settings) -> WorkerClient:
    return WorkerClient.at(settings.web_host, settings.web_port)


def wait_ready(settings: Settings, timeout: float, pid: int | None = None) -> dict[str, object]:
    """Wait until ``/healthz`` says ready (tables recovered, partitions assigned)."""
    web = client(settings)

    def ready() -> dict[str, object]:
        if pid is not None and not alive(pid):
            raise WorkerNotReady(f"the worker (pid {pid}) exited")
        status = web.health()
        if not status.get("ready"):
            raise WorkerUnavailable(f"worker is starting: {status}")
        return status

    try:
        return retry(ready, timeout, "waiting for the worker")
    except WorkerNotReady:
        if pid is not None and not alive(pid):
            raise WorkerNotReady(f"the worker (pid {pid}) exited during start-up") from None
        raise


def start_detached(settings: Settings, timeout: float = 120.0) -> tuple[int, bool]:
    """Start ``python -m streams.worker`` in the background; return its pid once ready,
    and whether it was started now. A worker already running is left as it is (like
    ``orderhub kafka up``), so ``make run`` can be run again."""
    files = WorkerFiles.of(settings)
    if (pid := running_pid(files)) is not None:
        return pid, False
    files.pid.parent.mkdir(parents=True, exist_ok=True)
    with files.log.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.worker"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not killed with the shell that started it
        )
    files.pid.write_text(f"{process.pid}\n")
    try:
        wait_ready(settings, timeout, pid=process.pid)
    except WorkerNotReady as exc:
        raise WorkerNotReady(f"{exc}; see {files.log}") from exc
    return process.pid, True


def stop(settings: Settings, timeout: float = 30.0) -> int | None:
    """SIGTERM the detached worker, SIGKILL it after ``timeout`` s; return its pid."""
    files = WorkerFiles.of(settings)
    pid = running_pid(files)
    if pid is None:
        files.pid.unlink(missing_ok=True)
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
    files.pid.unlink(missing_ok=True)
    return pid


def wait_caught_up(settings: Settings, servers: str, timeout: float) -> None:
    """Wait until the worker has handled every record now on its input topics, and every
    event ingest forwarded from them.

    The events topic's end is read only after the inputs are caught up: until then
    ingest keeps adding to it.
    """
    from streams.kafka_io import committed_offsets, end_offsets

    topics = Topics(settings.topic_prefix)
    web = client(settings)
    group = settings.topic_prefix  # the Faust app id

    def check(names: list[str]) -> None:
        ends = end_offsets(settings, servers, names)
        committed = committed_offsets(settings, servers, group, names)
        status = web.health()
        if not status.get("ready"):
            raise WorkerUnavailable("worker is starting")
        if behind := lagging(ends, status["progress"], committed):
            raise WorkerUnavailable(f"worker is behind on {', '.join(behind)}")

    def caught_up() -> None:
        check(list(topics.inputs.values()))
        check([topics.events])

    retry(caught_up, timeout, "waiting for the worker to catch up")


def main() -> None:
    run(get_settings())


if __name__ == "__main__":
    main()
