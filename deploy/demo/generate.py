"""Write ``deploy/demo/events.jsonl``: one seeded, realistic week of OrderHub events.

Mon 2026-11-02 .. Sun 2026-11-08, Asia/Shanghai time (+08:00), four sales regions and three
product models: limits, stock, forecasts and plans at the start of the week, then orders
moving through their lifecycle, and three malformed records that the worker must
dead-letter. Deterministic: the same seed writes the same file.

The file starts with 18 lines from October (master data of Wed 21 October and the history
of one special order still in stock on 2 November: DEP-2/3 need more than the week's 7
days); times never go back, the file is sorted by event time.

The flow of a regular order: received → entered (≤ 1 h) → confirmed by sales (≤ 3 h) →
submitted to the order review, which sits on release days (Mondays and Thursdays, REL-1):
an order confirmed by 14:30 on a release day is reviewed the same day, any other waits for
09:00 on the next one → approved (≤ 2 h) → released by the sales clerk right after the
review → scheduled by production planning (≤ 1 h of approval, SLA-4: reviewing on release
days is what keeps approval and scheduling together) → production plan approved (≤ 3 h)
→ daily progress → produced → inspected → packed → shipped → customer informed →
delivered. Special orders (特殊订单) are signed off by the sales manager and the VP, pay a
30 % deposit, are released, put into stock (入库) and picked up by their region.

Most orders are clean. The stories, one per rule the demo shows (a replay of the file
fires each at least once; ``tests/deploy/test_demo.py`` keeps it so):

* CAP-1  SO-2611-025: a south dealer at the trade fair enters 420 X100, over the region's
         cap; sales calls back and the corrected entry (90) resolves the alert.
* CAP-2  SO-2611-026: east enters 300 X300 for a hotel project, over the premium model's
         stock upper limit; the sales manager rejects the order within the hour.
* APR-1  SO-2611-027: 120 X200 for north, 540,000 CNY, approved by the manager alone while
         the VP travels, then released and scheduled without senior approval (two firings).
* INV-1, INV-1-REPORTED  SO-2611-028: 60 X300 for west confirmed on Friday after
         Thursday's count found 45 X300 in the warehouse; the warehouse reports the
         shortage.
* DEP-1  SP-2611-003: a special order released on Thursday before the VP signed it (the
         VP signs on Friday).
* DEP-2 (tier 7d), DEP-3  SP-2610-001: a special order put into stock on Wed 28 October,
         not picked up until Friday 6 November: the 7-day tier fires on 4 November, and
         the pick-up after 9 days forfeits 10 % of the order value.
* CHG-1  SO-2611-009: the east dealer edits the confirmed configuration sheet himself,
         with no signed modification request.
* CHG-2  SO-2611-016: the customer phones to push delivery back; the change agreement is
         signed, but there is no written confirmation.
* REL-1  SO-2611-005 (Tuesday) and SO-2611-014 (Friday): confirmed on a non-release day,
         pushed through review and released the same day instead of waiting.
* REL-2, SLA-4  SO-2611-022: approved on Monday, the clerk forgets to release it,
         production reports the delay on Tuesday (sales not released: the clerk is fined)
         and it is released and scheduled on Thursday.
* SLA-1 SO-2611-003 entered 2½ h after receipt; SLA-2 SO-2611-004 confirmed the next
  morning; SLA-3 SO-2611-007 a four-hour review; SLA-4 SO-2611-010 scheduled after
  lunch; SLA-5 SO-2611-012 plan approved the next afternoon; SLA-6 SO-2611-013 a day
  without progress (MES outage); SLA-6-DELAY SO-2611-015 a supply delay reported 2½ h
  late; SLA-7 SO-2611-017 inspected the next morning; SLA-8 SO-2611-019 packed the next
  morning; SLA-9 SO-2611-011 waits for the next truck; SLA-10 SO-2611-020 customer told
  30 h after shipping. See ``STORIES``.
* DEL-1, DEL-1-ETA  SO-2611-018: delivery promised within five days of a Tuesday order,
         which is reviewed only on Thursday: not shipped 3 days before the promise, and
         the carrier then expects to arrive a day late.

CAP-LIMITS stays silent: every region and model has its limits on record.

    python -m deploy.demo.generate [--seed 2026] [--out deploy/demo/events.jsonl]
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from contract.events import parse_event

TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
MONDAY = date(2026, 11, 2)
WEEK_END = datetime.combine(MONDAY + timedelta(days=7), time(0), TZ)
REGIONS = ("north", "east", "south", "west")
MODELS = {"X100": Decimal("2800"), "X200": Decimal("4500"), "X300": Decimal("7200")}
# Model limits (CAP-2): X300 is the premium model, kept in small numbers.
MODEL_LIMITS = {"X100": (400, 600), "X200": (350, 520), "X300": (90, 120)}
# Region reasonable stock (CAP-1): east (Shanghai) is the biggest dealer.
REGION_STOCK = {"north": 260, "east": 420, "south": 300, "west": 240}
SENIOR_APPROVAL_ABOVE = Decimal("200000")
CLERKS = {"north": "clerk-zhao", "east": "clerk-qian", "south": "clerk-sun", "west": "clerk-li"}
RELEASE_WEEKDAYS = (0, 3)  # Monday, Thursday (REL-1)
REVIEW_SAME_DAY_BY = time(14, 30)  # confirmed later than this waits for the next release day
OUT = Path(__file__).with_name("events.jsonl")

Record = dict[str, Any]


@dataclass
class Week:
    """The events generated so far; drops anything after Sunday midnight."""

    records: list[Record] = field(default_factory=list)

    def add(self, event_id: str, type_: str, at: datetime, source: str, **fields: Any) -> None:
        if at >= WEEK_END:
            return  # beyond the demo week: the order is still under way
        record = {"event_id": event_id, "type": type_, "event_time": at.isoformat()}
        self.records.append({**record, "source": source, **fields})


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in the demo week: ``day`` 0 is Monday 2 November (negative: October)."""
    return datetime.combine(MONDAY + timedelta(days=day), time(hour, minute), TZ)


