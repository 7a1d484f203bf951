"""Closing an opportunity: the holder wins it, or asks to lose it with an autopsy, which a
supervisor in the holder's chain approves."""

from __future__ import annotations

from common.actor import Actor
from common.db import Db
from common.errors import Conflict, Forbidden
from common.projection import path_list
from services.opportunity import domain, learned
from services.opportunity.core import NOT_OPEN, apply_change, require_holder, stop_clock
from services.opportunity.facts import fact
from services.opportunity.models import LOSS_PENDING, LOST, OPEN, WON
from services.opportunity.sweep import add_history

NOT_APPROVER = (
    "只有上级主管（4 级及以上）可以批准丢单 / "
    "Only a supervisor (level 4 or above) in the chain may approve a loss"
)


def win(db: Db, actor: Actor, opportunity_id: int) -> dict:
    def apply(uow, opp, rules, now):
        require_holder(actor, opp, OPEN)
        won = domain.check_win(rules, opp.stage_index)
        before = opp.stage_key
        opp.status, opp.stage_index, opp.stage_key = WON, won, rules.stages[won].key
        opp.stage_entered_at = opp.closed_at = now
        stop_clock(opp)
        add_history(uow.session, opp, now, "won", actor.id, before, opp.stage_key)
        uow.publish("won", {**fact(opp, rules, now, actor.id), "reason": None, "analysis": None})

    answer = apply_change(db, actor, opportunity_id, apply)
    learned.forget()  # committed: the stage probabilities learn from it
    return answer


def lose(db: Db, actor: Actor, opportunity_id: int, reason, analysis) -> dict:
    reason, analysis = domain.validate_loss(reason, analysis)

    def apply(uow, opp, rules, now):
        require_holder(actor, opp, OPEN)
        opp.status, opp.loss_reason, opp.loss_analysis = LOSS_PENDING, reason, analysis
        add_history(uow.session, opp, now, "loss_requested", actor.id, OPEN, LOSS_PENDING, reason)
        uow.publish(
            "loss_requested",
            {**fact(opp, rules, now, actor.id), "reason": reason, "analysis": analysis},
        )

    return apply_change(db, actor, opportunity_id, apply)


def approve_loss(db: Db, actor: Actor, opportunity_id: int) -> dict:
    def apply(uow, opp, rules, now):
        if opp.status != LOSS_PENDING:
            raise Conflict(NOT_OPEN, {"status": opp.status}, code=domain.INVALID_TRANSITION)
        if not domain.may_approve_loss(actor.level, actor.id, path_list(opp.holder_path)):
            raise Forbidden(NOT_APPROVER)
        opp.status, opp.closed_at = LOST, now
        stop_clock(opp)
        add_history(uow.session, opp, now, "lost", actor.id, LOSS_PENDING, LOST, opp.loss_reason)
        uow.publish(
            "lost",
            {
                **fact(opp, rules, now, actor.id),
                "reason": opp.loss_reason,
                "analysis": opp.loss_analysis,
                "approved_by": actor.id,
            },
        )

    answer = apply_change(db, actor, opportunity_id, apply)
    learned.forget()  # committed: the stage probabilities learn from it
    return answer
