"""What the assessment reads from a rule set: the SLA steps, PLAN-1's deadline, the calendar.

Read from the compiled rules, so the numbers stay in the rule files (a changed deadline or
a new SLA step changes the KPIs without a code change)."""

from __future__ import annotations

import re
from datetime import time

from dsl.calendar import Calendar
from dsl.compiled import CompiledRule
from streams.core.assessment.facts import FactRules, sla_starts
from streams.core.assessment.kpis import AssessmentRules
from streams.core.ruleload import RuleSet

PLAN_RULE = "PLAN-1"
# The ten steps of the time-management policy; SLA-6-DELAY and SLA-10-RECEIPT are breaches
# like any other, but not steps of their own.
SLA_STEP = re.compile(r"SLA-\d+")


def _calendar(rules: tuple[CompiledRule, ...], rule_set: RuleSet) -> Calendar:
    """The working calendar of the SLA and planning rules (the first that names one)."""
    for rule in rules:
        named = rule.calendar in rule_set.calendars if rule.calendar else False
        if named and (rule.id.startswith("SLA-") or rule.id == PLAN_RULE):
            return rule_set.calendars[str(rule.calendar)]
    return rule_set.default_calendar


def assessment_rules(rule_set: RuleSet) -> tuple[FactRules, AssessmentRules]:
    """The facts' and the KPIs' view of ``rule_set``; the business zone is the default
    calendar's (``ORDERHUB_TIMEZONE``)."""
    rules = rule_set.rules
    plan = next((r for r in rules if r.id == PLAN_RULE and r.schedule is not None), None)
    deadline = None
    if plan is not None and plan.schedule is not None:
        deadline = (plan.schedule.day, time(*plan.schedule.at))
    sla = tuple(r.id for r in rules if r.kind == "deadline" and SLA_STEP.fullmatch(r.id))
    facts = FactRules(
        zone=rule_set.default_calendar.zone,
        sla_starts=sla_starts(r for r in rules if SLA_STEP.fullmatch(r.id)),
    )
    kpis = AssessmentRules(
        calendar=_calendar(rules, rule_set),
        sla_rules=sla,
        plan_rule=PLAN_RULE,
        plan_deadline=deadline,
    )
    return facts, kpis
