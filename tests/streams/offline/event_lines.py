"""Events of JSON lines in memory, for tests that run ``replay``'s ``run`` on a list (the
command reads a file in two passes: ``streams.offline.replay.index_events``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from contract.events import Event
from streams.offline.replay import parse_line


def read_events(
    lines: Iterable[str], on_bad: Callable[[int, str], None]
) -> Iterator[tuple[int, Event]]:
    """``(line number, event)`` for each valid line; ``on_bad(line, reason)`` for the rest.

    Blank lines and lines starting with ``#`` are skipped silently.
    """
    for number, text in enumerate(lines, start=1):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            yield number, parse_line(stripped)
        except ValueError as exc:
            on_bad(number, str(exc))
