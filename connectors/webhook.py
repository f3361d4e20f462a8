"""An HTTP webhook for systems that cannot speak Kafka: ``POST /events``, ``GET /healthz``.

The body is one JSON event, a JSON array of events (``application/json``) or one event per
line (``application/x-ndjson``). Each item is validated exactly as the worker validates a
Kafka record (``streams.core.ingest.decode``); a valid one goes to its family's input topic
keyed like ``orderhub produce`` keys it, a rejected one to the dead-letter topic.

``GET /metrics``: ``orderhub_webhook_requests_total{status}`` (answers by HTTP status) and
``orderhub_webhook_items_total{outcome}`` (items published or rejected), for Prometheus.

The answer names every item: ``{"accepted": n, "published": [indexes], "rejected":
[{index, reason, error}]}``. 202 when every item was published; when some were rejected
(and dead-lettered) 413 if one was too large, else 409 if one reused an event id with other
content, else 422: a client error, as retrying the same items cannot help. 503 (with
``Retry-After``) only when the broker did not acknowledge; ``published`` then says which
items did go out (event ids make a retry of the whole request harmless).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, generate_latest

from connectors.base import Routed, Sink, letter_routed
from connectors.exceptions import PublishError
from contract.events import Event
from contract.topics import Topics
from streams.clients.kafka_io import route_line
from streams.core.ingest import DeadLetter, Unreadable, dead_letter, decode, encode, read_json

log = logging.getLogger(__name__)

ORIGIN = "webhook"  # the ``topic`` its dead letters name as where they came from
TOKEN_HEADER = "X-OrderHub-Token"
JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})
MAX_BODY_BYTES = 8 * 1024 * 1024
RETRY_AFTER_SECONDS = 5
# Event ids remembered with their content's hash, to answer 409 to a reused id.
REMEMBERED_IDS = 100_000
ID_REUSED = "id_reused"


class BadBody(ValueError):
    """The request body as a whole is unusable (not JSON, wrong content type)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class SeenIds:
    """The content hash of the last ``size`` event ids published through this webhook.

    A sender that reuses an id for other content would have it silently ignored by the
    worker (it de-duplicates by id); here it is told (409). Memory only: a restart forgets.
    """

    def __init__(self, size: int = REMEMBERED_IDS) -> None:
        self.size = size
        self._digests: OrderedDict[str, str] = OrderedDict()

    def conflict(self, event: Event, digest: str) -> bool:
        known = self._digests.get(event.event_id)
        return known is not None and known != digest

    def remember(self, event_id: str, digest: str) -> None:
        self._digests[event_id] = digest
        self._digests.move_to_end(event_id)
        while len(self._digests) > self.size:
            self._digests.popitem(last=False)


@dataclass
class Outcome:
    """The records one request publishes (record i is item i), and the answer."""

    records: list[Routed] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # Item index -> (event id, content hash) of each valid event, remembered once published.
    ids: dict[int, tuple[str, str]] = field(default_factory=dict)

    def answer(self, published: Sequence[int]) -> dict[str, Any]:
        return {"accepted": len(self.ids), "published": list(published), "rejected": self.rejected}

    def status(self) -> int:
        reasons = {r["reason"] for r in self.rejected}
        if "too_large" in reasons:
            return 413
        if ID_REUSED in reasons:
            return 409
        return 422 if reasons else 202


def _item_bytes(item: Any) -> bytes:
    """One array item as JSON bytes; a lone surrogate ("\\ud800") stays an escape, so
    the item is rejected by validation rather than crashing the encoder."""
    try:
        return json.dumps(item, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(item).encode("ascii")


def split_body(body: bytes, content_type: str) -> list[bytes]:
    """The request's items, each as the bytes of one JSON value (not yet validated).

    An array's items are re-serialised one by one, so a rejected item's dead letter holds
    that item alone; an ndjson line and a single object are kept byte for byte.
    """
    if content_type in NDJSON_TYPES:
        return [line.rstrip(b"\r") for line in body.split(b"\n") if line.strip()]
    if content_type not in JSON_TYPES and not content_type.endswith("+json"):
        accepted = ", ".join(sorted(JSON_TYPES | NDJSON_TYPES))
        raise BadBody(415, "unsupported_media_type", f"Content-Type must be one of {accepted}")
    data = read_json(body)
    if isinstance(data, Unreadable):
        raise BadBody(400, data.reason, f"the body is not valid JSON: {data.error}")
    if isinstance(data, list):
        return [_item_bytes(item) for item in data]
    return [body]


def handle_items(items: Sequence[bytes], topics: Topics, seen: SeenIds | None = None) -> Outcome:
    """Validate every item; route the good ones to their topic, the bad ones to dead letters."""
    outcome = Outcome()
    seen = seen if seen is not None else SeenIds()
    for index, raw in enumerate(items):
        result = decode(raw, ORIGIN, 0, index)
        if not isinstance(result, DeadLetter):
            digest = hashlib.sha256(encode(result)).hexdigest()
            if seen.conflict(result, digest):
                result = dead_letter(
                    ID_REUSED,
                    f"event id {result.event_id!r} was published before with other content; "
                    "a changed event needs a new id",
                    raw,
                    ORIGIN,
                    0,
                    index,
                )
        if isinstance(result, DeadLetter):
            outcome.records.append(letter_routed(result, topics))
            outcome.rejected.append(
                {"index": index, "reason": result.reason, "error": result.error}
            )
            continue
        # Valid, so route_line finds the family and key; the bytes go on as they came.
        outcome.records.append(route_line(raw, topics, topics.dead_letter))
        outcome.ids[index] = (result.event_id, digest)
    return outcome


def authorized(request: web.Request, token: str | None) -> bool:
    """The shared secret in ``X-OrderHub-Token`` or ``Authorization: Bearer``, if one is set."""
    if token is None:
        return True
    given = request.headers.get(TOKEN_HEADER)
    bearer = request.headers.get("Authorization", "")
    if given is None and bearer.lower().startswith("bearer "):
        given = bearer[7:].strip()
    if given is None:
        return False
    # compare_digest: the time taken must not tell how much of a guess was right. Bytes,
    # as it refuses non-ASCII str; surrogatepass: any header text encodes.
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass")
    )


