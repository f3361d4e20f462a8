"""Running the Faust worker: in the foreground (``python -m streams.worker.control``), or detached
with a pid file and a log under ``settings.home`` (``orderhub worker start --detach``).

Several workers of one app (one ``ORDERHUB_TOPIC_PREFIX``) form one consumer group: the one
that holds the events partition is active, the others are hot standbys. On one machine
they are numbered instances: instance N listens on ``ORDERHUB_WEB_PORT`` + N and keeps its
pid file and log as ``worker-N.pid`` / ``worker-N.log`` (instance 0: ``worker.pid``).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from contract.errors import OrderHubError
from contract.settings import Settings, get_settings
from contract.topics import Topics
from deploy.process import process_running
from streams.clients.worker_api import WorkerClient, WorkerUnavailable, lagging, retry
from streams.core.hooks import RuleHook
from streams.exceptions import StreamsError, WorkerNotReady

# A worker that cannot start prints one line beginning with this, then exits with
# STARTUP_FAILED; `worker start --detach` finds the line in the log and prints it.
CANNOT_START = "orderhub worker: cannot start: "
STARTUP_FAILED = 3
BROKER_CHECK_SECONDS = 5.0


class StartupError(StreamsError):
    """The worker cannot start: a port in use, no broker, a bad setting (one line)."""


def bootstrap(settings: Settings) -> str:
    """The broker: KAFKA_BOOTSTRAP_SERVERS, or the local one of ``orderhub kafka up``."""
    from deploy.kafka import bootstrap_servers

    return bootstrap_servers(settings)


def rule_hook(settings: Settings) -> RuleHook:
    """The rule engine the worker runs: the rule files of ``settings.rules_dir``, each
    file's last good version kept on the ``<prefix>.rulesets`` topic."""
    from streams.worker.rulehook import live_rules
    from streams.worker.rulestore import KafkaRuleStore

    store = KafkaRuleStore.of(settings, bootstrap(settings))
    return live_rules(settings.rules_dir, settings.timezone, store=store)


def check_port(host: str, port: int) -> None:
    """Raise ``StartupError`` unless the web endpoint's address can be bound now.

    Faust binds it only after the tables are recovered, and then dies with a traceback;
    checking first names the cause in one line, in well under a second."""
    with socket.socket() as sock:
        # As aiohttp binds: a port in TIME_WAIT is free, one with a listener is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"web port {port} on {host} is in use (set ORDERHUB_WEB_PORT to a free port)"
                ) from exc
            raise StartupError(
                f"cannot listen on {host}:{port} (ORDERHUB_WEB_HOST/ORDERHUB_WEB_PORT): "
                f"{exc.strerror or exc}"
            ) from exc


def preflight(settings: Settings) -> str:
    """Check what the worker needs before Faust starts; return the broker address."""
    from streams.clients.kafka_io import check_broker

    check_port(settings.web_host, settings.web_port)
    servers = bootstrap(settings)
    check_broker(settings, servers, BROKER_CHECK_SECONDS)
    return servers


def run(settings: Settings) -> None:
    """Check ports and broker, create the topics, then run the worker until SIGTERM/SIGINT."""
    from streams.clients.kafka_io import create_topics
    from streams.worker import backoff
    from streams.worker.app import create_app

    servers = preflight(settings)
    create_topics(settings, servers)
    app = create_app(settings, servers, hook=rule_hook(settings))
    backoff.install()  # a broker outage must not make aiokafka spin (streams.worker.backoff)
    worker = _faust_worker()(app, loglevel="INFO")
    worker.repeat_window = settings.log_repeat_seconds
    worker.execute_from_commandline()


def _faust_worker() -> Any:
    """``faust.Worker`` that puts a ``RepeatFilter`` on the log handlers it sets up."""
    import faust

    from streams.worker import logfilter

    class Worker(faust.Worker):
        repeat_window: float = logfilter.WINDOW_SECONDS

        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            super().on_setup_root_logger(logger, level)
            logfilter.install(logger, self.repeat_window)

    return Worker


# --- detached process control ----------------------------------------------------------


def at_instance(settings: Settings, instance: int) -> Settings:
    """The settings of instance ``instance`` on this machine: its own web port (and so its
    own data directory, ``streams.worker.app``)."""
    port = settings.web_port + instance
    if instance < 0 or port > 65535:
        raise StartupError(f"no instance {instance}: web port {port} is out of range")
    return settings if instance == 0 else settings.model_copy(update={"web_port": port})


@dataclass(frozen=True)
class WorkerFiles:
    pid: Path
    log: Path

    @classmethod
    def of(cls, settings: Settings, instance: int = 0) -> WorkerFiles:
        name = "worker" if instance == 0 else f"worker-{instance}"
        return cls(pid=settings.home / f"{name}.pid", log=settings.home / f"{name}.log")


def instances(settings: Settings) -> list[int]:
    """The instances with a pid file under ``settings.home``; [0] when there is none (a
    worker in the foreground answers at the default port)."""
    found = {0} if WorkerFiles.of(settings).pid.exists() else set()
    for path in settings.home.glob("worker-*.pid"):
        number = path.stem.removeprefix("worker-")
        if number.isdigit():
            found.add(int(number))
    return sorted(found) or [0]


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


class WorkerExited(WorkerNotReady):
    """The worker process ended while we waited for it to be ready."""