def master_data(week: Week, start: datetime, stock: dict[str, int], suffix: str = "") -> None:
    """The limits of every model and region, and the warehouse's count of each model."""
    for model, (reasonable, upper) in MODEL_LIMITS.items():
        week.add(
            f"lim-{model}{suffix}",
            "inventory.model_limits",
            start,
            "erp",
            model=model,
            reasonable_stock=reasonable,
            upper_limit=upper,
        )
        week.add(
            f"stock-{model}{suffix or '-mon'}",
            "inventory.stock_level",
            start,
            "wms",
            model=model,
            on_hand=stock[model],
        )
    for region in REGIONS:
        week.add(
            f"rlim-{region}{suffix}",
            "inventory.region_limits",
            start,
            "erp",
            region=region,
            reasonable_stock=REGION_STOCK[region],
        )


def reference_data(week: Week, rng: random.Random) -> None:
    """Master data as of Wednesday 21 October, for the October special order at the start of
    the file; then limits, stock, forecasts and plans, published early on Monday."""
    # The extract starts after 20 October 15:00, the deadline of November's plans, which
    # came in before it (so PLAN-1 has nothing to say about them).
    master_data(week, at(-12, 7), {model: rng.randint(200, 320) for model in MODELS}, "-1021")
    start = at(0, 7)
    master_data(week, start, {model: rng.randint(200, 320) for model in MODELS})
    for region in REGIONS:
        for model in MODELS:
            weekly = rng.randint(20, 60)
            key = f"{region}-{model}"
            week.add(
                f"fc-{key}",
                "plan.forecast",
                start,
                "erp",
                region=region,
                model=model,
                week_start=MONDAY.isoformat(),
                quantity=weekly,
            )
            week.add(
                f"wp-{key}",
                "plan.weekly",
                start,
                "erp",
                region=region,
                model=model,
                week_start=MONDAY.isoformat(),
                quantity=weekly + rng.randint(-5, 10),
            )
    # November's plans came in October. Two regions hand in December's plan this week,
    # well before the 20th; south and west have not yet (PLAN-1 fires on the 20th).
    for region in ("north", "east"):
        for model in MODELS:
            week.add(
                f"mp-{region}-{model}-2026-12",
                "plan.monthly",
                at(3, 14),
                "erp",
                region=region,
                month="2026-12",
                model=model,
                quantity=rng.randint(90, 200),
            )
    # Thursday's warehouse count: X300 is down to 45 (INV-1, SO-2611-028).
    for model in MODELS:
        week.add(
            f"stock-{model}-thu",
            "inventory.stock_level",
            at(3, 18),
            "wms",
            model=model,
            on_hand=45 if model == "X300" else rng.randint(150, 250),
        )


