"""A watch folder for plan exports: the ERP drops ``*.csv`` / ``*.xlsx`` files (and Excel's
"Unicode text" ``*.txt``), OrderHub publishes them.

For each file: parse it (``connectors.csv_plan``, ``connectors.xlsx``), publish its events
to the plans topic keyed by region and each rejected row to the dead-letter topic, and only
then move it to ``processed/`` (``failed/`` when no row of it could be read, or the broker
refuses its records for good; that is dead-lettered too). Bad input never stops the
watcher and never makes it retry a file forever; only a broker that does not answer
leaves a file for the next scan. A link that points out of the folder is not followed.

Restarts are safe: a file is moved only after the broker acknowledged every record, so a
crash leaves it in the folder and the next scan publishes it again under the same event
ids (``csv_plan.event_id``), which the state de-duplicates; plans replace per key anyway.
A file is taken only once its modification time is ``settle`` seconds old, so a file the
ERP is still writing is left alone (better still: write ``name.csv.part``, then rename).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from connectors.base import Routed, Sink, letter_record, route_event
from connectors.csv_plan import UTF16_BOMS, PlanBatch, Rejection, parse_plan_csv
from connectors.exceptions import ConnectorError, PublishError, UnreadableFile
from connectors.xlsx import is_xlsx, parse_plan_xlsx
from contract.topics import Topics

log = logging.getLogger(__name__)

PROCESSED = "processed"
FAILED = "failed"
# What the watch folder takes; an .xls is taken too, to be told it is not read; a .txt
# only when it is Excel's "Unicode text".
SUFFIXES = frozenset({".csv", ".xlsx", ".xls", ".txt"})


def origin(file: str) -> str:
    """The ``topic`` a file's dead letters name as where they came from."""
    return f"file:{file}"


def batch_records(batch: PlanBatch, topics: Topics, partial: bool = False) -> list[Routed]:
    """A parsed file's records: every event, then a dead letter per rejected row. A plan
    published whole only (``complete_only``) with a rejected row gives its dead letters
    alone, unless ``partial`` asks for the good rows."""
    withheld = batch.complete_only and bool(batch.rejections) and not partial
    records = [] if withheld else [route_event(event, topics) for event in batch.events]
    records += [rejection_record(r, topics) for r in batch.rejections]
    return records


def rejection_record(rejection: Rejection, topics: Topics) -> Routed:
    """A rejected row's dead letter: the row's text (UTF-8, whatever the file's encoding)."""
    return letter_record(
        topics,
        rejection.reason,
        f"{rejection.location}: {rejection.error}",
        rejection.text.encode("utf-8"),
        origin(rejection.file),
        rejection.row,
    )


def unreadable_record(error: UnreadableFile, data: bytes, topics: Topics) -> Routed:
    """An unreadable file's dead letter with the file's bytes (a large file's first bytes,
    its size and hash: ``streams.core.ingest.dead_letter``); the file itself is in failed/."""
    message = f"{error.file}: {error.message}"
    return letter_record(topics, error.reason, message, data, origin(error.file), 0)


@dataclass(frozen=True)
class FileOutcome:
    """What became of one dropped file."""

    file: str
    moved_to: Path
    events: int
    rejections: tuple[Rejection, ...] = ()
    error: UnreadableFile | None = None
    kind: str = "weekly"  # "weekly" demand plan or "daily" shipping plan (batch_kind)
    withheld: int = 0  # good rows of a daily plan not published because of a bad one


def batch_kind(batch: PlanBatch) -> str:
    """ "daily" for a daily shipping plan (the only form published whole only), else "weekly"."""
    return "daily" if batch.complete_only else "weekly"


KINDS = ("weekly", "daily")
ROW_OUTCOMES = ("published", "rejected", "withheld")
FILE_OUTCOMES = ("published", "rows_rejected", "failed")


def _zeros_by_kind() -> dict[tuple[str, str], int]:
    return {(kind, outcome): 0 for kind in KINDS for outcome in ROW_OUTCOMES}


