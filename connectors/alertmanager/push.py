"""``POST /api/v2/alerts`` to one Alertmanager (urllib, as ``streams.clients.worker_api``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Alerts per request: an Alertmanager takes any number, but a body of thousands is slow to
# retry as a whole; Prometheus sends at most 64 per request.
CHUNK = 500
TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class PushResult:
    """``ok``: Alertmanager has the alerts (or refused some for good: ``rejected``)."""

    ok: bool
    detail: str = ""
    rejected: bool = False


def alerts_url(base: str) -> str:
    return f"{base.rstrip('/')}/api/v2/alerts"


def post_alerts(
    base: str, alerts: Sequence[dict[str, Any]], timeout: float = TIMEOUT_SECONDS
) -> PushResult:
    """Push ``alerts`` in chunks; not ok at the first chunk Alertmanager does not take.

    400 is Alertmanager's answer to invalid alerts: it stored the valid ones and will
    refuse the others again, so retrying cannot help; that is ok, with ``rejected``."""
    rejected: list[str] = []
    for start in range(0, len(alerts), CHUNK):
        body = json.dumps(list(alerts[start : start + CHUNK]), ensure_ascii=False).encode()
        request = urllib.request.Request(
            alerts_url(base), data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                pass
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")[:300]
            if exc.code != 400:
                return PushResult(False, f"HTTP {exc.code}: {text}")
            rejected.append(text)
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            return PushResult(False, str(reason))
    return PushResult(True, "; ".join(rejected), rejected=bool(rejected))
