"""The assessment ledger's record (考核台账), as published on the ``<prefix>.assessment`` topic.

Every breach of a rule and every fine is one entry, made from the alert that reported it: one
entry per alert identity (``fingerprint`` and the time the alert began to fire), never two,
however often the alert is delivered. A later ``assessment.void`` event voids an entry and the
ledger keeps both: the entry, and who voided it, when and why."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# The responsible departments a rule names with `label department = "..."`, after the
# time-management policy's 四、责任与考核: sales (entry, confirmation, informing the customer),
# the reviewing departments (review), production (scheduling, the plan, daily progress),
# quality (inspection), warehouse (packing), logistics (shipping).
DEPARTMENTS: tuple[str, ...] = (
    "sales",
    "review",
    "production",
    "quality",
    "warehouse",
    "logistics",
)
DEPARTMENT_LABEL = "department"


class LedgerEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    entry_id: str = Field(description="stable id: a hash of the alert's fingerprint and start")
    rule_id: str
    tier: str = Field("", description="the rule's tier or step, e.g. 'SLA-3' or a label")
    severity: str
    key: dict[str, str] = Field(description="the alert's business key")
    region: str | None = None
    who: str | None = Field(None, description="the person or role accountable (the penalty's)")
    department: str | None = Field(None, description="responsible department (rule label)")
    amount: Decimal = Field(Decimal(0), description="the fine; 0 for a breach without one")
    currency: Literal["CNY"] = "CNY"
    at: datetime = Field(description="event time the breach began (the alert's firing time)")
    fingerprint: str
    message: str = ""
    rule_set: str | None = None
    voided: bool = False
    void_reason: str | None = None
    voided_by: str | None = None
    voided_at: datetime | None = None