def is_release_day(day: date) -> bool:
    return day.weekday() in RELEASE_WEEKDAYS


def review_time(confirmed: datetime, rng: random.Random, hurried: bool = False) -> datetime:
    """When a confirmed order is submitted to the review: the same day if it is a release
    day and early enough (or when a clerk hurries it through), else 09:00–10:00 of the
    next release day."""
    if hurried or (is_release_day(confirmed.date()) and confirmed.time() <= REVIEW_SAME_DAY_BY):
        return confirmed + timedelta(minutes=10)
    day = confirmed.date() + timedelta(days=1)
    while not is_release_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, time(9), TZ) + timedelta(minutes=rng.choice((0, 10, 20, 30)))


def next_release_morning(after: datetime) -> datetime:
    day = after.date() + timedelta(days=1)
    while not is_release_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, time(9, 10), TZ)


@dataclass(frozen=True)
class Story:
    """What a demo order does besides the clean flow (nothing, for most)."""

    day: int | None = None  # the day it is received (0 = Monday); None: a random weekday
    hour: int | None = None  # the hour it is received; None: a random one, 8..15
    late_entry: bool = False  # SLA-1: entered two and a half hours after receipt
    slow_confirm: bool = False  # SLA-2: the sales rep confirms it the next morning
    slow_review: bool = False  # SLA-3: the review takes four hours
    slow_scheduling: bool = False  # SLA-4: the planner schedules it after lunch
    slow_plan: bool = False  # SLA-5: the production manager approves the plan next day
    progress_gap: bool = False  # SLA-6: the MES sends no progress for a day
    late_delay_report: bool = False  # SLA-6-DELAY: a delay reported hours after it showed
    slow_inspection: bool = False  # SLA-7: produced in the evening, inspected next morning
    slow_packing: bool = False  # SLA-8: packed after the evening shift change
    slow_shipping: bool = False  # SLA-9: the truck leaves five hours after packing
    late_notice: bool = False  # SLA-10: customer told 30 hours after shipping
    scattered_release: bool = False  # REL-1: released on a non-release day
    forgotten_release: bool = False  # REL-2 (and SLA-4): the clerk forgets to release it
    config_change: bool = False  # CHG-1: the region edits the configuration sheet
    unconfirmed_change: bool = False  # CHG-2: a phoned-in change, no written confirmation
    tight_promise: bool = False  # DEL-1: delivery promised within five days


