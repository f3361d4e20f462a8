"""Rule-set versions, and the store that keeps each rule file's last good text.

Every alert names the version of the rule set that produced it (``Alert.rule_set``): a short
hash of the rule files and calendar files actually loaded, by file name and content. The
live worker, ``orderhub replay`` and ``orderhub rules test`` load their rule set through
``streams.core.ruleload.load_rule_set``, which computes it here, so a replayed alert and a live
one from the same files and the same business time zone carry the same version.

Files are named as the store keys them: a rule file by its name (``caps.rule``), a calendar
by ``calendars/`` and its name (``calendars/cn-mainland-2026.yaml``): the version does not
depend on where the directory lies on disk, or on the order the files were read in.

``RuleSetStore`` is what ``streams.worker.rulehook.LiveRules`` keeps last good texts in: the worker
passes ``streams.worker.rulestore.KafkaRuleStore`` (a compacted topic), tests ``MemoryRuleStore``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from streams.exceptions import StreamsError

CALENDARS = "calendars"
VERSION_LENGTH = 12  # hex digits: plenty to tell the versions of one deployment apart


class RuleStoreError(StreamsError):
    """The store of last good rule files cannot be read or written."""


def rule_file_name(path: str | Path) -> str:
    """The store name of a rule file: its file name."""
    return Path(path).name


def calendar_file_name(path: str | Path) -> str:
    """The store name of a calendar file: ``calendars/`` and its file name."""
    return f"{CALENDARS}/{Path(path).name}"


def calendar_files(directory: Path | None) -> list[Path]:
    """The calendar files of ``directory`` in the order ``dsl.calendar.load_calendars``
    reads them (none when it does not exist)."""
    if directory is None or not directory.is_dir():
        return []
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def version(texts: Mapping[str, str], timezone: str, default_calendar: str | None = None) -> str:
    """A short content hash of a rule set: store name -> text of every file loaded, the
    business ``timezone`` of rules that name no calendar, and the name of the calendar
    file they use instead of the built-in one (``rules test`` may name one).

    The same files judged in another zone are another rule set: a working hour in Shanghai
    is not one in Berlin. Each part is length-prefixed, so no two different sets hash the
    same bytes.
    """
    digest = hashlib.sha256()
    settings = (timezone, default_calendar or "")
    for part in (*settings, *(item for name in sorted(texts) for item in (name, texts[name]))):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:VERSION_LENGTH]


# --- the store of last good texts ------------------------------------------------------------


class RuleSetStore(Protocol):
    """The last good text of each rule and calendar file, by store name; durable in the
    worker, so that a worker started with a broken file runs that file's last good rules."""

    def load(self) -> dict[str, str]:
        """Store name -> last good text. Raises ``RuleStoreError`` when unreadable."""
        ...

    def save(self, name: str, text: str) -> None:
        """Keep ``text`` as the last good text of ``name``. Raises ``RuleStoreError``."""
        ...


class MemoryRuleStore:
    """A ``RuleSetStore`` in memory: for tests, and for a hook given no durable store."""

    def __init__(self, texts: Mapping[str, str] | None = None) -> None:
        self.texts: dict[str, str] = dict(texts or {})
        self.saves: list[str] = []  # names saved, in order: what a test checks

    def load(self) -> dict[str, str]:
        return dict(self.texts)

    def save(self, name: str, text: str) -> None:
        self.texts[name] = text
        self.saves.append(name)


def changed(texts: Mapping[str, str], stored: Mapping[str, str]) -> Iterable[tuple[str, str]]:
    """The (name, text) pairs of ``texts`` the store does not hold yet, by name."""
    return ((name, texts[name]) for name in sorted(texts) if stored.get(name) != texts[name])
