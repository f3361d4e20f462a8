"""Fault injection for a worker subprocess: put this folder on its PYTHONPATH.

While the file named by ``ORDERHUB_FAULT_HOLD`` exists, every message Faust's producer
buffer hands to the Kafka client waits, as a broker that accepts connections but takes
no writes would: ingest cannot forward and the state agent cannot finish an event, so the
partitions with records waiting stall. Removing the file lets everything through.
Test-only; nothing in the product imports it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from faust.transport import producer

HOLD = Path(os.environ.get("ORDERHUB_FAULT_HOLD", "/nonexistent/orderhub-hold"))

_send_pending = producer.ProducerBuffer._send_pending


async def _held_send_pending(self: Any, fut: Any) -> None:
    while HOLD.exists():
        await asyncio.sleep(0.1)
    await _send_pending(self, fut)


producer.ProducerBuffer._send_pending = _held_send_pending
