"""Real binaries from Debian's packages (Alertmanager, Prometheus) in the integration tests:
found, stopped and read the same way by every harness."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def binary(name: str) -> str:
    """The path of a Debian package's binary. Never a skip: `make test` installs the
    packages (deploy/packages.sh), so a missing one is a failed set-up."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run deploy/packages.sh", pytrace=False)
    return path


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL after 30 s; nothing when it is not running."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


def log_tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])