def order_lifecycle(week: Week, rng: random.Random, n: int, story: Story) -> None:
    region, model = rng.choice(REGIONS), rng.choice(list(MODELS))
    oid = f"SO-2611-{n:03d}"
    qty = rng.randint(5, 40)
    amount = str(MODELS[model] * qty)
    keys = {"order_id": oid, "region": region, "model": model}
    day = story.day if story.day is not None else rng.choice((0, 0, 1, 2, 3, 3, 4))
    hour = story.hour if story.hour is not None else rng.randint(8, 15)
    received = at(day, hour, rng.choice((0, 15, 30, 45)))
    days_promised = 5 if story.tight_promise else rng.randint(7, 11)
    promised = (received + timedelta(days=days_promised)).date().isoformat()

    def ev(step: str, when: datetime, source: str = "erp", **fields: Any) -> None:
        week.add(f"{oid}-{step}", f"order.{step}", when, source, **keys, **fields)

    channel = rng.choice(("phone", "fax", "email", "web", "dealer_visit", "trade_fair"))
    ev(
        "received",
        received,
        "crm",
        channel=channel,
        quantity=qty,
        amount=amount,
        promised_date=promised,
    )
    entered = received + timedelta(minutes=150 if story.late_entry else rng.randint(15, 50))
    ev(
        "entered",
        entered,
        quantity=qty,
        amount=amount,
        promised_date=promised,
        priority=rng.choice(("normal", "normal", "high")),
    )
    confirmed = entered + timedelta(minutes=rng.randint(40, 160))
    if story.slow_confirm:  # the sales rep is out at a customer until the next morning
        confirmed = datetime.combine(entered.date() + timedelta(days=1), time(10, 40), TZ)
    ev("confirmed", confirmed, quantity=qty, amount=amount, promised_date=promised)
    if story.config_change:
        ev(
            "config_changed",
            confirmed + timedelta(hours=2),
            changed_by=f"{region}-dealer",
            modification_request=False,
        )
    if story.unconfirmed_change:
        change: dict[str, Any] = {"raises_cost": False, "delays_delivery": True}
        ev("change_requested", confirmed + timedelta(hours=1), **change)
        ev("change_approved", confirmed + timedelta(hours=3), **change, agreement_signed=True)
    submitted = review_time(confirmed, rng, hurried=story.scattered_release)
    ev("submitted", submitted)
    approved = submitted + timedelta(minutes=250 if story.slow_review else rng.randint(30, 100))
    senior = Decimal(amount) > SENIOR_APPROVAL_ABOVE
    ev(
        "approved",
        approved,
        approver="mgr-wang" if not senior else "vp-chen",
        level="senior" if senior else "standard",
    )
    released = approved + timedelta(minutes=rng.randint(5, 20))
    if story.forgotten_release:
        # Production finds an approved order with no sales order the next morning.
        ev(
            "delay_reported",
            datetime.combine(approved.date() + timedelta(days=1), time(9, 30), TZ),
            "mes",
            reason="approved order, no sales order released",
            cause="sales_not_released",
            clerk=CLERKS[region],
        )
        released = next_release_morning(approved)
    ev("released", released, quantity=qty, clerk=CLERKS[region])
    scheduled = released + timedelta(minutes=rng.randint(10, 30))
    if story.slow_scheduling:  # the planner is in a meeting until after lunch
        scheduled = approved + timedelta(hours=3, minutes=30)
    ev("scheduled", scheduled)
    plan_approved = scheduled + timedelta(minutes=rng.randint(60, 170))
    if story.slow_plan:  # the production manager signs the plan the next afternoon
        plan_approved = datetime.combine(scheduled.date() + timedelta(days=1), time(14), TZ)
    ev("plan_approved", plan_approved, "mes")
    days = rng.randint(1, 2) + (1 if story.progress_gap or story.late_delay_report else 0)
    produced = plan_approved + timedelta(days=days, hours=rng.randint(1, 4))
    for d in range(1, days + 1):
        progress = plan_approved + timedelta(days=d)
        if story.progress_gap and d == 1:
            progress += timedelta(hours=5)  # the MES was down; the update comes late
        delayed = story.late_delay_report and d == 1
        ev(
            f"progress-{d}",
            progress,
            "mes",
            percent_done=str(min(95, (30 if delayed else 50) * d)),
            delayed=delayed,
        )
        if delayed:
            ev(
                "delay_reported",
                progress + timedelta(hours=2, minutes=30),
                "mes",
                reason="castings late from the supplier",
                cause="supply",
            )
    ev("produced", produced, "mes")
    inspected = produced + timedelta(minutes=rng.randint(20, 55))
    if story.slow_inspection:  # the QC inspector is busy with a complaint
        inspected = produced + timedelta(hours=2, minutes=30)
        if produced.time() >= time(16):  # ... and then gone home: the next morning
            inspected = datetime.combine(produced.date() + timedelta(days=1), time(10, 15), TZ)
    ev("inspected", inspected, "qms", passed=True)
    packed = inspected + timedelta(minutes=rng.randint(30, 110))
    if story.slow_packing:  # left for the next morning's shift
        packed = datetime.combine(inspected.date() + timedelta(days=1), time(11, 40), TZ)
    ev("packed", packed, "wms")
    shipped = packed + timedelta(minutes=rng.randint(40, 170))
    if story.slow_shipping:  # the truck is full; the goods wait for the next one
        shipped = packed + timedelta(hours=5)
        if not time(9) <= packed.time() <= time(12):
            shipped = datetime.combine(packed.date() + timedelta(days=1), time(14, 30), TZ)
    ev("shipped", shipped, "wms", quantity=qty)
    week.add(
        f"{oid}-dispatch",
        "shipment.dispatched",
        shipped,
        "tms",
        shipment_id=f"SH-{oid}",
        **keys,
        quantity=qty,
        carrier=rng.choice(("SF", "JD", "Deppon")),
        eta=(shipped + timedelta(days=2)).isoformat(),
    )
    if story.tight_promise:  # the carrier expects to arrive a day after the promise
        week.add(
            f"{oid}-eta",
            "shipment.eta_updated",
            shipped + timedelta(hours=20),
            "tms",
            shipment_id=f"SH-{oid}",
            **keys,
            eta=datetime.combine(
                date.fromisoformat(promised) + timedelta(days=1), time(10), TZ
            ).isoformat(),
        )
    notice = timedelta(hours=30) if story.late_notice else timedelta(hours=rng.randint(1, 6))
    ev("customer_notified", shipped + notice, "crm")
    delivered = shipped + timedelta(days=rng.randint(1, 3))
    ev("delivered", delivered, "tms", quantity=qty)


