"""Reading a running worker through its web endpoint, and knowing when it has caught up."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from streams.exceptions import StreamsError, WorkerNotReady

T = TypeVar("T")


class WorkerUnavailable(StreamsError):
    """The worker's web endpoint did not answer (not started, starting, or gone)."""


@dataclass(frozen=True)
class WorkerClient:
    """HTTP client of one worker's web views (``streams.worker.web``)."""

    base_url: str
    timeout: float = 5.0

    @classmethod
    def at(cls, host: str, port: int, timeout: float = 5.0) -> WorkerClient:
        return cls(f"http://{host}:{port}", timeout)

    def _get(self, path: str) -> tuple[int, Any]:
        url = f"{self.base_url}{path}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                return int(response.status), json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = exc.read()
            try:
                return exc.code, json.loads(body)
            except json.JSONDecodeError:
                return exc.code, {"error": body.decode("utf-8", "replace")}
        except (urllib.error.URLError, OSError) as exc:
            raise WorkerUnavailable(f"no worker answers at {url}: {exc}") from exc

    def health(self) -> dict[str, Any]:
        """The ``/healthz`` document (``ready`` is False while the worker starts)."""
        _status, body = self._get("/healthz")
        return dict(body)

    def table(self, name: str) -> dict[str, Any]:
        """One table's entries, without bookkeeping fields."""
        status, body = self._get(f"/tables/{name}/")
        if status != 200:
            raise StreamsError(body.get("error", f"HTTP {status} reading table {name}"))
        return dict(body)

    def assessment(self, month: str, region: str | None = None) -> dict[str, Any]:
        """The month's assessment (``/assessment/kpis``), as ``assessment_json`` wrote it."""
        query = urllib.parse.urlencode({"month": month, **({"region": region} if region else {})})
        status, body = self._get(f"/assessment/kpis?{query}")
        if status != 200:
            raise StreamsError(body.get("error", f"HTTP {status} reading the assessment"))
        return dict(body)

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts firing now (``/alerts/``), oldest first."""
        status, body = self._get("/alerts/")
        if status != 200 or not isinstance(body, list):
            raise StreamsError(f"HTTP {status} reading the firing alerts: {body}")
        return [dict(alert) for alert in body]

    def alert(self, fingerprint: str) -> dict[str, Any]:
        """One alert's state (``/alerts/{fingerprint}``): ``status`` "firing" with the
        ``alert``, or "not firing"."""
        _status, body = self._get(f"/alerts/{fingerprint}")
        return dict(body)

    def ledger(self, month: str | None = None, region: str | None = None) -> dict[str, Any]:
        """The ``/assessment/ledger`` document: ``entries`` (LedgerEntry JSON), ``problems``."""
        query = urllib.parse.urlencode(
            {k: v for k, v in (("month", month), ("region", region)) if v is not None}
        )
        status, body = self._get("/assessment/ledger" + (f"?{query}" if query else ""))
        if status != 200:
            raise StreamsError(body.get("error", f"HTTP {status} reading the ledger"))
        return dict(body)


def lagging(
    ends: Mapping[str, int], progress: Mapping[str, Mapping[str, int]], committed: Mapping[str, int]
) -> list[str]:
    """The "topic[partition]"s whose records the worker has not all handled yet.

    ``progress`` is the worker's own count of handled records (``/healthz``); for a
    partition it has not touched since it started, its group's committed offset says how
    far an earlier run got.
    """
    behind = []
    for tp, end in sorted(ends.items()):
        topic, _, rest = tp.rpartition("[")
        done = progress.get(topic, {}).get(rest.rstrip("]"))
        position = done if done is not None else committed.get(tp, 0)
        if position < end:
            behind.append(tp)
    return behind


def retry(call: Callable[[], T], wait: float, what: str, interval: float = 0.5) -> T:
    """``call()`` until it stops raising ``StreamsError`` or ``wait`` seconds have passed."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return call()
        except StreamsError as exc:
            if time.monotonic() >= deadline:
                raise WorkerNotReady(f"{what}: still failing after {wait:g} s: {exc}") from exc
        time.sleep(interval)