@dataclass
class FileCounters:
    """What the watch folder did since it started, for ``/metrics``
    (``connectors.filedrop_metrics``): rows by (kind, outcome), files by outcome.

    Every key exists from the start, so a rate is defined before the first file, and a
    scrape in another thread never sees the dicts change size."""

    rows: dict[tuple[str, str], int] = field(default_factory=_zeros_by_kind)
    files: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FILE_OUTCOMES, 0))

    def count(self, outcome: FileOutcome) -> None:
        if outcome.error is not None:
            # No row of it was read (or the broker refused them all): a file, not rows.
            self.files["failed"] += 1
            return
        kind = outcome.kind
        self.rows[(kind, "published")] += outcome.events
        self.rows[(kind, "rejected")] += len(outcome.rejections)
        self.rows[(kind, "withheld")] += outcome.withheld
        self.files["rows_rejected" if outcome.rejections else "published"] += 1


def is_candidate(path: Path) -> bool:
    """A dropped export, not a half-written or an editor's lock file (Excel's ``~$x.csv``).
    A link counts (it is checked, not followed blindly, in ``publish_file``); a ``.txt``
    only when it is Excel's "Unicode text" (UTF-16 with a BOM), not someone's notes."""
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES or name.startswith((".", "~$")):
        return False
    if path.is_symlink():
        return True
    return path.is_file() and (suffix != ".txt" or _starts_utf16(path))


