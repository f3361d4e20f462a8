"""One active worker per app; every other worker of the group is a hot standby.

Faust spreads partitions over the workers of a group: a second worker took one partition
of each input topic. But ingest merges its input partitions into event-time order
(``streams.worker.merge``) only among the partitions one worker holds; two workers forwarding
their own merges interleave on the events topic in no order at all, and the rules judged
a different sequence than replay (hundreds of cap alerts with other values). The tables
are one partition anyway, so a second worker could add no throughput, only CPU.

So the assignment Faust computes is changed before it is sent: the worker that holds the
tables (their changelog partitions, with the events partition co-partitioned) gets every
active partition, and each other worker gets a standby copy of every changelog partition,
which it keeps up to date and takes over from when the active worker leaves or dies.
Faust's assignor is sticky, so a worker joining never takes the tables from the active one.

``one_active`` is pure (plain dicts); ``OneActiveAssignor`` plugs it into Faust.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, MutableMapping
from typing import Any, Protocol

from faust.assignor import PartitionAssignor


class Assignment(Protocol):
    """One worker's share, as Faust's ``ClientAssignment``: topic -> partitions."""

    actives: MutableMapping[str, list[int]]
    standbys: MutableMapping[str, list[int]]


def holder(assignments: Mapping[str, Assignment], changelogs: Collection[str]) -> str:
    """The worker that keeps the active tables: the one Faust gave a changelog partition
    to (sticky: the active worker before), else the first by member id."""
    for member in sorted(assignments):
        if any(assignments[member].actives.get(topic) for topic in changelogs):
            return member
    return min(assignments)


def one_active(assignments: Mapping[str, Assignment], changelogs: Mapping[str, int]) -> str:
    """Move every active partition to ``holder``; give every other worker a standby copy
    of each changelog (topic -> partition count). Returns the holder."""
    chosen = holder(assignments, changelogs)
    actives = assignments[chosen].actives
    for member, share in assignments.items():
        if member == chosen:
            continue
        for topic, partitions in share.actives.items():
            actives[topic] = sorted({*actives.get(topic, []), *partitions})
        share.actives.clear()
        share.standbys.clear()
        share.standbys.update({t: list(range(n)) for t, n in sorted(changelogs.items())})
    assignments[chosen].standbys.clear()
    return chosen


class OneActiveAssignor(PartitionAssignor):
    """Faust's assignor, then ``one_active`` (the app's ``PartitionAssignor`` setting)."""

    def _global_table_standby_assignments(
        self, assignments: Any, partitions_by_topic: Mapping[str, int]
    ) -> Any:
        # Faust calls this once the per-group assignment is done, before encoding it.
        changelogs = {
            topic: partitions_by_topic[topic]
            for topic in self._table_manager.changelog_topics
            if topic in partitions_by_topic
        }
        one_active(assignments, changelogs)
        return super()._global_table_standby_assignments(assignments, partitions_by_topic)
