"""The opportunity service: pipelines, the lock, stage deadlines, confiscation, read models.

Entrypoints only: each validates its arguments, calls one use case in ``handlers`` or
``readmodels`` and returns a JSON-ready dict shaped as the HTTP API answers
(docs/INTERFACES.md "opportunity").
"""

from __future__ import annotations

import logging

from nameko.rpc import rpc
from nameko.timer import timer

from common import config
from common.actor import CurrentActor, CurrentFreshness
from common.consumer import batch_event_consumer, event_consumer
from common.db import Database, command
from common.errors import BpcError
from common.people import KeepsPeople
from common.projection import Owners, once
from common.service import ServiceBase
from services.opportunity import facts, handlers, readmodels, schemas
from services.opportunity.models import Base, Opportunity, Person

log = logging.getLogger(__name__)


class OpportunityService(ServiceBase, KeepsPeople):
    """Opportunities on the clock: pipelines, lock, stage deadlines, confiscation."""

    name = "opportunity"
    db = Database(Base)
    actor = CurrentActor()
    people = Person
    people_paths = (Opportunity.holder_path, Opportunity.owner_path)
    fresh = CurrentFreshness()
    sources = facts.SOURCES
    mirrors = facts.MIRRORS

    # --- pipelines ---------------------------------------------------------------------

    @rpc
    def list_pipelines(self, **fields) -> dict:
        """Any user: the pipelines that apply to the caller (the group's default included)."""
        actor = self._caller()
        schemas.load(schemas.NoArgs, fields)
        return handlers.list_pipelines(self.db, actor)

    @rpc
    @command
    def create_pipeline(self, **fields) -> dict:
        """Level ≥ 6: a pipeline for the caller's subtree (validated by domain.parse_pipeline)."""
        actor = self._caller()
        return handlers.create_pipeline(self.db, actor, fields)

    # --- the opportunity's life ----------------------------------------------------------

    @rpc
    @command
    def register(self, **fields) -> dict:
        """Any user: register an opportunity, locked to the caller. Emits ``registered``."""
        actor = self._caller()
        args = schemas.load(schemas.RegisterIn, fields)
        return handlers.register(self.db, actor, args, Owners(self.peers), self.fresh)

    @rpc
    def get(self, **fields) -> dict:
        actor = self._caller()
        args = schemas.load(schemas.OpportunityRef, fields)
        return handlers.get(self.db, actor, args["opportunity_id"])

    @rpc
    def list(self, **fields) -> dict:
        actor = self._caller()
        args = schemas.load(schemas.ListIn, fields)
        return handlers.list_visible(self.db, actor, args)

    @rpc
    @command
    def advance(self, **fields) -> dict:
        """The holder: one stage forward, a fresh deadline. Emits ``stage_advanced``."""
        actor = self._caller()
        args = schemas.load(schemas.AdvanceIn, fields)
        return handlers.advance(self.db, actor, args["opportunity_id"], args["note"])

    @rpc
    @command
    def decide(self, **fields) -> dict:
        """The supervisor holding a confiscated opportunity: keep, return or reassign."""
        actor = self._caller()
        args = schemas.load(schemas.DecideIn, fields)
        return handlers.decide(
            self.db, actor, args["opportunity_id"], args["action"], args["assignee_id"],
            Owners(self.peers),
        )  # fmt: skip

    @rpc
    @command
    def win(self, **fields) -> dict:
        actor = self._caller()
        args = schemas.load(schemas.OpportunityRef, fields)
        return handlers.win(self.db, actor, args["opportunity_id"])

    @rpc
    @command
    def lose(self, **fields) -> dict:
        """The holder asks to close it as lost, with an autopsy; pending until approved."""
        actor = self._caller()
        args = schemas.load(schemas.LoseIn, fields)
        return handlers.lose(
            self.db, actor, args["opportunity_id"], args["reason"], args["analysis"]
        )

    @rpc
    @command
    def approve_loss(self, **fields) -> dict:
        """A supervisor (level ≥ 4) in the holder's chain approves the loss."""
        actor = self._caller()
        args = schemas.load(schemas.OpportunityRef, fields)
        return handlers.approve_loss(self.db, actor, args["opportunity_id"])

    @rpc
    def import_opportunities(self, **fields) -> dict:
        """Level 9: opportunities with their past, in batches of up to 1,000 (no events)."""
        actor = self._caller()
        args = schemas.load(schemas.ImportIn, fields)
        return handlers.import_opportunities(self.db, actor, args["items"])

    @rpc
    def export_history(self, **fields) -> dict:
        """Level 9: history rows in id order, paged (``after_id``, ``limit``), for rebuilds."""
        actor = self._caller()
        args = schemas.load(schemas.ExportIn, fields)
        return handlers.export_history(self.db, actor, args["after_id"], args["limit"])

    # --- the sweep -----------------------------------------------------------------------

    @rpc
    def sweep(self, **fields) -> dict:
        """Level 9: run the sweep now; answers what this run did."""
        actor = self._caller()
        actor.require_level(9)
        schemas.load(schemas.NoArgs, fields)
        return handlers.sweep_once(self.db)

    @timer(interval=config.sweep_interval())
    def sweep_on_timer(self) -> None:
        """Every instance sweeps on its own timer; the claims make each change happen once."""
        try:
            handlers.sweep_once(self.db)
        except BpcError as exc:
            log.warning("sweep skipped: %s", exc)

    # --- read models ---------------------------------------------------------------------

    @rpc
    def funnel(self, **fields) -> dict:
        actor = self._caller()
        args = schemas.load(schemas.FunnelIn, fields)
        return readmodels.funnel(self.db, actor, args["scope"] or "me", args["pipeline_id"])

    @rpc
    def forecast(self, **fields) -> dict:
        actor = self._caller()
        args = schemas.load(schemas.ForecastIn, fields)
        return readmodels.forecast(self.db, actor, args["scope"] or "me", args["months"] or 3)

    @rpc
    def workbench(self, **fields) -> dict:
        """Any user: near-deadline opportunities, the work list, the own forecast and (level
        ≥ 4) confiscated opportunities awaiting a decision, for the workbench."""
        actor = self._caller()
        args = schemas.load(schemas.WorkbenchIn, fields)
        return readmodels.workbench(self.db, actor, args["days"] or 3)

    @rpc
    def worklist(self, **fields) -> dict:
        actor = self._caller()
        args = schemas.load(schemas.WorklistIn, fields)
        return readmodels.worklist(self.db, actor, args["limit"] or 100)

    @rpc
    def targets(self, **fields) -> dict:
        actor = self._caller()
        args = schemas.load(schemas.TargetsIn, fields)
        return readmodels.targets(self.db, actor, args["scope"] or "me", args["month"])

    @rpc
    @command
    def set_target(self, **fields) -> dict:
        """A supervisor of the user (or level 9) sets the user's monthly target."""
        actor = self._caller()
        args = schemas.load(schemas.SetTargetIn, fields)
        return readmodels.set_target(
            self.db, actor, args["user_id"], args["month"], args["target"], Owners(self.peers)
        )

    @rpc
    def lost_reasons(self, **fields) -> dict:
        actor = self._caller()
        args = schemas.load(schemas.ScopeIn, fields)
        return readmodels.lost_reasons(self.db, actor, args["scope"] or "me")

    # --- events --------------------------------------------------------------------------

    @event_consumer("customer", "customer_registered")
    def on_customer_registered(self, event) -> None:
        facts.CUSTOMERS.from_event(self.db, event)

    @event_consumer("customer", "customer_handed_over")
    def on_customer_handed_over(self, event) -> None:
        once(self.db, event, facts.customer_handed_over)

    @event_consumer("customer", "customers_imported")
    def on_customers_imported(self, event) -> None:
        facts.CUSTOMERS.from_event(self.db, event)

    @event_consumer("worklog", "entries_imported")
    def on_entries_imported(self, event) -> None:
        """Imported entries on opportunities restart their follow-up clocks."""
        handlers.entries_imported(self.db, event)

    @batch_event_consumer("worklog", "entry_recorded", having=("opportunity_id",))
    def on_entry_recorded(self, events) -> None:
        """A log entry on an opportunity restarts its follow-up clock (follow-up limit)."""
        handlers.followup_logged(self.db, events)

    def person_left(self, event) -> None:
        """The leaver's opportunities pass to the supervisor, who decides. Emits
        ``confiscated`` (action ``handed_over``) per opportunity."""
        handlers.person_deactivated(self.db, event)