def big_order(
    week: Week,
    n: int,
    region: str,
    model: str,
    qty: int,
    received: datetime,
    channel: str,
    **fields: Any,
) -> tuple[dict[str, Any], Any]:
    """The first steps of a staged order; returns its keys and its event writer."""
    oid = f"SO-2611-{n:03d}"
    keys = {"order_id": oid, "region": region, "model": model}

    def ev(step: str, when: datetime, source: str = "erp", **more: Any) -> None:
        week.add(f"{oid}-{step}", f"order.{step}", when, source, **keys, **more)

    money = {"quantity": qty, "amount": str(MODELS[model] * qty), **fields}
    ev("received", received, "crm", channel=channel, **money)
    ev("entered", received + timedelta(minutes=25), **money)
    return money, ev


def staged_orders(week: Week) -> None:
    """The orders that show the caps, the approval rule and the stock shortage."""
    # CAP-1: 420 X100 from the south dealer's trade-fair stand, entered Tuesday morning;
    # the sales manager calls back and the order is entered again at 90 units, which
    # resolves the alert. It then goes through the clean flow, reviewed on Thursday.
    received = at(1, 9, 15)
    money, ev = big_order(
        week, 25, "south", "X100", 420, received, "trade_fair", promised_date="2026-11-16"
    )
    corrected = {**money, "quantity": 90, "amount": str(MODELS["X100"] * 90)}
    ev("entered-2", received + timedelta(minutes=70), **corrected)
    ev("confirmed", received + timedelta(hours=2), **corrected)
    # CAP-2: 300 X300 for an east hotel project on Wednesday, over the premium model's
    # upper limit; the sales manager rejects it within the hour (it never counts in transit).
    received = at(2, 10)
    _, ev = big_order(week, 26, "east", "X300", 300, received, "email")
    ev(
        "rejected",
        received + timedelta(minutes=80),
        reviewer="mgr-wang",
        reason="over the X300 stock upper limit; split it into monthly call-offs",
    )
    # APR-1: 120 X200 for north, 540,000 CNY (≥ 500,000: needs senior approval). Confirmed
    # Monday afternoon, reviewed Thursday morning by the manager alone (the VP is
    # travelling), released and scheduled: APR-1 fires on both.
    received = at(0, 14)
    money, ev = big_order(
        week, 27, "north", "X200", 120, received, "dealer_visit", promised_date="2026-11-18"
    )
    ev("confirmed", received + timedelta(hours=2), **money)
    ev("submitted", at(3, 9))
    ev("approved", at(3, 10, 5), approver="mgr-wang", level="standard")
    ev("released", at(3, 10, 20), quantity=120, clerk=CLERKS["north"])
    ev("scheduled", at(3, 10, 45))
    ev("plan_approved", at(3, 13, 30), "mes")
    for d in (1, 2, 3):
        ev(f"progress-{d}", at(3 + d, 13, 30), "mes", percent_done=str(30 * d))
    # INV-1, INV-1-REPORTED: 60 X300 for west, confirmed Friday; Thursday's count found 45
    # X300. The warehouse reports the shortage; procurement has until Monday's review.
    received = at(4, 9, 30)
    money, ev = big_order(
        week, 28, "west", "X300", 60, received, "phone", promised_date="2026-11-20"
    )
    ev("confirmed", received + timedelta(hours=1, minutes=30), **money)
    week.add(
        "SO-2611-028-shortage",
        "inventory.shortage",
        received + timedelta(hours=3),
        "wms",
        order_id="SO-2611-028",
        region="west",
        model="X300",
        requested=60,
        available=45,
    )


