"""The webhook's request handling, through aiohttp's test client and a fake sink."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from connectors.base import MemorySink, Routed
from connectors.exceptions import PublishError
from connectors.webhook import create_app
from contract.topics import Topics

TOPICS = Topics("t")


def confirmed(order_id: str, quantity: Any = 3) -> dict[str, Any]:
    return {
        "event_id": f"{order_id}-c",
        "type": "order.confirmed",
        "event_time": "2026-11-02T09:00:00+08:00",
        "source": "erp",
        "order_id": order_id,
        "region": "华北",
        "model": "X1",
        "quantity": quantity,
        "amount": "100.00",
    }


PLAN = {
    "event_id": "p1",
    "type": "plan.weekly",
    "event_time": "2026-10-30T15:00:00+08:00",
    "source": "erp",
    "region": "华北",
    "model": "X1",
    "week_start": "2026-11-02",
    "quantity": 120,
}


class BrokenSink:
    def publish(self, records: Sequence[Routed]) -> None:
        raise PublishError("Kafka did not take 1 record(s): timeout")


Call = Callable[[TestClient[Any, Any]], Awaitable[None]]


def run(call: Call, sink: Any = None, token: str | None = None) -> None:
    async def main() -> None:
        app = create_app(sink if sink is not None else MemorySink(), TOPICS, token)
        async with TestClient(TestServer(app)) as client:
            await call(client)

    asyncio.run(main())


def letters(sink: MemorySink) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in sink.records if r.topic == TOPICS.dead_letter]


def test_one_event_goes_to_its_family_topic_keyed_like_produce() -> None:
    sink = MemorySink()
    body = json.dumps(confirmed("A")).encode()

    async def call(client: TestClient[Any, Any]) -> None:
        resp = await client.post("/events", data=body, headers={"Content-Type": "application/json"})
        assert resp.status == 202
        assert await resp.json() == {"accepted": 1, "published": [0], "rejected": []}

    run(call, sink)
    assert sink.records == [Routed("t.orders", b"A", body)]


def test_an_array_is_validated_item_by_item_and_bad_ones_are_dead_lettered() -> None:
    sink = MemorySink()
    items = [confirmed("A"), confirmed("B", -1), PLAN, {"type": "order.teleported"}, [1]]

    async def call(client: TestClient[Any, Any]) -> None:
        resp = await client.post("/events", json=items)
        assert resp.status == 422  # some items rejected: resending them cannot help
        answer = await resp.json()
        assert (answer["accepted"], answer["published"]) == (2, [0, 2])
        assert [(r["index"], r["reason"]) for r in answer["rejected"]] == [
            (1, "invalid_value"),
            (3, "unknown_type"),
            (4, "not_object"),
        ]
        assert answer["rejected"][0]["error"].startswith("quantity: ")

    run(call, sink)
    good = [(r.topic, r.key) for r in sink.records if r.topic != TOPICS.dead_letter]
    assert good == [("t.orders", b"A"), ("t.plans", "华北".encode())]
    dead = letters(sink)
    assert [(d["reason"], d["topic"], d["offset"]) for d in dead] == [
        ("invalid_value", "webhook", 1),
        ("unknown_type", "webhook", 3),
        ("not_object", "webhook", 4),
    ]
    assert json.loads(base64.b64decode(dead[0]["value_base64"])) == confirmed("B", -1)


def test_ndjson_lines_keep_their_bytes_and_a_bad_line_is_its_own_rejection() -> None:
    sink = MemorySink()
    good = json.dumps(confirmed("A")).encode()
    body = good + b"\r\n\n{not json\n" + json.dumps(PLAN).encode() + b"\n"

    async def call(client: TestClient[Any, Any]) -> None:
        resp = await client.post(
            "/events", data=body, headers={"Content-Type": "application/x-ndjson"}
        )
        assert resp.status == 422
        answer = await resp.json()
        assert (answer["accepted"], answer["published"]) == (2, [0, 2])
        assert [(r["index"], r["reason"]) for r in answer["rejected"]] == [(1, "not_json")]

    run(call, sink)
    assert sink.records[0] == Routed("t.orders", b"A", good)
    [dead] = letters(sink)
    assert base64.b64decode(dead["value_base64"]) == b"{not json"


def test_a_body_that_is_not_json_is_400_and_still_dead_lettered() -> None:
    sink = MemorySink()

    async def call(client: TestClient[Any, Any]) -> None:
        resp = await client.post(
            "/events", data=b"<xml/>", headers={"Content-Type": "application/json"}
        )
        assert resp.status == 400
        assert (await resp.json())["reason"] == "not_json"

    run(call, sink)
    [dead] = letters(sink)
    assert (dead["reason"], base64.b64decode(dead["value_base64"])) == ("not_json", b"<xml/>")


def test_an_unsupported_content_type_is_415_and_publishes_nothing() -> None:
    sink = MemorySink()

    async def call(client: TestClient[Any, Any]) -> None:
        resp = await client.post("/events", data={"a": "b"})  # a form, as `curl -d` sends
        assert resp.status == 415

    run(call, sink)
    assert sink.records == []


def test_the_shared_secret_is_required_when_set() -> None:
    sink = MemorySink()
    body = json.dumps(confirmed("A"))

    async def call(client: TestClient[Any, Any]) -> None:
        headers = {"Content-Type": "application/json"}
        assert (await client.post("/events", data=body, headers=headers)).status == 401
        wrong = {**headers, "X-OrderHub-Token": "guess"}
        assert (await client.post("/events", data=body, headers=wrong)).status == 401
        right = {**headers, "X-OrderHub-Token": "s3cret"}
        assert (await client.post("/events", data=body, headers=right)).status == 202
        bearer = {**headers, "Authorization": "Bearer s3cret"}
        assert (await client.post("/events", data=body, headers=bearer)).status == 202
        assert (await client.get("/healthz")).status == 200  # probes need no secret

    run(call, sink, token="s3cret")
    assert len(sink.records) == 2


def test_a_broker_that_does_not_acknowledge_gives_503_so_the_sender_retries() -> None:
    async def call(client: TestClient[Any, Any]) -> None:
        resp = await client.post("/events", json=[confirmed("A")])
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "5"
        assert "timeout" in (await resp.json())["error"]

    run(call, BrokenSink())


def test_healthz() -> None:
    async def call(client: TestClient[Any, Any]) -> None:
        resp = await client.get("/healthz")
        assert (resp.status, await resp.json()) == (200, {"status": "ok"})

    run(call)


def scraped(text: str) -> dict[str, float]:
    """``name{labels} value`` lines of a /metrics answer (comments left out)."""
    pairs = (line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    return {name: float(value) for name, value in pairs}


def test_metrics_count_requests_by_status_and_items_by_outcome() -> None:
    items = [confirmed("A"), confirmed("B", -1), PLAN]

    async def call(client: TestClient[Any, Any]) -> None:
        assert (await client.post("/events", json=items)).status == 422
        assert (await client.post("/events", json=confirmed("C"))).status == 202
        assert (
            await client.post("/events", data=b"x", headers={"Content-Type": "a/b"})
        ).status == 415
        resp = await client.get("/metrics")
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        found = scraped(await resp.text())
        assert found['orderhub_webhook_requests_total{status="422"}'] == 1
        assert found['orderhub_webhook_requests_total{status="202"}'] == 1
        assert found['orderhub_webhook_requests_total{status="415"}'] == 1
        assert found['orderhub_webhook_items_total{outcome="published"}'] == 3
        assert found['orderhub_webhook_items_total{outcome="rejected"}'] == 1

    run(call)


def test_metrics_count_items_a_broker_outage_kept_out_as_not_published() -> None:
    async def call(client: TestClient[Any, Any]) -> None:
        assert (await client.post("/events", json=confirmed("A"))).status == 503
        found = scraped(await (await client.get("/metrics")).text())
        assert found['orderhub_webhook_requests_total{status="503"}'] == 1
        assert found['orderhub_webhook_items_total{outcome="published"}'] == 0

    run(call, BrokenSink())
