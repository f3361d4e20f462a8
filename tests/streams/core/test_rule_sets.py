"""Rule sets that survive a restart: each file's last good version, load-problem alerts,
and the rule-set version every alert carries (the same live, in replay and in rules test)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from contract.events import Alert, Event
from dsl.builtins import EvaluationFailed
from dsl.compiled import CompiledRule
from dsl.loader import load_rules
from streams.core.engine import Engine, fingerprint
from streams.core.ruleload import compile_rule_text, parse_calendar
from streams.core.ruleset import MemoryRuleStore, RuleStoreError, version
from streams.core.state import Tables, apply_event, empty_tables
from streams.offline.replay import load_engine, run
from streams.offline.ruletest import engine_factory, load_test_file
from streams.worker.rulehook import LOAD_RULE_ID, LiveRules, live_rules
from tests.streams.core.engine_rules import at, order_event, outcome

REPO = Path(__file__).resolve().parents[3]
APPROVAL = (REPO / "rules" / "approval.rule").read_text(encoding="utf-8")
# Line 5 is "  severity critical": the misspelling starts at column 12.
BROKEN = APPROVAL.replace("severity critical", "severity critcal")
CALENDAR = (REPO / "rules" / "calendars" / "cn-mainland-2026.yaml").read_text(encoding="utf-8")


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def rules_dir(directory: Path, approval: str = APPROVAL) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "approval.rule").write_text(approval, encoding="utf-8")
    return directory


def hook(directory: Path, store: MemoryRuleStore, mono: FakeTime | None = None) -> LiveRules:
    return LiveRules(directory, store=store, check_every=5, monotonic=mono or FakeTime())


def big_order_events() -> list[Event]:
    """An order of 600,000 CNY scheduled without senior approval: APR-1 fires."""
    return [
        order_event("e1", "order.received", at(2, 9), quantity=1, amount="600000"),
        order_event("e2", "order.scheduled", at(2, 10)),
    ]


def big_order(tables: Tables, live: LiveRules) -> list[Alert]:
    found: list[Alert] = []
    for seq, event in enumerate(big_order_events(), start=1):
        apply_event(tables, event, seq)
        found += live.on_event(tables, event, seq)
    return found


# --- the last good version --------------------------------------------------------------------


def test_a_worker_started_with_a_broken_file_runs_its_last_good_rules(tmp_path: Path) -> None:
    store = MemoryRuleStore()
    first = hook(rules_dir(tmp_path), store)
    assert store.texts == {"approval.rule": APPROVAL}  # the good file was kept
    good_version = first.status()["version"]

    (tmp_path / "approval.rule").write_text(BROKEN, encoding="utf-8")
    restarted = hook(tmp_path, store)
    assert list(restarted.engine.rules) == ["APR-1"]
    [alert] = big_order(empty_tables(), restarted)
    assert (alert.rule_id, alert.status, alert.rule_set) == ("APR-1", "firing", good_version)
    assert alert.source == f"{tmp_path / 'approval.rule'}:4"  # where the file says it is
    assert restarted.status() == {
        "version": good_version,
        "errors": [f"{tmp_path / 'approval.rule'}:5:12: E207 unknown severity 'critcal'"],
        "evaluation_failures": {},
    }
    assert store.texts == {"approval.rule": APPROVAL}  # the broken text is never kept


def test_a_broken_file_never_good_is_left_out_and_said_so(tmp_path: Path) -> None:
    live = hook(rules_dir(tmp_path, BROKEN), MemoryRuleStore())
    assert list(live.engine.rules) == []
    assert big_order(empty_tables(), live) == []
    assert live.status()["errors"] == [
        f"{tmp_path / 'approval.rule'}:5:12: E207 unknown severity 'critcal'"
    ]


def test_a_bad_edit_while_running_keeps_the_file_s_last_good_rules(tmp_path: Path) -> None:
    mono = FakeTime()
    live = hook(rules_dir(tmp_path), MemoryRuleStore(), mono)
    (tmp_path / "approval.rule").write_text(BROKEN, encoding="utf-8")
    assert live.reload() == (f"{tmp_path / 'approval.rule'}:5:12: E207 unknown severity 'critcal'",)
    assert list(live.engine.rules) == ["APR-1"]


def test_a_broken_calendar_runs_its_last_good_version(tmp_path: Path) -> None:
    """SLA rules name the calendar: a YAML slip in it must not take them off."""
    directory = rules_dir(tmp_path)
    shutil.copy(REPO / "rules" / "sla.rule", directory / "sla.rule")
    (directory / "calendars").mkdir()
    calendar = directory / "calendars" / "cn-mainland-2026.yaml"
    calendar.write_text(CALENDAR, encoding="utf-8")
    store = MemoryRuleStore()
    hook(directory, store)
    assert store.texts["calendars/cn-mainland-2026.yaml"] == CALENDAR

    calendar.write_text("name: cn-mainland-2026\nholidays: [\n", encoding="utf-8")
    restarted = hook(directory, store)
    assert "SLA-1" in restarted.engine.rules
    [error] = restarted.status()["errors"]
    assert error.startswith(f"{calendar}:3:1: E010 not valid YAML")


def test_a_store_that_cannot_write_is_logged_and_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Flaky(MemoryRuleStore):
        down = True

        def save(self, name: str, text: str) -> None:
            if self.down:
                raise RuleStoreError("broker away")
            super().save(name, text)

    store, mono = Flaky(), FakeTime()
    with caplog.at_level(logging.ERROR):
        live = hook(rules_dir(tmp_path), store, mono)
    assert list(live.engine.rules) == ["APR-1"]  # the rules run all the same
    assert "the last good version of approval.rule is not kept: broker away" in caplog.text
    store.down = False
    mono.t += 6  # the next check, though no file changed
    live.on_tick(empty_tables(), at(2, 12))
    assert store.texts == {"approval.rule": APPROVAL}


def test_a_text_compiles_to_the_rules_the_loader_gives_its_file(tmp_path: Path) -> None:
    """The fallback compiles stored text, the loader reads files: pinned to agree."""
    for path in sorted((REPO / "rules").glob("*.rule")):
        from_file, _ = load_rules([path])
        calendars = {"cn-mainland-2026"}
        text = path.read_text(encoding="utf-8")
        from_text, errors = compile_rule_text(text, str(path), calendars)
        assert errors == []
        assert [(r.id, r.source, r.kind, r.calendar) for r in from_text] == [
            (r.id, r.source, r.kind, r.calendar) for r in from_file
        ]


# --- the version --------------------------------------------------------------------------------


def test_the_same_files_give_the_same_version_wherever_they_lie(tmp_path: Path) -> None:
    a = shutil.copytree(REPO / "rules", tmp_path / "a")
    b = shutil.copytree(REPO / "rules", tmp_path / "elsewhere" / "b")
    va = LiveRules(a, store=MemoryRuleStore()).status()["version"]
    assert va == LiveRules(b, store=MemoryRuleStore()).status()["version"]
    assert va == load_engine(a).rule_set and len(va) == 12
    (b / "approval.rule").write_text(APPROVAL + "\n# a comment\n", encoding="utf-8")
    assert load_engine(b).rule_set != va  # any change of text is a new version
    (a / "calendars" / "cn-mainland-2026.yaml").write_text(CALENDAR + "\n", encoding="utf-8")
    assert load_engine(a).rule_set != va  # calendars count too


def test_replay_and_live_give_alerts_equal_field_by_field(tmp_path: Path) -> None:
    directory = rules_dir(tmp_path)
    live = LiveRules(directory, store=MemoryRuleStore())
    live_alerts = big_order(empty_tables(), live)
    replayed = run(load_engine(directory), enumerate(big_order_events(), start=1), None).alerts
    assert live_alerts == replayed and replayed[0].rule_set == live.status()["version"]


def test_rules_test_computes_the_version_the_worker_does(tmp_path: Path) -> None:
    directory = rules_dir(tmp_path)
    (directory / "calendars").mkdir()
    (directory / "calendars" / "cn-mainland-2026.yaml").write_text(CALENDAR, encoding="utf-8")
    test_file = tmp_path / "approval_test.yaml"
    test_file.write_text(
        "rules: [approval.rule]\ncalendar_dir: calendars\ntests: []\n", encoding="utf-8"
    )
    engine = engine_factory(load_test_file(test_file))()
    assert getattr(engine, "rule_set", None) == LiveRules(directory).status()["version"]


def test_the_version_is_a_hash_of_names_and_texts_not_of_their_order() -> None:
    tz = "Asia/Shanghai"
    assert version({"a.rule": "x", "b.rule": "y"}, tz) == version(
        {"b.rule": "y", "a.rule": "x"}, tz
    )
    assert version({"a.rule": "xb.rule"}, tz) != version({"a.rule": "x", "b.rule": ""}, tz)


def test_the_version_names_the_business_time_zone_and_the_default_calendar() -> None:
    texts = {"a.rule": "x"}
    shanghai = version(texts, "Asia/Shanghai")
    assert version(texts, "Europe/Berlin") != shanghai  # another deployment, another set
    assert version(texts, "Asia/Shanghai", "cn-mainland-2026") != shanghai


# --- one loader for the worker, replay and rules test ---------------------------------------------


def configuration(engine: object) -> tuple[object, ...]:
    """What decides an engine's judgements, rule by rule: source, kind and calendar (name,
    zone, hours, holidays), and the version its alerts carry."""
    rules = getattr(engine, "rules")  # noqa: B009 - any RuleJudge; the three are Engines
    per_rule = sorted((i, r.rule.source, r.rule.kind, r.calendar) for i, r in rules.items())
    return (getattr(engine, "rule_set"), per_rule)  # noqa: B009


def test_worker_replay_and_rules_test_build_the_same_engine_in_the_same_zone(
    tmp_path: Path,
) -> None:
    directory = shutil.copytree(REPO / "rules", tmp_path / "rules")
    names = sorted(f"../{p.name}" for p in directory.glob("*.rule"))
    test_file = directory / "tests" / "all_test.yaml"
    test_file.write_text(f"rules: {names}\ntests: []\n".replace("'", ""), encoding="utf-8")
    berlin = "Europe/Berlin"
    worker = live_rules(directory, berlin, store=MemoryRuleStore()).engine
    replayed = load_engine(directory, berlin)
    tested = engine_factory(load_test_file(test_file, berlin))()
    assert configuration(worker) == configuration(replayed) == configuration(tested)
    # Rules that name no calendar judge working hours in the deployment's zone everywhere.
    no_calendar = [r for r in replayed.rules.values() if r.rule.calendar is None]
    assert no_calendar and {str(r.calendar.zone) for r in no_calendar} == {berlin}
    assert replayed.rule_set != load_engine(directory).rule_set  # Asia/Shanghai: another set


def test_replay_command_judges_in_orderhub_timezone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from contract.settings import get_settings
    from orderhub.commands.replay import replay as replay_command

    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(e.model_dump_json() for e in big_order_events()) + "\n", encoding="utf-8"
    )
    directory = rules_dir(tmp_path / "rules")
    rule_sets = {}
    for zone in ("Asia/Shanghai", "Europe/Berlin"):
        monkeypatch.setenv("ORDERHUB_TIMEZONE", zone)
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(replay_command, ["--rules", str(directory), str(events)])
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        rule_sets[zone] = {json.loads(line)["rule_set"] for line in result.stdout.splitlines()}
    assert rule_sets == {
        "Asia/Shanghai": {load_engine(directory, "Asia/Shanghai").rule_set},
        "Europe/Berlin": {live_rules(directory, "Europe/Berlin").engine.rule_set},
    }


# --- the load-problem alert ---------------------------------------------------------------------


def test_a_broken_file_is_a_critical_alert_with_its_diagnostics(tmp_path: Path) -> None:
    store = MemoryRuleStore()
    hook(rules_dir(tmp_path), store)
    (tmp_path / "approval.rule").write_text(BROKEN, encoding="utf-8")
    live = hook(tmp_path, store)
    tables = empty_tables()
    [alert] = live.on_tick(tables, at(2, 12))
    where = f"{tmp_path / 'approval.rule'}:5:12"
    assert alert.rule_id == LOAD_RULE_ID == "RULESET-LOAD"
    assert (alert.severity, alert.status, alert.at) == ("critical", "firing", at(2, 12))
    assert alert.key == {"file": "approval.rule"}
    assert alert.fingerprint == fingerprint("RULESET-LOAD", "", {"file": "approval.rule"})
    assert alert.values == {
        "errors": [f"{where}: E207 unknown severity 'critcal'"],
        "last_good": True,
    }
    assert alert.message == (
        f"{tmp_path / 'approval.rule'} does not load (1 error(s)); its last good version runs: "
        f"{where}: E207 unknown severity 'critcal'"
    )
    assert alert.source == f"{tmp_path / 'approval.rule'}:5"
    assert alert.rule_set == live.status()["version"]
    assert live.on_tick(tables, at(2, 13)) == []  # said once, not at every tick


def test_fixing_the_file_resolves_its_alert(tmp_path: Path) -> None:
    mono = FakeTime()
    live = hook(rules_dir(tmp_path, BROKEN), MemoryRuleStore(), mono)
    tables = empty_tables()
    [fired] = live.on_tick(tables, at(2, 12))
    assert fired.values["last_good"] is False and "its rules are off" in fired.message

    (tmp_path / "approval.rule").write_text(APPROVAL, encoding="utf-8")
    mono.t += 4
    assert live.on_tick(tables, at(2, 13)) == []  # not checked yet: every 5 s
    mono.t += 2
    [resolved] = live.on_tick(tables, at(2, 14))
    assert (resolved.fingerprint, resolved.status, resolved.at) == (
        fired.fingerprint,
        "resolved",
        at(2, 14),
    )
    # the values at resolution, and what resolved it (issue 9): no error left
    assert fired.values["errors"] != [] and resolved.values == {**fired.values, "errors": []}
    assert resolved.message.startswith("Resolved: approval.rule loads again (rule set ")
    assert resolved.rule_set == live.status()["version"]
    assert live.status()["errors"] == [] and list(live.engine.rules) == ["APR-1"]
    assert live.on_tick(tables, at(2, 15)) == []


def test_a_worker_restarted_after_the_fix_still_resolves_the_alert(tmp_path: Path) -> None:
    store = MemoryRuleStore()
    tables = empty_tables()  # changelog-backed in the worker: they outlive the process
    [fired] = hook(rules_dir(tmp_path, BROKEN), store).on_tick(tables, at(2, 12))
    rules_dir(tmp_path, APPROVAL)
    [resolved] = hook(tmp_path, store).on_tick(tables, at(2, 13))
    assert (resolved.fingerprint, resolved.status) == (fired.fingerprint, "resolved")


def test_a_new_mistake_in_a_broken_file_fires_again_with_the_new_diagnostics(
    tmp_path: Path,
) -> None:
    mono = FakeTime()
    live = hook(rules_dir(tmp_path, BROKEN), MemoryRuleStore(), mono)
    tables = empty_tables()
    [first] = live.on_tick(tables, at(2, 12))
    (tmp_path / "approval.rule").write_text(BROKEN.replace("critcal", "urgent"), encoding="utf-8")
    mono.t += 6
    [second] = live.on_tick(tables, at(2, 13))
    assert second.fingerprint == first.fingerprint and second.status == "firing"
    assert second.values["errors"] == [
        f"{tmp_path / 'approval.rule'}:5:12: E207 unknown severity 'urgent'"
    ]


def test_each_broken_file_has_its_own_alert(tmp_path: Path) -> None:
    directory = rules_dir(tmp_path, BROKEN)
    (directory / "other.rule").write_text("rule X {", encoding="utf-8")
    live = hook(directory, MemoryRuleStore())
    alerts = live.on_tick(empty_tables(), at(2, 12))
    assert sorted(a.key["file"] for a in alerts) == ["approval.rule", "other.rule"]
    assert len({a.fingerprint for a in alerts}) == 2


def test_a_rule_that_fails_on_its_data_is_counted_in_the_status(tmp_path: Path) -> None:
    """Operators see which rule could not be judged on the data, not only in the log."""

    def no_such_year(env: object) -> bool:
        raise EvaluationFailed("rules/x.rule:5:8: is_working_day(): no such year")

    live = hook(rules_dir(tmp_path), MemoryRuleStore())
    broken = CompiledRule(
        id="BROKEN",
        name="a calendar out of range",
        source="rules/x.rule:1",
        kind="event",
        triggers=frozenset({"order.scheduled"}),
        where=None,
        key_fields=("order_id",),
        when=no_such_year,
        outcome=outcome(lambda env: "never"),
    )
    live.engine = Engine([*(p.rule for p in live.engine.rules.values()), broken], {})
    [alert] = big_order(empty_tables(), live)  # APR-1 fires; BROKEN cannot be judged
    assert alert.rule_id == "APR-1"
    assert live.status()["evaluation_failures"] == {"BROKEN": 1}


def test_a_calendar_with_an_impossible_date_is_a_diagnostic_for_the_worker() -> None:
    """Not a ValueError that takes the worker's reload down: a line the operator can act on."""
    broken = CALENDAR.replace("2026-01-01", "2026-02-30", 1)
    calendar, errors = parse_calendar(broken, "calendars/cn.yaml")
    assert calendar is None
    assert errors == (
        "calendars/cn.yaml:11:12: E010 holidays[0].from: '2026-02-30' is not a date YYYY-MM-DD",
    )
