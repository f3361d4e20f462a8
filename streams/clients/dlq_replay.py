"""``orderhub dlq replay``: dead letters back to their input topic, once their cause is fixed.

A dead letter keeps its record's original bytes, where it came from and why it was refused
(``streams.core.ingest.DeadLetter``). Replay sends those bytes again, through ingest, so a
record that is still bad is dead-lettered again (nothing lost) and a good one reaches the
tables.

Idempotence. Each dead letter has a replay id: a hash of its reason and its record's
SHA-256. Once a record is sent, a marker keyed by that id goes to the compacted topic
``<prefix>.dead-letter-replays``; replay skips every id it finds there. Why these choices:

* the id is the record's content and reason, not the letter's position, so the same record
  dead-lettered twice (a crash made ingest judge it again) is sent once, and a replayed
  record that is still bad for the same reason comes back with the same id: the next
  replay skips it instead of looping. Bad for another reason (a cause half fixed), it may
  be replayed once more;
* a marker topic of its own, compacted: one record per replayed id, kept for ever, read by
  any machine; the dead letters themselves stay as they were (an audit trail);
* markers are written after the broker acknowledged the records. A crash between the two
  sends a record again on the next run; ingest and the tables already take a repeated
  event once (its ``event_id``; for counts and limits the latest event time), which
  ``tests/integration/test_alert_views.py`` checks.

Where a letter goes: a record that is an event goes to its family's input topic (the
topic it came from; for ``wrong_topic``, the right one); anything else back to the input
topic it came from, or, from a file or the webhook, to the orders topic, where ingest
dead-letters it again. ``rule_error`` letters are not sent: their event reached the
tables, only a rule failed on it, and a repeat of it would be dropped as one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from kafka import KafkaProducer
from kafka.errors import KafkaError
from pydantic import ValidationError

from contract.settings import Settings
from contract.topics import Topics, topic_family
from streams.clients.kafka_io import client_config, create_topics, read_batches, route_line
from streams.core.ingest import DeadLetter
from streams.exceptions import StreamsError

REPLAY_HEADER = "orderhub-replay-of"

Outcome = Literal[
    "sent",  # on its input topic now
    "would send",  # --dry-run
    "already replayed",  # a marker says it was sent before
    "repeated",  # the same record and reason earlier in this selection
    "not needed",  # rule_error: the event reached the tables
    "truncated",  # only the first bytes were kept: it cannot be sent
    "failed",  # the broker refused it
]
FAILED: frozenset[Outcome] = frozenset({"truncated", "failed"})


@dataclass(frozen=True)
class Planned:
    """One dead letter and what replay does, or did, with it."""

    offset: int  # on the dead-letter topic
    letter: DeadLetter
    replay_id: str
    outcome: Outcome
    target: str | None = None
    key: bytes | None = None
    sent_offset: int | None = None  # on ``target``, once sent

    def row(self) -> dict[str, Any]:
        """The report's row: what a person or a script needs to find the records again."""
        return {
            "dead_letter_offset": self.offset,
            "reason": self.letter.reason,
            "source": f"{self.letter.topic}[{self.letter.partition}]@{self.letter.offset}",
            "outcome": self.outcome,
            "sent_to": self.target,
            "sent_offset": self.sent_offset,
            "replay_id": self.replay_id,
        }


def replay_id(letter: DeadLetter) -> str:
    """The letter's replay id: its reason and its whole record's SHA-256 (see the module
    docstring for why not its position)."""
    digest = letter.sha256 or hashlib.sha256(letter.value).hexdigest()
    return hashlib.sha256(f"{letter.reason}\n{digest}".encode()).hexdigest()[:32]


def target_of(letter: DeadLetter, topics: Topics) -> tuple[str, bytes | None]:
    """The topic a letter's record goes back to, and its key (the module docstring)."""
    source = letter.topic
    ours = topic_family(source) is not None and source in topics.inputs.values()
    routed = route_line(letter.value, topics, source if ours else topics.family("orders"))
    return routed.topic, routed.key


