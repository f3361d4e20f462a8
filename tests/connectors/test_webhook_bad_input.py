"""Bad input at the webhook (issue 7): every answer a client can act on, never a 5xx for a
fault that a retry cannot fix, and exactly which items were published."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from connectors.base import MemorySink, Routed
from connectors.exceptions import PublishError
from connectors.webhook import create_app, is_loopback
from contract.topics import Topics
from orderhub.commands.connect import connect
from streams.core.ingest import MAX_RECORD_BYTES
from tests.connectors.test_webhook import confirmed

TOPICS = Topics("t")
JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}


Call = Callable[[TestClient[Any, Any]], Awaitable[None]]


def run(call: Call, sink: Any, token: str | None = None, max_body: int | None = None) -> None:
    async def main() -> None:
        options = {} if max_body is None else {"max_body": max_body}
        app = create_app(sink, TOPICS, token, **options)
        async with TestClient(TestServer(app)) as client:
            await call(client)

    asyncio.run(main())


def published(sink: MemorySink) -> list[bytes | None]:
    return [r.key for r in sink.records if r.topic == "t.orders"]


def reasons(sink: MemorySink) -> list[str]:
    return [json.loads(r.value)["reason"] for r in sink.records if r.topic == "t.dead-letter"]


@pytest.mark.parametrize(
    "header",
    [
        {"X-OrderHub-Token": "sécret"},
        {"Authorization": "Bearer 令牌"},
        {"X-OrderHub-Token": ""},
        {"Authorization": "Basic czNjcmV0"},
        {},
    ],
)
def test_any_bad_or_missing_token_is_401_never_500(header: dict[str, str]) -> None:
    sink = MemorySink()

    async def call(client: TestClient[Any, Any]) -> None:
        # aiohttp's client refuses non-ASCII header text: send the UTF-8 bytes as latin-1,
        # as a raw HTTP client would put them on the wire.
        raw = {k: v.encode().decode("latin-1") for k, v in header.items()}
        resp = await client.post("/events", json=confirmed("A"), headers=raw)
        assert resp.status == 401
        assert (await resp.json())["reason"] == "unauthorized"

    run(call, sink, token="s3cret")
    assert sink.records == []


def test_a_lone_surrogate_item_is_422_and_the_valid_item_is_published() -> None:
    sink = MemorySink()
    # json.dumps writes the lone surrogate as the escape \ud800: valid JSON, no text.
    body = json.dumps([confirmed("A"), {**confirmed("B"), "order_id": "\ud800"}])

    async def call(client: TestClient[Any, Any]) -> None:
        resp = await client.post("/events", data=body.encode(), headers=JSON)
        assert resp.status == 422
        answer = await resp.json()
        assert answer["published"] == [0]
        assert [(r["index"], r["reason"]) for r in answer["rejected"]] == [(1, "not_utf8")]

    run(call, sink)
    assert published(sink) == [b"A"]
    assert reasons(sink) == ["not_utf8"]


def test_a_too_large_item_is_413_dead_lettered_by_its_prefix_and_the_rest_published() -> None:
    sink = MemorySink()
    huge = b"x" * 900_000
    body = json.dumps(confirmed("A")).encode() + b"\n" + huge + b"\n"
    body += json.dumps(confirmed("B")).encode()

    async def call(client: TestClient[Any, Any]) -> None:
        resp = await client.post("/events", data=body, headers=NDJSON)
        assert resp.status == 413  # not 503: sending it again cannot help
        answer = await resp.json()
        assert answer["published"] == [0, 2]
        assert [(r["index"], r["reason"]) for r in answer["rejected"]] == [(1, "too_large")]

    run(call, sink)
    assert published(sink) == [b"A", b"B"]
    [letter] = [json.loads(r.value) for r in sink.records if r.topic == "t.dead-letter"]
    assert (letter["reason"], letter["size"], letter["truncated"]) == ("too_large", 900_000, True)
    assert max(len(r.value) for r in sink.records) < MAX_RECORD_BYTES


def test_a_body_over_the_limit_is_413_and_nothing_is_published() -> None:
    sink = MemorySink()

    async def call(client: TestClient[Any, Any]) -> None:
        resp = await client.post("/events", data=b"[" + b" " * 2000 + b"]", headers=JSON)
        assert resp.status == 413
        assert (await resp.json())["reason"] == "too_large"

    run(call, sink, max_body=1024)
    assert sink.records == []


def test_an_event_id_reused_with_other_content_is_409_and_the_same_content_is_fine() -> None:
    sink = MemorySink()

    async def call(client: TestClient[Any, Any]) -> None:
        assert (await client.post("/events", json=confirmed("A", 3))).status == 202
        assert (await client.post("/events", json=confirmed("A", 3))).status == 202  # a retry
        resp = await client.post("/events", json=[confirmed("A", 9), confirmed("B")])
        assert resp.status == 409
        answer = await resp.json()
        assert answer["published"] == [1]
        [rejected] = answer["rejected"]
        assert (rejected["index"], rejected["reason"]) == (0, "id_reused")
        assert "'A-c' was published before with other content" in rejected["error"]

    run(call, sink)
    assert published(sink) == [b"A", b"A", b"B"]
    assert reasons(sink) == ["id_reused"]


class PartialSink:
    """A broker that took the first record of a batch and not the second."""

    def __init__(self, permanent: bool) -> None:
        self.permanent = permanent

    def publish(self, records: Sequence[Routed]) -> None:
        raise PublishError("Kafka did not take 1 of 2 record(s)", frozenset({0}), self.permanent)


def test_a_broker_outage_is_503_and_says_which_items_were_published() -> None:
    async def call(client: TestClient[Any, Any]) -> None:
        resp = await client.post("/events", json=[confirmed("A"), confirmed("B")])
        assert (resp.status, resp.headers["Retry-After"]) == (503, "5")
        answer = await resp.json()
        assert (answer["published"], answer["reason"]) == ([0], "unavailable")

    run(call, PartialSink(permanent=False))


def test_records_the_broker_refuses_for_good_are_422_not_503() -> None:
    async def call(client: TestClient[Any, Any]) -> None:
        resp = await client.post("/events", json=[confirmed("A"), confirmed("B")])
        assert resp.status == 422
        assert "Retry-After" not in resp.headers
        answer = await resp.json()
        assert (answer["published"], answer["reason"]) == ([0], "refused_by_kafka")

    run(call, PartialSink(permanent=True))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("::", False),
        ("erp-gw.example", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_webhook_refuses_to_listen_beyond_loopback_without_a_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from contract.settings import get_settings

    monkeypatch.delenv("ORDERHUB_WEBHOOK_TOKEN", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(connect, ["webhook", "--host", "0.0.0.0"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0 without ORDERHUB_WEBHOOK_TOKEN" in result.output
