"""Advancing an opportunity: the holder moves it one stage forward, on a fresh deadline."""

from __future__ import annotations

from common.actor import Actor
from common.db import Db
from services.opportunity import domain
from services.opportunity.core import apply_change, require_holder, start_clock
from services.opportunity.facts import fact
from services.opportunity.models import OPEN
from services.opportunity.sweep import add_history


def advance(db: Db, actor: Actor, opportunity_id: int, note: str | None) -> dict:
    def apply(uow, opp, rules, now):
        require_holder(actor, opp, OPEN)
        nxt = domain.next_stage_for_advance(rules, opp.stage_index)
        before = opp.stage_key
        opp.stage_index, opp.stage_key = nxt, rules.stages[nxt].key
        start_clock(opp, rules, now)
        add_history(uow.session, opp, now, "advanced", actor.id, before, opp.stage_key, note)
        uow.publish(
            "stage_advanced",
            {**fact(opp, rules, now, actor.id), "from_stage": before, "note": note},
        )

    return apply_change(db, actor, opportunity_id, apply)
