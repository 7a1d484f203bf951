"""Pipelines: those that apply to the caller, and a new one for a supervisor's subtree
(validated by ``domain.parse_pipeline``)."""

from __future__ import annotations

from sqlalchemy import select

from common import clock
from common.actor import Actor
from common.db import Db
from services.opportunity import domain
from services.opportunity.core import pipeline_scope_filter
from services.opportunity.models import Pipeline
from services.opportunity.schemas import check_pipeline_fields, pipeline_out


def list_pipelines(db: Db, actor: Actor) -> dict:
    with db.read() as session:
        rows = session.scalars(
            select(Pipeline).where(pipeline_scope_filter(actor)).order_by(Pipeline.id)
        ).all()
        return {"items": [pipeline_out(r) for r in rows], "next_cursor": None}


def create_pipeline(db: Db, actor: Actor, fields: dict) -> dict:
    actor.require_level(6)
    check_pipeline_fields(fields)
    rules = domain.parse_pipeline(fields)
    definition = domain.pipeline_to_dict(rules)
    with db.unit_of_work() as uow:
        row = Pipeline(
            name=rules.name,
            definition=definition,
            scope_path=actor.path_prefix,
            is_default=False,
            created_by=actor.id,
            created_at=clock.now(),
        )
        uow.session.add(row)
        uow.session.flush()
        return uow.answer(pipeline_out(row))
