"""A worker that cannot start says why in one line, at once; `worker status` exit codes."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from contract.settings import Settings, get_settings
from orderhub.commands.live import worker as worker_group
from streams.clients.worker_api import WorkerUnavailable
from streams.worker import control as worker

ROOT = Path(__file__).parents[3]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something listens on (and never answers)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_worker(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``python -m streams.worker.control`` in the foreground, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "streams.worker.control"],
        env={"PATH": "/usr/bin:/bin", "ORDERHUB_HOME": str(tmp_path), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_web_port_in_use_is_one_line_naming_the_port(taken_port: int, tmp_path: Path) -> None:
    done = run_worker(
        {"ORDERHUB_WEB_PORT": str(taken_port), "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, tmp_path
    )
    assert done.returncode == worker.STARTUP_FAILED
    assert done.stderr == (
        f"orderhub worker: cannot start: web port {taken_port} on 127.0.0.1 is in use "
        "(set ORDERHUB_WEB_PORT to a free port)\n"
    )


def test_an_unreachable_broker_is_one_line_naming_it(tmp_path: Path) -> None:
    broker = f"127.0.0.1:{closed_port()}"
    done = run_worker(
        {"ORDERHUB_WEB_PORT": str(closed_port()), "KAFKA_BOOTSTRAP_SERVERS": broker}, tmp_path
    )
    assert done.returncode == worker.STARTUP_FAILED
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(
        f"orderhub worker: cannot start: Kafka broker at {broker} does not answer within 5 s "
        "(KAFKA_BOOTSTRAP_SERVERS)"
    )


def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    done = run_worker({"ORDERHUB_WEB_PORT": "sixty", "ORDERHUB_STALL_SECONDS": "0"}, tmp_path)
    assert done.returncode == worker.STARTUP_FAILED
    assert done.stderr == (
        "orderhub worker: cannot start: bad setting "
        "ORDERHUB_WEB_PORT='sixty': Input should be a valid integer, unable to parse string "
        "as an integer; ORDERHUB_STALL_SECONDS='0': Input should be greater than 0\n"
    )


def test_a_bad_setting_stops_a_detached_start_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("orderhub")), "worker", "start", "--detach"],
        env={"PATH": "/usr/bin:/bin", "ORDERHUB_HOME": str(tmp_path), "ORDERHUB_WEB_PORT": "0x"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (
        1,
        "orderhub: bad setting ORDERHUB_WEB_PORT='0x': Input should be a valid integer, "
        "unable to parse string as an integer\n",
    )
    assert not (tmp_path / "worker.log").exists()  # nothing was spawned


def test_a_stall_limit_within_the_reorder_window_is_a_bad_setting(tmp_path: Path) -> None:
    done = run_worker({"ORDERHUB_STALL_SECONDS": "2", "ORDERHUB_REORDER_WINDOW": "5"}, tmp_path)
    assert (done.returncode, done.stderr) == (
        worker.STARTUP_FAILED,
        "orderhub worker: cannot start: bad setting ORDERHUB_STALL_SECONDS (2) must be longer "
        "than ORDERHUB_REORDER_WINDOW (5)\n",
    )


def test_a_detached_start_notices_the_exit_and_prints_the_cause(
    taken_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: it waited its whole timeout, then said only "exited during start-up"."""
    monkeypatch.setenv("ORDERHUB_WEB_PORT", str(taken_port))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.chdir(ROOT)
    settings = Settings(home=tmp_path, web_port=taken_port)
    # The timeout is never reached: the child's exit ends the wait (a timeout would raise
    # WorkerNotReady "no answer in 600 s", not StartupError).
    with pytest.raises(worker.StartupError) as failed:
        worker.start_detached(settings, timeout=600.0)
    assert str(failed.value) == (
        f"worker exited during start-up: web port {taken_port} on 127.0.0.1 is in use "
        f"(set ORDERHUB_WEB_PORT to a free port); see {tmp_path / 'worker.log'}"
    )
    assert not (tmp_path / "worker.pid").exists()


def test_the_cause_is_the_worker_s_own_line_else_the_traceback_s_last() -> None:
    own = "INFO starting\norderhub worker: cannot start: web port 1 is in use\n"
    assert worker.cause(own) == "web port 1 is in use"
    traceback = "Traceback (most recent call last):\n  File x\nOSError: [Errno 98] in use\n"
    assert worker.cause(traceback) == "OSError: [Errno 98] in use"
    assert worker.cause("just a line\n\n") == "just a line"
    assert worker.cause("") is None


class FakeWeb:
    def __init__(self, doc: dict[str, Any] | None) -> None:
        self.doc = doc

    def health(self) -> dict[str, Any]:
        if self.doc is None:
            raise WorkerUnavailable("no worker answers at http://127.0.0.1:1/healthz")
        return self.doc


@pytest.mark.parametrize(
    ("doc", "code", "first"),
    [
        ({"healthy": True, "ready": True, "problems": []}, 0, "health: OK"),
        ({"healthy": False, "ready": True, "problems": ["no broker"]}, 2, "health: NOT OK"),
        (None, 1, "web: no worker answers at http://127.0.0.1:1/healthz"),
    ],
)
def test_worker_status_exits_0_healthy_1_no_answer_2_unhealthy(
    doc: dict[str, Any] | None,
    code: int,
    first: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDERHUB_HOME", str(tmp_path))
    get_settings.cache_clear()
    monkeypatch.setattr(worker, "client", lambda settings: FakeWeb(doc))
    result = CliRunner().invoke(worker_group, ["status"])
    get_settings.cache_clear()
    assert result.exit_code == code
    assert result.output.splitlines()[:2] == ["worker: not running", first]
