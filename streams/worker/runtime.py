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
    """

    positions: dict[str, dict[int, int]] = field(default_factory=dict)

    def done(self, topic: str, partition: int, offset: int) -> None:
        partitions = self.positions.setdefault(topic, {})
        partitions[partition] = max(partitions.get(partition, 0), offset + 1)


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
