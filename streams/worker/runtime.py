"""What the agents, the timer and the web views of one worker share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from contract.topics import Topics
from streams.core.hooks import RuleHook
from streams.worker.clock import WatermarkClock
from streams.worker.durable import ChangelogWrites
from streams.worker.health import HealthConfig
from streams.worker.merge import WINDOW_SECONDS
from streams.worker.metrics import WorkerMetrics


@dataclass
class Progress:
    """Per topic-partition, the offset after the last record the worker fully handled.

    "Fully handled" means forwarded and acknowledged by the broker (ingest), or applied to
    the tables with its alerts sent (state). ``orderhub tables show --wait`` and the tests
    compare it with the topics' end offsets to know the worker has caught up.

    Ingest finishes records out of offset order: one waits in the event-time merge while a
    later one of the same partition, a dead letter, is done at once. A record ``hold`` was
    told of keeps the position at its offset until it is done, so a partition never looks
    handled past a record still held.
    """

    positions: dict[str, dict[int, int]] = field(default_factory=dict)
    _done: dict[tuple[str, int], int] = field(default_factory=dict)
    _held: dict[tuple[str, int], set[int]] = field(default_factory=dict)

    def hold(self, topic: str, partition: int, offset: int) -> None:
        """The record is taken but not yet done (held in the merge)."""
        self._held.setdefault((topic, partition), set()).add(offset)
        self._update(topic, partition)

    def done(self, topic: str, partition: int, offset: int) -> None:
        tp = (topic, partition)
        self._held.get(tp, set()).discard(offset)
        self._done[tp] = max(self._done.get(tp, 0), offset + 1)
        self._update(topic, partition)

    def forget(self, topic: str, partition: int) -> None:
        """Lose the partition's position (after a rebalance its lag is measured from the
        group's committed offset again)."""
        self.positions.get(topic, {}).pop(partition, None)
        self._done.pop((topic, partition), None)
        self._held.pop((topic, partition), None)

    def _update(self, topic: str, partition: int) -> None:
        tp = (topic, partition)
        held = self._held.get(tp)
        done = self._done.get(tp)
        if held:
            position = min(held)
        elif done is not None:
            position = done
        else:
            return
        self.positions.setdefault(topic, {})[partition] = position


@dataclass
class Runtime:
    """One worker's topics, Faust tables (by ``streams.core.state.TABLE_NAMES``), rule hook,
    the event-time clock its tick timer reads and the tables' unacknowledged writes."""

    topics: Topics
    tables: Mapping[str, Any]
    hook: RuleHook
    # The state agent's commit journal (streams.core.journal): a table of its own.
    journal: Any = None
    progress: Progress = field(default_factory=Progress)
    clock: WatermarkClock = field(default_factory=WatermarkClock)
    # The tables' changelog sends not yet acknowledged (streams.worker.durable).
    writes: ChangelogWrites = field(default_factory=ChangelogWrites)
    # Kafka connection options for reading records Faust skipped (streams.worker.gaps).
    kafka_client: dict[str, Any] = field(default_factory=dict)
    # Seconds ingest holds a record for a silent input partition (streams.worker.merge).
    reorder_window: float = WINDOW_SECONDS
    # How long a closed order stays in the tables, in event time (streams.core.retention).
    retention: timedelta = timedelta(days=7)
    # The assessment ledger (streams.worker.ledger); None: not kept (tests of other parts).
    ledger: Any = None
    # The first day whose daily shipping plan lines stay, at an event time (retention).
    keep_plans_from: Any = None
    # How the worker judges its own health (streams.worker.health).
    health: HealthConfig = field(default_factory=HealthConfig)
    # What /metrics serves (streams.worker.metrics).
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)
