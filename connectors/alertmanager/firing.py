"""The alerts firing now, folded from the alerts topic, and their codec. Pure.

The sink keeps this set on a compacted topic of its own (``sink.state_topic``): key the
fingerprint, value the entry while it fires, a tombstone once resolved. The alerts topic is
kept by time (7 days by a broker's default) and an alert may fire longer than that (a
missing plan): rebuilt from the alerts topic alone, such an alert would be forgotten at a
restart and Alertmanager would time it out as if it were resolved.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime

from connectors.alertmanager.mapping import Notice
from contract.events import Alert


class FiringSet:
    """Fingerprint -> the alert firing now (its latest record and since when it fires)."""

    def __init__(self, entries: Mapping[str, Notice] | None = None) -> None:
        self.entries: dict[str, Notice] = dict(entries or {})
        # Changes not yet written to the state topic: the entry, or None (a tombstone).
        self.dirty: dict[str, Notice | None] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def apply(self, alert: Alert) -> Notice:
        """Fold one record of the alerts topic in; the notice to push for it.

        A firing alert fires again with new numbers while it lasts: it keeps its first
        ``since``. Folding the same records twice (a restart before the offset commit)
        ends in the same set."""
        fp = alert.fingerprint
        known = self.entries.get(fp)
        since = known.since if known is not None else alert.at
        notice = Notice(alert, since)
        if alert.status == "firing":
            self.entries[fp] = notice
            self.dirty[fp] = notice
        else:
            self.entries.pop(fp, None)
            self.dirty[fp] = None
        return notice

    def take_dirty(self) -> dict[str, Notice | None]:
        """The changes since the last call (the caller writes them to the state topic)."""
        dirty, self.dirty = self.dirty, {}
        return dirty

    def restore(self, changes: Mapping[str, Notice | None]) -> None:
        """Put back changes that could not be written, under newer ones."""
        self.dirty = {**changes, **self.dirty}


def encode_entry(notice: Notice | None) -> bytes | None:
    """A state-topic value: the entry as JSON, or None (a tombstone) once resolved."""
    if notice is None:
        return None
    return json.dumps(
        {"since": notice.since.isoformat(), "alert": notice.alert.model_dump(mode="json")},
        ensure_ascii=False,
    ).encode("utf-8")


def decode_entry(value: bytes) -> Notice:
    data = json.loads(value)
    return Notice(Alert.model_validate(data["alert"]), datetime.fromisoformat(data["since"]))


def load(records: Iterable[tuple[bytes, bytes | None]]) -> FiringSet:
    """The set from the state topic's (key, value) records in order; the last one wins."""
    entries: dict[str, Notice] = {}
    for key, value in records:
        fp = key.decode("utf-8")
        if value is None:
            entries.pop(fp, None)
        else:
            entries[fp] = decode_entry(value)
    return FiringSet(entries)
