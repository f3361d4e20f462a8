"""Fault injection for a worker subprocess: put this folder on its PYTHONPATH.

Faust's consumer drops a few records without handing them to any agent, as it does after
a restart (streams.worker.gaps): events-topic offsets 0..1 and 40..42, orders-topic offsets 0
and 3..4 of partition 0, the first time each is fetched. The first ones test a skip
before the worker has seen any record of the partition. The worker must notice the gaps and read
those records from Kafka itself. Test-only; nothing in the product imports it.
"""

from __future__ import annotations

from typing import Any

from faust.transport import conductor

DROP = {
    "events": {(0, 0), (0, 1), (0, 40), (0, 41), (0, 42)},
    "orders": {(0, 0), (0, 3), (0, 4)},
}

_dropped: set[tuple[str, int, int]] = set()
_compile = conductor.Conductor._compile_message_handler


def _skip_some(self: Any) -> Any:
    deliver = _compile(self)

    async def on_message(message: Any) -> Any:
        family = message.topic.rsplit(".", 1)[-1]
        at = (message.topic, message.partition, message.offset)
        if (message.partition, message.offset) in DROP.get(family, ()) and at not in _dropped:
            _dropped.add(at)
            return None
        return await deliver(message)

    return on_message


conductor.Conductor._compile_message_handler = _skip_some
