"""The follow-up limit: work-log entries on an opportunity restart its follow-up clock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from common import clock
from common.db import Db
from common.events import Envelope
from services.opportunity.facts import rules_by_id
from services.opportunity.models import LOSS_PENDING, OPEN, Opportunity


def entries_imported(db: Db, event: Envelope) -> None:
    """worklog.entries_imported: the follow-up clocks of imported entries' opportunities."""
    latest: dict[int, datetime] = {}
    for item in event.payload()["items"]:
        if item.get("opportunity_id"):
            at, opp_id = datetime.fromisoformat(item["recorded_at"]), int(item["opportunity_id"])
            latest[opp_id] = max(at, latest.get(opp_id, at))
    with db.unit_of_work() as uow:
        if uow.first_time(event):
            for opp_id in sorted(latest):
                _followup(uow.session, opp_id, latest[opp_id])


def followup_logged(db: Db, events: list[Envelope]) -> None:
    """Work-log entries on opportunities: each one's follow-up clock restarts from its latest
    entry (the stage deadline is never extended by work). Entries without an opportunity
    (most of them) cost nothing."""
    events = [e for e in events if e.data.get("opportunity_id")]
    if not events:
        return
    with db.unit_of_work() as uow:
        session = uow.session
        latest: dict[int, datetime] = {}
        for event in events:
            if uow.first_time(event):
                data = event.payload()
                at = datetime.fromisoformat(data["recorded_at"])
                opp_id = int(data["opportunity_id"])
                latest[opp_id] = max(at, latest.get(opp_id, at))
        for opp_id in sorted(latest):  # one order everywhere: no deadlock between batches
            _followup(session, opp_id, latest[opp_id])


def _followup(session, opp_id: int, at: datetime) -> None:
    query = select(Opportunity).where(Opportunity.id == opp_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Opportunity)
    opp = session.scalar(query)
    if opp is None or opp.status not in (OPEN, LOSS_PENDING):
        return
    if opp.last_followup_at is None or clock.as_utc(opp.last_followup_at) < at:
        opp.last_followup_at = at
    rules = rules_by_id(session, opp.pipeline_id)
    if rules.followup_limit is not None:
        since = max(clock.as_utc(opp.last_followup_at), clock.as_utc(opp.stage_entered_at))
        opp.followup_deadline = since + rules.followup_limit
