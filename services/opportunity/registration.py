"""Registering an opportunity: the pipeline that applies, the customer's owner (from the
projection, else asked of the customer service), feasibility, the lock to the registrant."""

from __future__ import annotations

from common import clock
from common.actor import Actor, Freshness
from common.db import Db
from common.errors import DuplicateCustomer, NotFound
from common.projection import Owners
from services.opportunity import domain, facts
from services.opportunity.core import choose_pipeline, start_clock
from services.opportunity.facts import fact, pipeline_rules
from services.opportunity.models import OPEN, CustomerOwner, Opportunity
from services.opportunity.schemas import opportunity_out
from services.opportunity.sweep import add_history

CUSTOMER_NOT_FOUND = "客户不存在 / Customer not found"
CUSTOMER_HELD = "该客户已由其他业务员跟进 / This customer is held by another salesperson"


def register(db: Db, actor: Actor, args: dict, owners: Owners, fresh: Freshness) -> dict:
    customer_id = args["customer_id"]
    with db.read() as session:
        row = choose_pipeline(session, actor, args["pipeline_id"])
        rules = pipeline_rules(row)
        known = session.get(CustomerOwner, customer_id)
    if known is not None and fresh.stale("customer", customer_id, known.as_of):
        known = None  # older than a change the caller just made: ask the customer service
    owner_id = _customer_owner(db, owners, actor, customer_id, known)
    score = domain.check_feasible(rules, args["qualification"])
    with db.unit_of_work() as uow:
        session = uow.session
        now = clock.now()
        if not owner_id:  # nobody owns it: the registrant does from now on
            claimed = session.execute(
                CustomerOwner.__table__.update()
                .where(CustomerOwner.customer_id == customer_id, CustomerOwner.owner_id.is_(None))
                .values(owner_id=actor.id)
            )
            if claimed.rowcount != 1:
                raise DuplicateCustomer(CUSTOMER_HELD, {"customer_id": str(customer_id)})
        opp = Opportunity(
            customer_id=customer_id,
            title=args["title"],
            amount_fen=args["amount"],
            pipeline_id=row.id,
            owner_id=actor.id,
            owner_path=actor.path_prefix,
            holder_id=actor.id,
            holder_path=actor.path_prefix,
            status=OPEN,
            stage_key=rules.stages[0].key,
            stage_index=0,
            feasibility_score=score,
            created_at=now,
        )
        start_clock(opp, rules, now)
        session.add(opp)
        session.flush()
        add_history(session, opp, now, "registered", actor.id, None, opp.stage_key)
        uow.publish("registered", {**fact(opp, rules, now, actor.id), "feasibility_score": score})
        return uow.answer(opportunity_out(opp, rules))


def _customer_owner(
    db: Db, owners: Owners, actor: Actor, customer_id: int, known: CustomerOwner | None
) -> str | None:
    """Who owns the customer (None: nobody yet), or a refusal. The projection answers when it
    says the caller may have it; a customer it has not seen, or one it says another holds, is
    asked of the customer service (the caller may have just registered it, or just been handed
    it). A customer service that does not answer in time is a 503, never a "not found"."""
    if known is not None and known.owner_id in (None, actor.id):
        return known.owner_id
    found = owners.refresh(db, facts.CUSTOMERS, [customer_id])
    if found:
        owner_id = found[0]["owner_id"] or None
    elif known is None:
        raise NotFound(CUSTOMER_NOT_FOUND, {"customer_id": str(customer_id)})
    else:  # the customer service does not know it: the projection's word stands
        owner_id = known.owner_id
    if owner_id and owner_id != actor.id:
        raise DuplicateCustomer(CUSTOMER_HELD, {"customer_id": str(customer_id), "yours": False})
    return owner_id
