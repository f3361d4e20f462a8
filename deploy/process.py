"""Is a process we started still running? Shared by the broker and worker controls."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path


def process_running(pid: int, marker: bytes | None = None) -> bool:
    """True while ``pid`` runs and is not a zombie (dead, not yet reaped).

    With ``marker``, its command line must also contain it: a pid recycled by some other
    program is then never taken for ours.
    """
    with contextlib.suppress(ChildProcessError):
        # Our own child stays a zombie until reaped: reap it, it is gone.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    proc = Path(f"/proc/{pid}")
    if not Path("/proc/self").exists():
        return True  # no procfs (macOS): trust kill(0)
    try:
        state = (proc / "stat").read_text(encoding="ascii", errors="replace")
        cmdline = (proc / "cmdline").read_bytes() if marker else b""
    except FileNotFoundError:
        return False  # it exited while we looked
    if marker is not None and marker not in cmdline:
        return False
    return state.rsplit(")", 1)[-1].split()[0] != "Z"


def terminate(pid: int, timeout: float, alive: Callable[[int], bool]) -> bool:
    """SIGTERM ``pid`` (a controlled shutdown), SIGKILL it if it outlives ``timeout`` s;
    True once it is gone, False if it outlived SIGKILL too. ``PermissionError`` propagates."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(pid):
                return True
            time.sleep(0.2)
    return False
