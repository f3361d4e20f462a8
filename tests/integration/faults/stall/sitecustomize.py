"""Fault injection for a worker subprocess: put this folder on its PYTHONPATH.

The 20th message Faust's producer buffer hands to the Kafka client (a table's changelog
write) stalls for 20 s, as a slow or briefly unreachable broker would. Faust's flush
before an offset commit gives up after 0.1 s per message, so its commits then pass
events whose table writes are still in the buffer: a SIGKILL in that moment loses those
writes for good, unless the worker waits for its table writes itself
(``streams.worker.durable``). Test-only; nothing in the product imports it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.transport import producer

STALL_AT = 20
STALL_SECONDS = 20.0

_handed_over = 0
_send_pending = producer.ProducerBuffer._send_pending


async def _stalling_send_pending(self: Any, fut: Any) -> None:
    global _handed_over
    _handed_over += 1
    if _handed_over == STALL_AT:
        await asyncio.sleep(STALL_SECONDS)
    await _send_pending(self, fut)


producer.ProducerBuffer._send_pending = _stalling_send_pending