def wait_ready(
    settings: Settings, timeout: float, pid: int | None = None, standby: bool = False
) -> dict[str, object]:
    """Wait until ``/healthz`` says ready (tables recovered, events partition assigned),
    or with ``standby`` also until it is a standby in its group, and the health monitor
    has checked the broker once; raise ``WorkerExited`` as soon as ``pid`` is gone (not
    after ``timeout``)."""
    # A short timeout: a port held by something that never answers must not hide an exit.
    web = WorkerClient.at(settings.web_host, settings.web_port, timeout=1.0)
    deadline = time.monotonic() + timeout
    while True:
        if pid is not None and not alive(pid):
            raise WorkerExited(f"the worker (pid {pid}) exited during start-up")
        try:
            status = web.health()
        except WorkerUnavailable as exc:
            status, why = {}, str(exc)
        else:
            why = f"worker is starting: {status.get('problems') or status}"
        if pid is not None and status.get("pid", pid) != pid:
            status, why = {}, f"another worker (pid {status['pid']}) answers at {web.base_url}"
        if (status.get("ready") or (standby and _standby(status))) and _checked(status):
            return status
        if time.monotonic() >= deadline:
            raise WorkerNotReady(
                f"waiting for the worker: still failing after {timeout:g} s: {why}"
            )
        time.sleep(0.2)


def _standby(status: dict[str, Any]) -> bool:
    """A standby that has joined its group and recovered (Faust's standby replicas)."""
    group = status.get("group")
    joined = not isinstance(group, dict) or group.get("joined") is not False
    return status.get("role") == "standby" and joined


def _checked(status: dict[str, Any]) -> bool:
    broker = status.get("broker")
    return not isinstance(broker, dict) or broker.get("reachable") is not None


def cause(log_text: str) -> str | None:
    """The line saying why a worker could not start, from what it wrote to its log:
    its own one-line cause, else the last line of a traceback, else the last line."""
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(CANNOT_START):
            return line.removeprefix(CANNOT_START)
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b", line):
            return line
    return lines[-1] if lines else None


def start_detached(
    settings: Settings, timeout: float = 120.0, instance: int = 0
) -> tuple[int, bool]:
    """Start instance ``instance`` of ``python -m streams.worker.control`` in the background;
    return its pid once it is active or a standby, and whether it was started now. A
    worker already running is left as it is (like ``orderhub kafka up``), so ``make run``
    can be run again."""
    files = WorkerFiles.of(settings, instance)
    if (pid := running_pid(files)) is not None:
        return pid, False
    mine = at_instance(settings, instance)
    files.pid.parent.mkdir(parents=True, exist_ok=True)
    with files.log.open("ab") as log:
        start = log.tell()  # this run's lines begin here
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.worker.control"],
            env={**os.environ, "ORDERHUB_WEB_PORT": str(mine.web_port)},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not killed with the shell that started it
        )
    files.pid.write_text(f"{process.pid}\n")
    try:
        # A standby never gets the events partition while the active worker lives.
        wait_ready(mine, timeout, pid=process.pid, standby=True)
    except WorkerExited as exc:
        files.pid.unlink(missing_ok=True)
        with files.log.open("rb") as log:
            log.seek(start)
            why = cause(log.read().decode("utf-8", "replace"))
        raise StartupError(f"worker exited during start-up: {why}; see {files.log}") from exc
    except WorkerNotReady as exc:
        raise WorkerNotReady(f"{exc}; see {files.log}") from exc
    return process.pid, True


def stop(
    settings: Settings, timeout: float = 30.0, only: int | None = None
) -> dict[int, int | None]:
    """SIGTERM the detached workers (every instance, or ``only`` that one) together, SIGKILL
    those still running after ``timeout`` s; return each instance's pid (None: none ran)."""
    chosen = instances(settings) if only is None else [only]
    files = {n: WorkerFiles.of(settings, n) for n in chosen}
    pids = {n: running_pid(f) for n, f in files.items()}
    for pid in pids.values():
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(p is not None and alive(p) for p in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids.values():
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGKILL)
    for f in files.values():
        f.pid.unlink(missing_ok=True)
    return pids


def wait_caught_up(settings: Settings, servers: str, timeout: float) -> None:
    """Wait until the worker has handled every record now on its input topics, every
    event ingest forwarded from them, and every alert those raised (the ledger's input).

    The events topic's end is read only after the inputs are caught up: until then
    ingest keeps adding to it.
    """
    from streams.clients.kafka_io import committed_offsets, end_offsets

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
        # the ledger agent books the alerts the events raised (streams.worker.ledger)
        check([topics.alerts])

    retry(caught_up, timeout, "waiting for the worker to catch up")


def main() -> None:
    """``python -m streams.worker.control``: a start-up failure is one line and exit code 3."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        _cannot_start(bad_settings(exc))
    try:
        run(settings)
    except OrderHubError as exc:
        _cannot_start(str(exc))


def bad_settings(exc: ValidationError) -> str:
    """Each invalid setting as ``NAME=value: why``, on one line."""
    problems = []
    for error in exc.errors():
        name = "_".join(str(part) for part in error["loc"]).upper()
        if not name:  # a check of several settings together: its message names them
            problems.append(str(error["msg"]).removeprefix("Value error, "))
            continue
        env = name if name == "KAFKA_BOOTSTRAP_SERVERS" else f"ORDERHUB_{name}"
        problems.append(f"{env}={error.get('input')!r}: {error['msg']}")
    return "bad setting " + "; ".join(problems)


def _cannot_start(why: str) -> NoReturn:
    print(f"{CANNOT_START}{why}", file=sys.stderr, flush=True)
    sys.exit(STARTUP_FAILED)


if __name__ == "__main__":
    main()