def plan(
    letters: Iterable[tuple[int, DeadLetter]],
    replayed: set[str],
    topics: Topics,
    dry_run: bool,
) -> list[Planned]:
    """What to do with each selected ``(offset, letter)``, given the ids ``replayed`` before."""
    seen: set[str] = set()
    planned = []
    for offset, letter in letters:
        rid = replay_id(letter)
        outcome: Outcome = "would send" if dry_run else "sent"
        if rid in replayed:
            outcome = "already replayed"
        elif rid in seen:
            outcome = "repeated"
        elif letter.reason == "rule_error":
            outcome = "not needed"
        elif letter.truncated:
            outcome = "truncated"
        seen.add(rid)
        target, key = (
            target_of(letter, topics) if outcome in ("sent", "would send") else (None, None)
        )
        planned.append(Planned(offset, letter, rid, outcome, target, key))
    return planned


# --- Kafka --------------------------------------------------------------------------------


def marker_topic(topics: Topics) -> str:
    return topics.dead_letter_replays


def read_replayed(settings: Settings, bootstrap: str, topics: Topics) -> set[str]:
    """The ids the marker topic says were sent (a null value would withdraw one)."""
    found: set[str] = set()
    for batch in read_batches(settings, bootstrap, marker_topic(topics), 0):
        for record in batch:
            key = record.key.decode("utf-8", "replace") if record.key else ""
            (found.add if record.value is not None else found.discard)(key)
    return found


def read_letters(
    settings: Settings, bootstrap: str, topics: Topics
) -> tuple[list[tuple[int, DeadLetter, datetime]], int]:
    """Every dead letter now on the topic: (offset, letter, when dead-lettered); and how
    many records there are not dead letters (kept, not replayed)."""
    letters, foreign = [], 0
    for batch in read_batches(settings, bootstrap, topics.dead_letter, 0):
        for record in batch:
            try:
                letter = DeadLetter.model_validate_json(record.value or b"")
            except ValidationError:
                foreign += 1
                continue
            when = datetime.fromtimestamp(record.timestamp / 1000, UTC)
            letters.append((int(record.offset), letter, when))
    return letters, foreign


def send(
    settings: Settings, bootstrap: str, topics: Topics, planned: list[Planned]
) -> list[Planned]:
    """Send the records planned ``sent``, then a marker for each one the broker took.
    Returns the plan with offsets filled in (``failed`` where the broker refused)."""
    create_topics(settings, bootstrap)  # the marker topic, for a worker older than it
    try:
        producer = KafkaProducer(**client_config(settings, bootstrap), acks="all", linger_ms=5)
        try:
            done = _send_records(producer, planned)
            for p in done:
                if p.sent_offset is not None:
                    producer.send(marker_topic(topics), key=p.replay_id.encode(), value=_marker(p))
            producer.flush()
        finally:
            producer.close()
    except KafkaError as exc:
        raise StreamsError(f"cannot replay dead letters to {bootstrap}: {exc}") from exc
    return done


def _send_records(producer: KafkaProducer, planned: list[Planned]) -> list[Planned]:
    """The planned records on their topics, each with the offset the broker gave it."""
    futures = {
        i: producer.send(
            p.target or "",
            key=p.key,
            value=p.letter.value,
            headers=[(REPLAY_HEADER, p.replay_id.encode())],
        )
        for i, p in enumerate(planned)
        if p.outcome == "sent"
    }
    producer.flush()
    done = list(planned)
    for i, future in futures.items():
        try:
            metadata = future.get(timeout=30)
        except KafkaError as exc:  # refused: reported as failed, no marker, sent next time
            done[i] = replace(planned[i], outcome="failed", target=f"{planned[i].target}: {exc}")
        else:
            done[i] = replace(planned[i], sent_offset=int(metadata.offset))
    return done


def _marker(p: Planned) -> bytes:
    doc = {**p.row(), "replayed_at": datetime.now(UTC).isoformat()}
    return json.dumps(doc, sort_keys=True).encode("utf-8")
