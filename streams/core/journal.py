"""Exactly-once judging under at-least-once delivery: staged writes and a commit journal.

Pure: no Faust, no Kafka, no clock. ``streams.worker.judging`` runs it against the worker's tables.

Why. Kafka redelivers what the worker handled after its last offset commit (a crash, a
rebalance, a group rejoin after a broker outage). Applying an event twice is harmless
(``streams.core.state``), but *judging* it again is not: the rules would read tables that already
hold later events and raise alerts that never happened (a cap computed from tomorrow's
in-transit quantity). So every change the worker makes for one event (or one tick) is:

1. **staged**: ``apply_event`` and the rule engine write into ``Staging``'s overlays, which
   read through to the tables and keep writes aside;
2. **published**: the alerts are sent and acknowledged;
3. **journaled**: the staged writes, the journal number and the event's sequence number are
   written to the journal table, and acknowledged;
4. **committed**: the writes are applied to the tables (and acknowledged before the next
   commit, so the journal only ever needs the latest commit).

After a restart the tables are recovered from their changelogs and the latest journal
entry is applied once more (``replay_journal``), which completes a commit a crash cut
short; an event whose sequence number the journal has passed was judged and is skipped. A
crash before step 3 loses the staged writes, so the event is judged again on exactly the
tables it was judged on the first time: the same alerts again, which consumers
de-duplicate by content.

A commit may be large (a tick that fires many deadlines at once), so it is written as
parts no larger than ``PART_BYTES``, then a head naming their count; a head is written
only once its parts are acknowledged, so a head's parts are always complete (consecutive
commits use two sets of part keys, see ``part_key``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from streams.core.state import Entry, Table
from streams.exceptions import StreamsError

HEAD = "head"
PART_BYTES = 256 * 1024  # far below Kafka's default 1 MB record limit

Changes = dict[str, dict[str, Entry | None]]  # table -> key -> new value (None: deleted)


class Overlay(MutableMapping[str, Entry]):
    """One table seen through the changes staged for it: reads fall through to the table,
    writes and deletes stay here until ``Staging.commit``."""

    def __init__(self, base: Table) -> None:
        self.base = base
        self.changes: dict[str, Entry | None] = {}

    def get(self, key: str, default: Any = None) -> Any:
        if key in self.changes:
            value = self.changes[key]
            return default if value is None else value
        return self.base.get(key, default)

    def __getitem__(self, key: str) -> Entry:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __setitem__(self, key: str, value: Entry) -> None:
        self.changes[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self.changes[key] = None

    def __iter__(self) -> Iterator[str]:
        for key in list(self.base.keys()):
            if key not in self.changes:
                yield key
        for key, value in list(self.changes.items()):
            if value is not None:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Staging:
    """The tables as the worker's judging sees them: one ``Overlay`` per table."""

    def __init__(self, tables: Mapping[str, Table]) -> None:
        self.base = tables
        self.tables: dict[str, Overlay] = {}
        self.reset()

    def reset(self) -> None:
        """Drop every staged change. New overlay objects on purpose: the rule engine keys
        its in-memory indexes (the deadline heap) by table identity, so it rebuilds them
        instead of trusting entries made from changes that never happened."""
        self.tables = {name: Overlay(table) for name, table in self.base.items()}

    @property
    def dirty(self) -> bool:
        return any(o.changes for o in self.tables.values())

    def changes(self) -> Changes:
        return {name: dict(o.changes) for name, o in self.tables.items() if o.changes}

    def mark(self) -> Changes:
        """The staged changes now, to go back to with ``rollback``."""
        return self.changes()

    def rollback(self, mark: Changes) -> None:
        self.reset()
        for name, changes in mark.items():
            self.tables[name].changes.update(changes)

    def commit(self) -> None:
        """Apply the staged changes to the tables and start afresh (same overlays)."""
        apply_changes(self.base, self.changes())
        for overlay in self.tables.values():
            overlay.changes.clear()


def apply_changes(tables: Mapping[str, Table], changes: Changes) -> None:
    for name, entries in changes.items():
        table = tables[name]
        for key, value in entries.items():
            if value is not None:
                table[key] = value
            elif key in table:
                del table[key]


@dataclass(frozen=True)
class Head:
    """The latest commit: its number, the last event sequence judged, its parts."""

    number: int
    seq: int
    parts: int

    def to_json(self) -> dict[str, int]:
        return {"number": self.number, "seq": self.seq, "parts": self.parts}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Head:
        return cls(int(value["number"]), int(value["seq"]), int(value["parts"]))


def part_key(number: int, index: int) -> str:
    """Commits alternate between two sets of part keys: the parts of commit N+1 must not
    overwrite those of commit N before the head names N+1 (a crash in between would leave
    head N with N+1's parts)."""
    return f"part:{number % 2}:{index}"


def journal_parts(number: int, changes: Changes) -> list[dict[str, Any]]:
    """``changes`` as journal parts (``{"number", "writes": [[table, key, value], ...]}``),
    each at most about ``PART_BYTES`` of JSON (a single larger write is a part of its own)."""
    parts: list[dict[str, Any]] = []
    writes: list[list[Any]] = []
    size = 0
    for name, entries in changes.items():
        for key, value in entries.items():
            write = [name, key, value]
            length = len(json.dumps(write, separators=(",", ":")))
            if writes and size + length > PART_BYTES:
                parts.append({"number": number, "writes": writes})
                writes, size = [], 0
            writes.append(write)
            size += length
    if writes or not parts:
        parts.append({"number": number, "writes": writes})
    return parts


def read_commit(journal: Mapping[str, Any]) -> tuple[Head, Changes] | None:
    """The latest commit in ``journal`` with its changes, or None if there is none."""
    raw = journal.get(HEAD)
    if raw is None:
        return None
    head = Head.from_json(raw)
    changes: Changes = {}
    for index in range(head.parts):
        part = journal.get(part_key(head.number, index))
        if part is None or int(part["number"]) != head.number:
            # A head is written only after its parts are on the broker: this is a bug.
            raise JournalError(f"journal part {index} of commit {head.number} is missing")
        for name, key, value in part["writes"]:
            changes.setdefault(name, {})[key] = value
    return head, changes


class JournalError(StreamsError):
    """The journal contradicts itself; the worker must not guess."""
