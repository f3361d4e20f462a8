"""An HTTP webhook for systems that cannot speak Kafka: ``POST /events``, ``GET /healthz``.

The body is one JSON event, a JSON array of events (``application/json``) or one event per
line (``application/x-ndjson``). Each item is validated exactly as the worker validates a
Kafka record (``streams.ingest.decode``); a valid one goes to its family's input topic
keyed like ``orderhub produce`` keys it, a rejected one to the dead-letter topic. The answer
is 202 with one result per request: ``{"accepted": n, "rejected": [{index, reason, error}]}``.

202 is only sent once the broker acknowledged every record; if it did not, the answer is
503 and the sender should retry the whole request (event ids make a retry harmless).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from connectors.base import Routed, Sink, letter_routed
from connectors.exceptions import PublishError
from streams.ingest import DeadLetter, dead_letter, decode
from streams.kafka_io import route_line
from streams.topics import Topics

log = logging.getLogger(__name__)

ORIGIN = "webhook"  # the ``topic`` its dead letters name as where they came from
TOKEN_HEADER = "X-OrderHub-Token"
JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})
MAX_BODY_BYTES = 8 * 1024 * 1024
RETRY_AFTER_SECONDS = 5


class BadBody(ValueError):
    """The request body as a whole is unusable (not JSON, wrong content type)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass
class Outcome:
    """The records one request publishes, and the answer it gets once they are published."""

    records: list[Routed] = field(default_factory=list)
    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected}


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
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadBody(400, "not_json", f"the body is not valid JSON: {exc}") from exc
    if isinstance(data, list):
        return [json.dumps(item, ensure_ascii=False).encode("utf-8") for item in data]
    return [body]


def handle_items(items: Sequence[bytes], topics: Topics) -> Outcome:
    """Validate every item; route the good ones to their topic, the bad ones to dead letters."""
    outcome = Outcome()
    for index, raw in enumerate(items):
        result = decode(raw, ORIGIN, 0, index)
        if isinstance(result, DeadLetter):
            outcome.records.append(letter_routed(result, topics))
            outcome.rejected.append(
                {"index": index, "reason": result.reason, "error": result.error}
            )
            continue
        # Valid, so route_line finds the family and key; the bytes go on as they came.
        outcome.records.append(route_line(raw, topics, topics.dead_letter))
        outcome.accepted += 1
    return outcome


def authorized(request: web.Request, token: str | None) -> bool:
    """The shared secret in ``X-OrderHub-Token`` or ``Authorization: Bearer``, if one is set."""
    if token is None:
        return True
    given = request.headers.get(TOKEN_HEADER)
    bearer = request.headers.get("Authorization", "")
    if given is None and bearer.lower().startswith("bearer "):
        given = bearer[7:].strip()
    # compare_digest: the time taken must not tell how much of a guess was right.
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def _error(status: int, reason: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message, "reason": reason}, status=status, headers=headers)


SINK: web.AppKey[Sink] = web.AppKey("sink")
TOPICS: web.AppKey[Topics] = web.AppKey("topics")
TOKEN: web.AppKey[str | None] = web.AppKey("token")


async def _publish(request: web.Request, records: list[Routed]) -> web.Response | None:
    """None when the broker has every record, else the 503 to answer."""
    try:
        await asyncio.to_thread(request.app[SINK].publish, records)
    except PublishError as exc:
        log.error("webhook: %s", exc)
        return _error(
            503, "unavailable", f"{exc}; retry", **{"Retry-After": str(RETRY_AFTER_SECONDS)}
        )
    return None


async def post_events(request: web.Request) -> web.Response:
    if not authorized(request, request.app[TOKEN]):
        return _error(401, "unauthorized", f"missing or wrong {TOKEN_HEADER}")
    body = await request.read()
    topics = request.app[TOPICS]
    try:
        items = split_body(body, request.content_type)
    except BadBody as exc:
        if exc.reason == "not_json":  # kept, like any record the hub could not use
            letter = dead_letter("not_json", str(exc), body, ORIGIN, 0, 0)
            if (failed := await _publish(request, [letter_routed(letter, topics)])) is not None:
                return failed
        return _error(exc.status, exc.reason, str(exc))
    outcome = handle_items(items, topics)
    if (failed := await _publish(request, outcome.records)) is not None:
        return failed
    return web.json_response(outcome.answer(), status=202)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(
    sink: Sink, topics: Topics, token: str | None = None, max_body: int = MAX_BODY_BYTES
) -> web.Application:
    """The webhook's aiohttp application; the caller owns ``sink`` (and closes it)."""
    app = web.Application(client_max_size=max_body)
    app[SINK] = sink
    app[TOPICS] = topics
    app[TOKEN] = token
    app.router.add_post("/events", post_events)
    app.router.add_get("/healthz", healthz)
    return app
