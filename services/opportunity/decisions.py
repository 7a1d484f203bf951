"""Deciding on a confiscated opportunity: the supervisor holding it keeps it, returns it to
its original owner or reassigns it."""

from __future__ import annotations

from common.actor import Actor
from common.db import Db
from common.errors import Conflict
from common.projection import Owners, path_list, user_path
from services.opportunity import domain
from services.opportunity.core import apply_change, find_person, start_clock
from services.opportunity.facts import fact
from services.opportunity.models import Opportunity, Person
from services.opportunity.sweep import add_history

OWNER_INACTIVE = "原负责人已离职，请改派 / The original owner has left; reassign instead"


def decide(
    db: Db, actor: Actor, opportunity_id: int, action: str, assignee_id: str | None,
    owners: Owners,
):  # fmt: skip
    assignee = find_person(db, owners, assignee_id) if action == "reassign" else None
    assignee_path = path_list(assignee.path) if assignee and assignee.active else None
    if action == "return":
        with db.read() as session:
            held = session.get(Opportunity, opportunity_id)
        if held is not None and held.original_owner_id:
            find_person(db, owners, held.original_owner_id)  # known here before it is returned

    def apply(uow, opp, rules, now):
        outcome = domain.apply_decision(
            action,
            pipeline=rules,
            stage_index=opp.stage_index,
            status=opp.status,
            holder_id=opp.holder_id,
            decider_id=actor.id,
            decider_path=actor.path,
            original_owner_id=opp.original_owner_id,
            now=now,
            assignee_id=assignee_id,
            assignee_path=assignee_path,
        )
        session = uow.session
        if action == "return":
            person = session.get(Person, outcome.holder_id)
            if person is None or not person.active:
                raise Conflict(OWNER_INACTIVE, code=domain.INVALID_TRANSITION)
            new_path = person.path
        elif action == "reassign":
            new_path = user_path(assignee_path, outcome.holder_id)
        else:
            new_path = actor.path_prefix
        before = opp.holder_id
        original = opp.original_owner_id
        opp.status = outcome.status
        opp.holder_id, opp.holder_path = outcome.holder_id, new_path
        opp.original_owner_id = None
        start_clock(opp, rules, now)
        add_history(session, opp, now, "decided", actor.id, before, opp.holder_id, action)
        uow.publish(
            "decided",
            {
                **fact(opp, rules, now, actor.id),
                "action": action,
                "decided_by": actor.id,
                "original_owner_id": original,
            },
        )

    return apply_change(db, actor, opportunity_id, apply)