def _starts_utf16(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(2) in UTF16_BOMS
    except OSError:
        return False


def outside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is a link whose target is not in ``folder`` (or does not exist)."""
    if not path.is_symlink():
        return False
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling, or a loop of links
        return True
    return target.parent != folder.resolve()


class WatchFolder:
    """Scans ``inbox`` for CSV files and publishes them through ``sink``."""

    def __init__(
        self,
        inbox: Path,
        sink: Sink,
        topics: Topics,
        *,
        region: str | None = None,
        source: str = "erp",
        settle: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not inbox.is_dir():
            raise ConnectorError(f"{inbox}: not a directory")
        self.inbox = inbox
        self.sink = sink
        self.topics = topics
        self.region = region
        self.source = source
        self.settle = settle
        self.clock = clock
        self.counters = FileCounters()

    def candidates(self) -> list[Path]:
        """Dropped files, oldest first, so plans are published in the order they came."""
        found = []
        for path in self.inbox.iterdir():
            try:
                if is_candidate(path):
                    found.append((path.lstat().st_mtime, path.name, path))
            except FileNotFoundError:
                continue  # moved away meanwhile (a second watcher, an operator)
        return [path for _, _, path in sorted(found)]

    def scan(self) -> list[FileOutcome]:
        """Process every file that has settled; leave younger ones for the next scan."""
        outcomes = []
        for path in self.candidates():
            try:
                if self.age(path) < self.settle:
                    continue
                outcome = self.process(path)
            except FileNotFoundError:
                continue
            except PublishError:
                raise  # the broker is away: the file stays, the next scan retries
            except Exception as exc:
                # A file that breaks the parser in a way nobody foresaw is still bad input:
                # it goes to failed/ (logged with its traceback) and the watcher carries on.
                log.exception("%s: cannot be processed", path.name)
                outcome = self._failed(path, UnreadableFile(path.name, "cannot_read", repr(exc)))
            self.counters.count(outcome)
            outcomes.append(outcome)
        return outcomes

    def age(self, path: Path) -> float:
        return self.clock() - path.lstat().st_mtime

    def drain(self) -> list[FileOutcome]:
        """``--once``: every file there is, waiting for the young ones to settle."""
        outcomes = self.scan()
        while True:
            try:
                waits = [self.settle - self.age(p) for p in self.candidates()]
            except FileNotFoundError:
                continue
            if not waits:
                return outcomes
            time.sleep(max(0.05, min(waits)))
            outcomes += self.scan()

    def run(
        self, interval: float, report: Callable[[FileOutcome], None], stop: threading.Event
    ) -> None:
        """Scan every ``interval`` seconds until ``stop`` is set; a broker outage only waits."""
        while not stop.is_set():
            try:
                for outcome in self.scan():
                    report(outcome)
            except PublishError as exc:
                log.warning("%s; the files stay in %s for the next scan", exc, self.inbox)
            stop.wait(interval)

    def _failed(self, path: Path, error: UnreadableFile) -> FileOutcome:
        """Move ``path`` to failed/; its dead letter names it (no bytes: they broke us)."""
        self.sink.publish([unreadable_record(error, b"", self.topics)])
        return FileOutcome(path.name, _move(path, self.inbox / FAILED), 0, error=error)

    def process(self, path: Path) -> FileOutcome:
        """Publish one file's records, then move it; a broker that did not answer leaves
        it in place (``PublishError``), one that refuses its records for good does not."""
        try:
            outcome = publish_file(
                path, self.sink, self.topics, self.region, self.source, folder=self.inbox
            )
        except PublishError as exc:
            if not exc.permanent:
                raise
            error = UnreadableFile(path.name, "refused_by_kafka", str(exc))
            outcome = FileOutcome(path.name, path, 0, error=error)
        moved = _move(path, self.inbox / (FAILED if outcome.error else PROCESSED))
        if outcome.error is not None:
            log.warning("%s; moved to %s", outcome.error, moved)
        else:
            log.info(
                "%s: %d event(s), %d rejected row(s), moved to %s",
                path.name,
                outcome.events,
                len(outcome.rejections),
                moved,
            )
        return replace(outcome, moved_to=moved)


def parse_file(
    path: Path, data: bytes | None = None, region: str | None = None, source: str = "erp"
) -> PlanBatch:
    """``csv_plan.parse_plan_csv`` of a file; raises ``UnreadableFile``.

    The events' time is the file's modification time: when the ERP exported the plan, and
    the same on every re-read, unlike the time of reading.
    """
    received = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    data = _read(path) if data is None else data
    if is_xlsx(data):
        return parse_plan_xlsx(data, path.name, received, region, source)
    if path.suffix.lower() == ".xlsx":
        raise UnreadableFile(path.name, "bad_xlsx", "named .xlsx, but not an Excel workbook")
    return parse_plan_csv(data, path.name, received, region, source)


def _read(path: Path) -> bytes:
    # A file that cannot be read is a whole-file problem like a bad encoding: dead-lettered
    # and moved to failed/, so one bad file never stops the watcher for the others.
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UnreadableFile(path.name, "cannot_read", exc.strerror or str(exc)) from exc


def _move(path: Path, folder: Path) -> Path:
    """Move without overwriting: a second file of the same name becomes ``name-1.csv``."""
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    n = 0
    while target.exists():
        n += 1
        target = folder / f"{path.stem}-{n}{path.suffix}"
    path.rename(target)
    return target


def publish_file(
    path: Path,
    sink: Sink,
    topics: Topics,
    region: str | None,
    source: str = "erp",
    folder: Path | None = None,
    partial: bool = False,
) -> FileOutcome:
    """Parse one file and publish its records; the file stays where it is. In a watch
    ``folder``, a link out of it is refused unread (``outside_folder``). ``partial``: a
    daily shipping plan with bad lines publishes its good ones (else none)."""
    data = b""
    try:
        if folder is not None and outside(path, folder):
            raise UnreadableFile(
                path.name, "outside_folder", "a link to a file outside the watch folder"
            )
        data = _read(path)
        batch = parse_file(path, data, region, source)
    except UnreadableFile as exc:
        sink.publish([unreadable_record(exc, data, topics)])
        return FileOutcome(path.name, path, 0, error=exc)
    records = batch_records(batch, topics, partial)
    sink.publish(records)
    published = len(records) - len(batch.rejections)
    withheld = len(batch.events) - published
    kind = batch_kind(batch)
    return FileOutcome(path.name, path, published, batch.rejections, None, kind, withheld)