@dataclass(frozen=True)
class Special:
    """A special order (特殊订单): sign-offs, a 30 % deposit, stock, pick-up."""

    oid: str
    region: str
    model: str
    qty: int
    received: datetime
    released: datetime
    stocked: datetime
    picked_up: datetime | None
    vp_signs: timedelta = timedelta(hours=4)  # after receipt


def special_order(week: Week, sp: Special) -> None:
    amount = MODELS[sp.model] * sp.qty
    keys = {"order_id": sp.oid, "region": sp.region, "model": sp.model}

    def ev(step: str, when: datetime, source: str = "erp", **fields: Any) -> None:
        week.add(f"{sp.oid}-{step}", f"order.{step}", when, source, **keys, **fields)

    money: dict[str, Any] = {"quantity": sp.qty, "amount": str(amount), "special": True}
    ev("received", sp.received, "crm", channel="dealer_visit", **money)
    ev("entered", sp.received + timedelta(minutes=30), **money)
    ev("confirmed", sp.received + timedelta(hours=2), **money)
    for role, signer, after in (
        ("sales_manager", "mgr-wang", timedelta(hours=3)),
        ("vice_president", "vp-chen", sp.vp_signs),
    ):
        ev(f"signed_off-{role}", sp.received + after, role=role, signer=signer, document="order")
    ev(
        "deposit_paid",
        sp.received + timedelta(hours=5),
        "finance",
        amount=str((amount * Decimal("0.30")).quantize(Decimal("0.01"))),
    )
    ev("released", sp.released, quantity=sp.qty, clerk=CLERKS[sp.region])
    week.add(f"{sp.oid}-stocked", "inventory.stocked", sp.stocked, "wms", **keys, quantity=sp.qty)
    if sp.picked_up is not None:
        ev("picked_up", sp.picked_up, "wms")


