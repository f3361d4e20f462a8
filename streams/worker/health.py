"""Is the worker doing its job? Broker, consumer group, recovery, lag, stalls, rules.

``/healthz`` and ``orderhub worker status`` say "healthy" only when the broker answers,
the worker is a member of its consumer group, its tables are recovered, no partition it
holds is stalled (records waiting and no progress for ``stall_seconds``) and the rule set
has no errors. Dead letters are counted (how many in the last ``dead_letter_window``
seconds) but do not make the worker unhealthy: they are bad input, not a broken worker.

The assessment (``assess``) and the stall and dead-letter bookkeeping are pure; the
``HealthMonitor`` gathers the facts every ``interval`` seconds (one short-lived Kafka
consumer reads the end offsets; that it answers is what "broker reachable" means) and
logs each change of state once, plus a summary every ``summary_seconds`` while unhealthy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from streams.worker import logfilter

if TYPE_CHECKING:
    from contract.settings import Settings
    from streams.worker.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthConfig:
    """How the worker judges its own health (``contract.settings``: ``ORDERHUB_HEALTH_*``)."""

    interval: float = 5.0
    stall_seconds: float = 60.0
    dead_letter_window: float = 900.0
    summary_seconds: float = 30.0

    @classmethod
    def of(cls, settings: Settings) -> HealthConfig:
        return cls(
            interval=settings.health_interval,
            stall_seconds=settings.stall_seconds,
            dead_letter_window=settings.dead_letter_window,
            summary_seconds=settings.log_repeat_seconds,
        )


# --- pure bookkeeping -------------------------------------------------------------------


@dataclass
class StallWatch:
    """Per "topic[partition]", since when its position has not moved while it lagged."""

    _seen: dict[str, tuple[int, float]] = field(default_factory=dict)

    def update(self, tp: str, position: int, lag: int, now: float) -> float:
        """Record a check; return seconds without progress while lagging (0 if moving)."""
        before = self._seen.get(tp)
        if before is None or before[0] != position or lag <= 0:
            self._seen[tp] = (position, now)
            return 0.0
        return now - before[1]


@dataclass
class Counted:
    """A counter read over time (a topic's end offset): how much it grew in a window."""

    window: float
    _samples: deque[tuple[float, int]] = field(default_factory=deque)

    def add(self, now: float, value: int) -> None:
        self._samples.append((now, value))
        # Keep one sample at or before the window's start: the base to count from.
        while len(self._samples) > 1 and self._samples[1][0] <= now - self.window:
            self._samples.popleft()

    def recent(self) -> int:
        if not self._samples:
            return 0
        return self._samples[-1][1] - self._samples[0][1]

    @property
    def total(self) -> int | None:
        return self._samples[-1][1] if self._samples else None


@dataclass(frozen=True)
class Facts:
    """What the monitor knows at one moment; ``assess`` judges it."""

    ready: bool
    recovered: bool
    broker_reachable: bool | None  # None: not checked yet
    broker_seconds: float  # in that state for so long
    broker_error: str | None
    group_joined: bool | None  # None: unknown (the consumer is not started)
    lag: Mapping[str, int]
    stalled: Mapping[str, float]  # "topic[partition]" -> seconds without progress
    rule_errors: tuple[str, ...] = ()


def assess(facts: Facts) -> dict[str, str]:
    """The problems, by a stable key (its state changes are logged once) -> a line."""
    problems: dict[str, str] = {}
    if facts.broker_reachable is None:
        problems["broker"] = "broker not checked yet"
    elif not facts.broker_reachable:
        lasting = f" for {facts.broker_seconds:.0f} s" if facts.broker_seconds >= 1 else ""
        problems["broker"] = f"broker unreachable{lasting}: {facts.broker_error}"
    if not facts.group_joined:
        problems["group"] = "not a member of the consumer group"
    if not facts.recovered:
        problems["recovery"] = "tables not recovered yet"
    # Not holding the events partition is no problem: that worker is a standby (``role``).
    for tp, seconds in sorted(facts.stalled.items()):
        problems[f"stalled {tp}"] = (
            f"{tp} stalled: {facts.lag.get(tp, 0)} records waiting, no progress for {seconds:.0f} s"
        )
    if facts.rule_errors:
        first = facts.rule_errors[0]
        problems["rules"] = f"rule set has {len(facts.rule_errors)} error(s), first: {first}"
    return problems


ACTIVE, STANDBY, STARTING = "active", "standby", "starting"


def role(recovered: bool, holds_events: bool) -> str:
    """What this worker does in its group. "active": it holds the one events partition,
    hence the tables, and judges; "standby": its tables are recovered but another worker
    holds the events partition; it keeps copies of the changelogs (Faust's standby
    replicas) and takes over when that worker goes. "starting" until recovered."""
    if not recovered:
        return STARTING
    return ACTIVE if holds_events else STANDBY


def tables_current(app: Any) -> bool:
    """Whether the tables hold the changelogs' latest values now.

    Faust sets ``recovery.completed`` once and never clears it, but every rebalance
    recovers again: a standby taking over re-reads the changelogs from their start (the
    in-memory store keeps no offset), so for a while its tables hold older values."""
    recovery = app.tables.recovery
    if not recovery.completed.is_set():
        return False
    return not getattr(app, "rebalancing", False) and not getattr(recovery, "in_recovery", False)


def rule_status(hook: Any) -> dict[str, Any] | None:
    """The rule hook's ``status()`` ({"version", "errors"}), if the hook has one."""
    status = getattr(hook, "status", None)
    if not callable(status):
        return None
    try:
        found = status()
    except Exception as exc:  # a broken status must show in /healthz, not break it
        log.exception("rule hook status failed")
        return {"version": None, "errors": [f"rule hook status failed: {exc!r}"]}
    return {
        "version": found.get("version"),
        "errors": list(found.get("errors") or []),
        "evaluation_failures": dict(found.get("evaluation_failures") or {}),
    }


def group_joined(app: Any) -> bool | None:
    """Whether the worker's Kafka consumer is in its group: it knows the coordinator and
    holds a generation. Faust keeps that consumer in a thread (``_thread._consumer``);
    None when it is not there (not started, or another Faust version)."""
    coordinator = getattr(
        getattr(getattr(app.consumer, "_thread", None), "_consumer", None), "_coordinator", None
    )
    if coordinator is None:
        return None
    member = getattr(coordinator, "member_id", "")
    generation = getattr(coordinator, "generation", -1)
    return coordinator.coordinator_id is not None and bool(member) and generation >= 0


# --- the monitor -------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One look at the broker: end offsets, and committed offsets where asked."""

    ends: dict[str, int]
    committed: dict[str, int]


def tp_name(topic: str, partition: int) -> str:
    return f"{topic}[{partition}]"


async def probe(
    client: dict[str, Any],
    group: str,
    tps: list[tuple[str, int]],
    need_committed: list[tuple[str, int]],
    timeout: float,
) -> Probe:
    """End offsets of ``tps`` and the group's committed offsets of ``need_committed``.

    A short-lived consumer that never joins the group; raises when the broker does not
    answer within ``timeout`` s."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        group_id=group, enable_auto_commit=False, request_timeout_ms=int(timeout * 1000), **client
    )
    try:
        await asyncio.wait_for(consumer.start(), timeout)
        ends = await asyncio.wait_for(
            consumer.end_offsets([TopicPartition(t, p) for t, p in tps]), timeout
        )
        committed = {}
        for topic, partition in need_committed:
            offset = await asyncio.wait_for(
                consumer.committed(TopicPartition(topic, partition)), timeout
            )
            if offset is not None:
                committed[tp_name(topic, partition)] = int(offset)
        return Probe({tp_name(tp.topic, tp.partition): int(n) for tp, n in ends.items()}, committed)
    finally:
        await consumer.stop()


def no_answer(client: Mapping[str, Any], exc: BaseException) -> str:
    """Why the broker did not answer, short: aiokafka's messages repeat the class name
    and print socket families."""
    servers = ",".join(client.get("bootstrap_servers") or [])
    if isinstance(exc, TimeoutError):
        return f"no answer from {servers} in time"
    return f"no answer from {servers} ({type(exc).__name__})"


class HealthMonitor:
    """Gathers the facts every ``config.interval`` s and logs their changes."""

    def __init__(
        self,
        app: Any,
        rt: Runtime,
        config: HealthConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app, self.rt, self.config, self.clock = app, rt, config, clock
        self.broker_reachable: bool | None = None
        self.broker_error: str | None = None
        self.broker_since = clock()
        self.checked_at: float | None = None
        self.lag: dict[str, int] = {}
        self.stalled: dict[str, float] = {}
        self.stalls = StallWatch()
        self.dead_letters = Counted(config.dead_letter_window)
        self.problems: dict[str, str] = {}
        self.unhealthy_since: float | None = None
        self.summarised_at = clock()

    # gathering

    def _held(self) -> list[tuple[str, int]]:
        """The input and events partitions this worker holds."""
        watched = {*self.rt.topics.inputs.values(), self.rt.topics.events}
        try:
            assignment = self.app.consumer.assignment()
        except Exception:  # no consumer yet (starting): nothing held
            return []
        return sorted((tp.topic, tp.partition) for tp in assignment if tp.topic in watched)

    def _position(self, topic: str, partition: int) -> int | None:
        return self.rt.progress.positions.get(topic, {}).get(partition)

    async def check(self) -> None:
        """One round: probe the broker, update lag, stalls and dead letters, log changes."""
        held = self._held()
        unknown = [tp for tp in held if self._position(*tp) is None]
        watched = [*held, (self.rt.topics.dead_letter, 0)]
        timeout = max(2.0, self.config.interval)
        try:
            found = await probe(
                self.rt.kafka_client, self.rt.topics.prefix, watched, unknown, timeout
            )
        except Exception as exc:  # any failure to get an answer means: not reachable
            self._broker(False, no_answer(self.rt.kafka_client, exc))
            # Nothing can move without the broker; stalls are timed again once it is back.
            self.stalls, self.stalled = StallWatch(), {}
        else:
            self._broker(True, None)
            self._measure(held, found)
        self.checked_at = self.clock()
        self._log_changes()

    def _broker(self, reachable: bool, error: str | None) -> None:
        if reachable != self.broker_reachable:
            self.broker_since = self.clock()
        self.broker_reachable, self.broker_error = reachable, error

    def _measure(self, held: list[tuple[str, int]], found: Probe) -> None:
        now = self.clock()
        self.lag, self.stalled = {}, {}
        for topic, partition in held:
            tp = tp_name(topic, partition)
            if tp not in found.ends:
                continue
            position = self._position(topic, partition)
            if position is None:
                position = found.committed.get(tp, 0)
            self.lag[tp] = lag = max(0, found.ends[tp] - position)
            waited = self.stalls.update(tp, position, lag, now)
            if waited >= self.config.stall_seconds:
                self.stalled[tp] = waited
        dead = found.ends.get(tp_name(self.rt.topics.dead_letter, 0))
        if dead is not None:
            self.dead_letters.add(now, dead)

    # judging and logging

    def facts(self) -> Facts:
        recovered = tables_current(self.app)
        rules = rule_status(self.rt.hook)
        return Facts(
            ready=recovered and self._has_events(),
            recovered=recovered,
            broker_reachable=self.broker_reachable,
            broker_seconds=self.clock() - self.broker_since,
            broker_error=self.broker_error,
            group_joined=group_joined(self.app),
            lag=self.lag,
            stalled=self.stalled,
            rule_errors=tuple(rules["errors"]) if rules else (),
        )

    def _has_events(self) -> bool:
        return any(topic == self.rt.topics.events for topic, _ in self._held())

    def _log_changes(self) -> None:
        now = self.clock()
        problems = assess(self.facts())
        for key in sorted(problems.keys() - self.problems.keys()):
            log.warning("health: %s", problems[key])
        for key in sorted(self.problems.keys() - problems.keys()):
            log.info("health: recovered: %s", _cleared(key))
        if problems and self.unhealthy_since is None:
            self.unhealthy_since = self.summarised_at = now
        if not problems and self.unhealthy_since is not None:
            log.info("health: healthy again after %.0f s", now - self.unhealthy_since)
            self.unhealthy_since = None
            self._summarise_repeats()
        self.problems = problems
        if problems and now - self.summarised_at >= self.config.summary_seconds:
            self._summarise(problems, now)

    def _summarise(self, problems: dict[str, str], now: float) -> None:
        since = self.unhealthy_since if self.unhealthy_since is not None else now
        log.warning("health: not healthy for %.0f s: %s", now - since, "; ".join(problems.values()))
        self._summarise_repeats()
        self.summarised_at = now

    def _summarise_repeats(self) -> None:
        for repeat in logfilter.installed(logging.getLogger()):
            for line in repeat.summaries():
                log.warning("health: client log repeats: %s", line)

    def status(self) -> dict[str, Any]:
        """The health fields of ``/healthz`` (beside "ready" and "progress")."""
        facts = self.facts()
        problems = assess(facts)
        rules = rule_status(self.rt.hook)
        checked = None if self.checked_at is None else round(self.clock() - self.checked_at, 1)
        return {
            "healthy": not problems,
            "problems": list(problems.values()),
            "broker": {
                "reachable": facts.broker_reachable,
                "for_seconds": round(facts.broker_seconds, 1),
                "error": facts.broker_error,
                "checked_seconds_ago": checked,
            },
            "group": {"joined": facts.group_joined},
            "lag": dict(sorted(self.lag.items())),
            "stalled": {
                tp: {"lag": self.lag.get(tp, 0), "no_progress_seconds": round(s, 1)}
                for tp, s in sorted(self.stalled.items())
            },
            "rules": rules,
            "dead_letters": {
                "recent": self.dead_letters.recent(),
                "window_seconds": self.config.dead_letter_window,
                "total": self.dead_letters.total,
            },
        }

    async def run(self) -> None:
        """Check every ``interval`` s until cancelled (the worker stops)."""
        while True:
            try:
                await self.check()
            except Exception:  # a bug here must not stop the worker; it is logged
                log.exception("health check failed")
            await asyncio.sleep(self.config.interval)


def _cleared(key: str) -> str:
    return {
        "broker": "broker reachable",
        "group": "joined the consumer group",
        "recovery": "tables recovered",
        "rules": "rule set has no errors",
    }.get(key, f"{key.removeprefix('stalled ')} moving again")


# --- reading a /healthz document (the CLI) -----------------------------------------------

# `orderhub worker status` exit codes.
EXIT_HEALTHY = 0
EXIT_NO_ANSWER = 1  # no worker answers at the web address
EXIT_UNHEALTHY = 2  # a worker answers and says what is wrong


def exit_code(doc: Mapping[str, Any]) -> int:
    """0 when the worker says it is healthy, else 2."""
    return EXIT_HEALTHY if doc.get("healthy") is True else EXIT_UNHEALTHY


def describe(doc: Mapping[str, Any]) -> list[str]:
    """``/healthz`` as a few lines for a person: verdict, problems, then the measures."""
    healthy = doc.get("healthy") is True
    lines = ["health: OK" if healthy else "health: NOT OK"]
    lines += [f"  problem: {p}" for p in doc.get("problems", [])]
    broker = doc.get("broker") or {}
    lines.append(f"broker reachable: {_yes(broker.get('reachable'))}")
    lines.append(f"group joined: {_yes((doc.get('group') or {}).get('joined'))}")
    lines.append(f"recovery done: {_yes(doc.get('recovered'))}")
    if "role" in doc:
        lines.append(f"role: {doc['role']}")
    lag = doc.get("lag") or {}
    behind = {tp: n for tp, n in lag.items() if n}
    lines.append(f"lag: {sum(lag.values())} records" + (f" ({_pairs(behind)})" if behind else ""))
    stalled = doc.get("stalled") or {}
    lines.append(f"stalled partitions: {', '.join(stalled) or 'none'}")
    rules = doc.get("rules")
    if rules is not None:
        errors = rules.get("errors") or []
        lines.append(f"rule set: version {rules.get('version')}, {len(errors)} error(s)")
        lines += [f"  {e}" for e in errors]
        failures = rules.get("evaluation_failures") or {}
        if failures:
            lines.append(f"rules not evaluated on their data: {_pairs(failures)}")
    dead = doc.get("dead_letters") or {}
    if dead:
        window = float(dead.get("window_seconds") or 0)
        lines.append(f"dead letters: {dead.get('recent', 0)} in the last {window / 60:g} min")
    return lines


def staleness(doc: Mapping[str, Any], count_lag: bool = True) -> str | None:
    """Why data read from this worker may be out of date, or None. ``count_lag=False`` when
    the caller has just waited until caught up: the health monitor measures lag only every
    few seconds, so its figure is older than that check."""
    if doc.get("healthy") is False:
        return "the worker is not healthy: " + "; ".join(doc.get("problems", []))
    behind = sum((doc.get("lag") or {}).values()) if count_lag else 0
    if behind:
        return f"the worker has {behind} records still to handle"
    return None


def _yes(value: Any) -> str:
    return {True: "yes", False: "NO", None: "unknown"}.get(value, str(value))


def _pairs(values: Mapping[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(values.items()))
