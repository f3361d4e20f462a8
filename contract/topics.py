"""Topic names, their layout, and how a record is keyed. Pure: no Kafka client here.

Input topics (one per event family) carry what ERP and warehouse systems publish; they have
``settings.topic_partitions`` partitions and are keyed by the business key (order id, model
or region) so one order's events stay in order on one partition.

``<prefix>.events`` holds the validated, canonical events and has exactly ONE partition on
purpose:

* cross-key rules (a region's cap sums many orders and models) need one ordered view of
  all events, not one view per partition;
* ``streams.core.state.apply_event`` uses the record's offset on this topic as the sequence
  number that makes a redelivered event harmless, so the offsets must form one sequence.

One partition is also the throughput ceiling of the state agent; that is the price of the
two points above, and ample for order volumes (thousands per day, not per second).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FAMILIES: tuple[str, ...] = ("orders", "inventory", "shipments", "plans", "corrections")
EVENTS = "events"
ALERTS = "alerts"
DEAD_LETTER = "dead-letter"
RULESETS = "rulesets"
ASSESSMENT = "assessment"
DEAD_LETTER_REPLAYS = "dead-letter-replays"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: tuple[tuple[str, str], ...] = ()  # topic configs (name, value), e.g. compaction


@dataclass(frozen=True)
class Topics:
    """The topic names of one deployment (one ``topic_prefix``)."""

    prefix: str

    def family(self, family: str) -> str:
        """Name of the input topic of an event family ("orders", "inventory", ...)."""
        if family not in FAMILIES:
            raise ValueError(f"unknown event family {family!r}; known: {', '.join(FAMILIES)}")
        return f"{self.prefix}.{family}"

    @property
    def inputs(self) -> dict[str, str]:
        """Family -> input topic name."""
        return {family: self.family(family) for family in FAMILIES}

    @property
    def events(self) -> str:
        return f"{self.prefix}.{EVENTS}"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}.{ALERTS}"

    @property
    def dead_letter(self) -> str:
        return f"{self.prefix}.{DEAD_LETTER}"

    @property
    def rulesets(self) -> str:
        """The last good text of each rule and calendar file, keyed by file name."""
        return f"{self.prefix}.{RULESETS}"

    @property
    def assessment(self) -> str:
        """The assessment ledger: each entry (and its void) keyed by entry id, compacted."""
        return f"{self.prefix}.{ASSESSMENT}"

    @property
    def dead_letter_replays(self) -> str:
        """A marker per dead letter ``orderhub dlq replay`` sent back, keyed by its replay
        id (``streams.clients.dlq_replay``), so none is sent twice."""
        return f"{self.prefix}.{DEAD_LETTER_REPLAYS}"

    def specs(self, input_partitions: int) -> list[TopicSpec]:
        """Every topic the worker needs, with its partition count."""
        inputs = [TopicSpec(name, input_partitions) for name in self.inputs.values()]
        # events: one partition, see the module docstring. alerts and dead letters are
        # low-volume and read by people and monitoring: one partition keeps them in order.
        single = [TopicSpec(n, 1) for n in (self.events, self.alerts, self.dead_letter)]
        # rulesets: only the latest text per file matters, so compaction keeps it forever.
        compact = (("cleanup.policy", "compact"),)
        rulesets = TopicSpec(self.rulesets, 1, compact)
        # assessment: an entry's latest version (voided or not) is what the ledger says.
        assessment = TopicSpec(self.assessment, 1, compact)
        # replay markers: one per id, kept for ever (a replayed letter is never sent again).
        replays = TopicSpec(self.dead_letter_replays, 1, compact)
        return [*inputs, *single, rulesets, assessment, replays]


def topic_family(topic: str) -> str | None:
    """The event family an input topic carries ("orders", ...); None for any other topic.

    The family is the name's last dotted part, whatever the prefix.
    """
    suffix = topic.rsplit(".", 1)[-1]
    return suffix if suffix in FAMILIES else None


# Plans are a region's (the regional demand plan form); stock and limits belong to a model;
# a correction is keyed by the ledger entry it corrects.
_KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "plans": ("region", "model"),
    "corrections": ("entry_id",),
}
_DEFAULT_KEY_FIELDS = ("order_id", "model", "region")


def routing_key(record: Mapping[str, Any], family: str | None) -> str | None:
    """The key a record is published under: its order id, model or region, as fits.

    Works on raw dicts as well as on dumped events, because the producer keys records
    it has not validated (the worker dead-letters those, it never drops them).
    """
    for field in _KEY_FIELDS.get(family or "", _DEFAULT_KEY_FIELDS):
        value = record.get(field)
        if isinstance(value, str) and value:
            return value
    return None