def _error(status: int, reason: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message, "reason": reason}, status=status, headers=headers)


class WebhookMetrics:
    """The webhook's counters, in a registry of its own (one per application)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "orderhub_webhook_requests",
            "Requests to POST /events, by the HTTP status answered.",
            ["status"],
            registry=self.registry,
        )
        self.items = Counter(
            "orderhub_webhook_items",
            "Items of POST /events: published, or rejected (and dead-lettered).",
            ["outcome"],
            registry=self.registry,
        )


SINK: web.AppKey[Sink] = web.AppKey("sink")
METRICS: web.AppKey[WebhookMetrics] = web.AppKey("metrics")
TOPICS: web.AppKey[Topics] = web.AppKey("topics")
TOKEN: web.AppKey[str | None] = web.AppKey("token")
SEEN: web.AppKey[SeenIds] = web.AppKey("seen")
MAX_BODY: web.AppKey[int] = web.AppKey("max_body")


async def _publish(request: web.Request, records: list[Routed]) -> PublishError | None:
    """None when the broker has every record, else what it did not take."""
    try:
        await asyncio.to_thread(request.app[SINK].publish, records)
    except PublishError as exc:
        log.error("webhook: %s", exc)
        return exc
    return None


def _not_published(outcome: Outcome, exc: PublishError) -> web.Response:
    """A broker that did not take everything: which items went out, and whether to retry."""
    body = {
        **outcome.answer(sorted(i for i in outcome.ids if i in exc.acked)),
        "error": str(exc),
    }
    if exc.permanent:  # the broker refuses these records themselves: a retry cannot help
        return web.json_response({**body, "reason": "refused_by_kafka"}, status=422)
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return web.json_response({**body, "reason": "unavailable"}, status=503, headers=retry)


async def post_events(request: web.Request) -> web.Response:
    """``answer_events``, counted by status and items."""
    response = await answer_events(request)
    metrics = request.app[METRICS]
    metrics.requests.labels(status=str(response.status)).inc()
    # Every answer about items names them, a 503 too (the items that did go out).
    answer = json.loads(bytes(response.body)) if isinstance(response.body, bytes) else {}
    metrics.items.labels(outcome="published").inc(len(answer.get("published", [])))
    metrics.items.labels(outcome="rejected").inc(len(answer.get("rejected", [])))
    return response


async def answer_events(request: web.Request) -> web.Response:
    if not authorized(request, request.app[TOKEN]):
        return _error(401, "unauthorized", f"missing or wrong {TOKEN_HEADER}")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[MAX_BODY]
        return _error(413, "too_large", f"the body is over {limit} bytes; send smaller batches")
    topics = request.app[TOPICS]
    try:
        items = split_body(body, request.content_type)
    except BadBody as exc:
        if exc.status == 400:  # kept, like any record the hub could not use
            letter = dead_letter(exc.reason, str(exc), body, ORIGIN, 0, 0)
            if (failed := await _publish(request, [letter_routed(letter, topics)])) is not None:
                return _not_published(Outcome(), failed)
        return _error(exc.status, exc.reason, str(exc))
    outcome = handle_items(items, topics, request.app[SEEN])
    if (failed := await _publish(request, outcome.records)) is not None:
        return _not_published(outcome, failed)
    for event_id, digest in outcome.ids.values():
        request.app[SEEN].remember(event_id, digest)
    return web.json_response(outcome.answer(sorted(outcome.ids)), status=outcome.status())


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})


# Prometheus' text format; aiohttp refuses a charset in its content_type argument.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def create_app(
    sink: Sink, topics: Topics, token: str | None = None, max_body: int = MAX_BODY_BYTES
) -> web.Application:
    """The webhook's aiohttp application; the caller owns ``sink`` (and closes it)."""
    app = web.Application(client_max_size=max_body)
    app[SINK] = sink
    app[TOPICS] = topics
    app[TOKEN] = token
    app[SEEN] = SeenIds()
    app[MAX_BODY] = max_body
    app[METRICS] = WebhookMetrics()
    app.router.add_post("/events", post_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: it may resolve to anything
        return False