SPECIALS = (
    # DEP-2 tier 7d, DEP-3: ordered in October, in stock since Wed 28 October, picked up on
    # Friday 6 November (9 days): the 7-day tier fires on 4 November, 10 % is forfeited.
    Special("SP-2610-001", "south", "X200", 10, at(-12, 10), at(-11, 10), at(-5, 10), at(4, 15)),
    # Clean: east's special order, released Monday, picked up on Thursday.
    Special("SP-2611-001", "east", "X300", 8, at(0, 9, 30), at(0, 16), at(1, 14), at(3, 11)),
    # Still in stock at the end of the week; its 7 days run out next Wednesday.
    Special("SP-2611-002", "west", "X200", 12, at(1, 10), at(3, 10), at(4, 9), None),
    # DEP-1: released on Thursday before the VP signed (the VP signs Friday morning).
    Special(
        "SP-2611-003",
        "north",
        "X100",
        20,
        at(1, 11),
        at(3, 10, 30),
        at(6, 10),
        None,
        vp_signs=timedelta(days=2, hours=23),
    ),
)


def fix_types(records: list[Record]) -> list[Record]:
    """Step names carry a suffix to keep event ids unique; the type is the bare step."""
    for record in records:
        head, _, _ = record["type"].partition("-")
        record["type"] = head
    return records


MALFORMED = [
    b'{"event_id": "bad-1", "type": "order.received", "event_time": ',  # truncated JSON
    json.dumps(
        {
            "event_id": "bad-2",
            "type": "order.confirmed",
            "event_time": "2026-11-04T11:00:00+08:00",
            "source": "erp",
            "order_id": "SO-2611-999",
            "region": "south",
            "model": "X200",
            "quantity": -4,
            "amount": "0",
        }
    ).encode(),  # negative quantity
    json.dumps(
        {
            "event_id": "bad-3",
            "type": "order.teleported",
            "event_time": "2026-11-05T09:00:00+08:00",
            "source": "erp",
            "order_id": "SO-2611-998",
            "region": "west",
            "model": "X100",
        }
    ).encode(),
]

# Which regular order (SO-2611-NNN) shows which story; the day is the day it is received
# (0 = Monday), where the story needs one.
STORIES: dict[int, Story] = {
    3: Story(day=3, hour=15, late_entry=True),  # SLA-1
    4: Story(day=1, hour=10, slow_confirm=True),  # SLA-2
    5: Story(day=1, hour=10, scattered_release=True),  # REL-1
    7: Story(day=3, hour=9, slow_review=True),  # SLA-3
    9: Story(day=2, config_change=True),  # CHG-1
    10: Story(day=3, hour=9, slow_scheduling=True),  # SLA-4
    11: Story(day=0, hour=10, slow_shipping=True),  # SLA-9
    12: Story(day=0, hour=10, slow_plan=True),  # SLA-5
    13: Story(day=0, hour=9, progress_gap=True),  # SLA-6
    14: Story(day=4, hour=9, scattered_release=True),  # REL-1
    15: Story(day=3, hour=9, late_delay_report=True),  # SLA-6-DELAY
    16: Story(unconfirmed_change=True),  # CHG-2
    17: Story(day=0, hour=9, slow_inspection=True),  # SLA-7
    19: Story(day=0, hour=10, slow_packing=True),  # SLA-8
    18: Story(day=1, tight_promise=True),  # DEL-1, DEL-1-ETA
    20: Story(day=0, hour=9, late_notice=True),  # SLA-10
    22: Story(day=0, hour=10, forgotten_release=True),  # REL-2, SLA-4
}


def generate(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    week = Week()
    reference_data(week, rng)
    for n in range(1, 25):
        story = STORIES.get(n, Story(day=0 if n <= 2 else None))
        order_lifecycle(week, rng, n, story)
    staged_orders(week)
    for special in SPECIALS:
        special_order(week, special)
    records = sorted(fix_types(week.records), key=lambda r: (r["event_time"], r["event_id"]))
    for record in records:
        parse_event(record)  # every generated line must be valid; fail loudly if not
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in records]
    for i, bad in enumerate(MALFORMED):  # spread through the stream
        lines.insert((i + 1) * len(lines) // (len(MALFORMED) + 1), bad)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    lines = generate(args.seed)
    args.out.write_bytes(b"".join(line + b"\n" for line in lines))
    print(f"wrote {len(lines)} lines to {args.out}")


if __name__ == "__main__":
    main()
