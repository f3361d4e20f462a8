"""What an Alertmanager's answer means to the sink: kept, refused for good, or retry."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from connectors.alertmanager import push


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Fake(BaseHTTPRequestHandler):
    status = 200
    bodies: list[Any] = []  # noqa: RUF012 - shared by the test and the server thread

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Fake.bodies.append((self.path, json.loads(self.rfile.read(length))))
        self.send_response(Fake.status)
        self.end_headers()
        self.wfile.write(b"bad alert" if Fake.status == 400 else b"")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Fake.bodies, Fake.status = [], 200
    httpd = HTTPServer(("127.0.0.1", 0), Fake)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_alerts_go_in_chunks_to_the_v2_path(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push, "CHUNK", 2)
    result = push.post_alerts(server, [{"labels": {"n": str(i)}} for i in range(5)])
    assert result == push.PushResult(True)
    assert [(path, len(body)) for path, body in Fake.bodies] == [
        ("/api/v2/alerts", 2),
        ("/api/v2/alerts", 2),
        ("/api/v2/alerts", 1),
    ]


def test_400_is_kept_as_refused_for_good_and_503_is_retried(server: str) -> None:
    Fake.status = 400
    assert push.post_alerts(server, [{}]) == push.PushResult(True, "bad alert", rejected=True)
    Fake.status = 503
    result = push.post_alerts(server, [{}])
    assert (result.ok, result.detail) == (False, "HTTP 503: ")


def test_no_alertmanager_there_is_a_failure_to_retry() -> None:
    result = push.post_alerts(f"http://127.0.0.1:{free_port()}", [{}], timeout=2)
    assert not result.ok and "refused" in result.detail.lower()
