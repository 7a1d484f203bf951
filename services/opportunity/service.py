"""The opportunity service: pipelines, the lock, stage deadlines, confiscation, read models.

Entrypoints only: each validates its arguments, calls one use case in the module of its
capability (``pipelines``, ``registration``, ``reading``, ``advancing``, ``decisions``,
``closing``, ``confiscation``, ``followups``, ``imports``) or in ``readmodels`` and returns a
JSON-ready dict shaped as the HTTP API answers (docs/INTERFACES.md "opportunity").
"""

from __future__ import annotations

import logging

from nameko.timer import timer

from common import config
from common.actor import CurrentActor, CurrentFreshness
from common.consumer import batch_event_consumer, event_consumer
from common.db import Database
from common.entrypoint import entrypoint
from common.errors import BpcError
from common.people import KeepsPeople
from common.projection import Owners, once
from common.service import ServiceBase
from services.opportunity import (
    advancing,
    closing,
    confiscation,
    decisions,
    facts,
    followups,
    imports,
    pipelines,
    reading,
    readmodels,
    registration,
    schemas,
)
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

    @entrypoint(schemas.NoArgs)
    def list_pipelines(self, actor, args) -> dict:
        """Any user: the pipelines that apply to the caller (the group's default included)."""
        return pipelines.list_pipelines(self.db, actor)

    @entrypoint(command=True)  # its arguments are checked by the use case (parse_pipeline)
    def create_pipeline(self, actor, args) -> dict:
        """Level ≥ 6: a pipeline for the caller's subtree (validated by domain.parse_pipeline)."""
        return pipelines.create_pipeline(self.db, actor, args)

    # --- the opportunity's life ----------------------------------------------------------

    @entrypoint(schemas.RegisterIn, command=True)
    def register(self, actor, args) -> dict:
        """Any user: register an opportunity, locked to the caller. Emits ``registered``."""
        return registration.register(self.db, actor, args, Owners(self.peers), self.fresh)

    @entrypoint(schemas.OpportunityRef)
    def get(self, actor, args) -> dict:
        return reading.get(self.db, actor, args["opportunity_id"])

    @entrypoint(schemas.ListIn)
    def list(self, actor, args) -> dict:
        return reading.list_visible(self.db, actor, args)

    @entrypoint(schemas.AdvanceIn, command=True)
    def advance(self, actor, args) -> dict:
        """The holder: one stage forward, a fresh deadline. Emits ``stage_advanced``."""
        return advancing.advance(self.db, actor, args["opportunity_id"], args["note"])

    @entrypoint(schemas.DecideIn, command=True)
    def decide(self, actor, args) -> dict:
        """The supervisor holding a confiscated opportunity: keep, return or reassign."""
        return decisions.decide(
            self.db, actor, args["opportunity_id"], args["action"], args["assignee_id"],
            Owners(self.peers),
        )  # fmt: skip

    @entrypoint(schemas.OpportunityRef, command=True)
    def win(self, actor, args) -> dict:
        return closing.win(self.db, actor, args["opportunity_id"])

    @entrypoint(schemas.LoseIn, command=True)
    def lose(self, actor, args) -> dict:
        """The holder asks to close it as lost, with an autopsy; pending until approved."""
        return closing.lose(
            self.db, actor, args["opportunity_id"], args["reason"], args["analysis"]
        )

    @entrypoint(schemas.OpportunityRef, command=True)
    def approve_loss(self, actor, args) -> dict:
        """A supervisor (level ≥ 4) in the holder's chain approves the loss."""
        return closing.approve_loss(self.db, actor, args["opportunity_id"])

    @entrypoint(schemas.ImportIn)
    def import_opportunities(self, actor, args) -> dict:
        """Level 9: opportunities with their past, in batches of up to 1,000 (no events)."""
        return imports.import_opportunities(self.db, actor, args["items"])

    @entrypoint(schemas.ExportIn)
    def export_history(self, actor, args) -> dict:
        """Level 9: history rows in id order, paged (``after_id``, ``limit``), for rebuilds."""
        return imports.export_history(self.db, actor, args["after_id"], args["limit"])

    # --- the sweep -----------------------------------------------------------------------

    @entrypoint(schemas.NoArgs, level=9)
    def sweep(self, actor, args) -> dict:
        """Level 9: run the sweep now; answers what this run did."""
        return confiscation.sweep_once(self.db)

    @timer(interval=config.sweep_interval())
    def sweep_on_timer(self) -> None:
        """Every instance sweeps on its own timer; the claims make each change happen once."""
        try:
            confiscation.sweep_once(self.db)
        except BpcError as exc:
            log.warning("sweep skipped: %s", exc)

    # --- read models ---------------------------------------------------------------------

    @entrypoint(schemas.FunnelIn)
    def funnel(self, actor, args) -> dict:
        return readmodels.funnel(self.db, actor, args["scope"] or "me", args["pipeline_id"])

    @entrypoint(schemas.ForecastIn)
    def forecast(self, actor, args) -> dict:
        return readmodels.forecast(self.db, actor, args["scope"] or "me", args["months"] or 3)

    @entrypoint(schemas.WorkbenchIn)
    def workbench(self, actor, args) -> dict:
        """Any user: near-deadline opportunities, the work list, the own forecast and (level
        ≥ 4) confiscated opportunities awaiting a decision, for the workbench."""
        return readmodels.workbench(self.db, actor, args["days"] or 3)

    @entrypoint(schemas.WorklistIn)
    def worklist(self, actor, args) -> dict:
        return readmodels.worklist(self.db, actor, args["limit"] or 100)

    @entrypoint(schemas.TargetsIn)
    def targets(self, actor, args) -> dict:
        return readmodels.targets(self.db, actor, args["scope"] or "me", args["month"])

    @entrypoint(schemas.SetTargetIn, command=True)
    def set_target(self, actor, args) -> dict:
        """A supervisor of the user (or level 9) sets the user's monthly target."""
        return readmodels.set_target(
            self.db, actor, args["user_id"], args["month"], args["target"], Owners(self.peers)
        )

    @entrypoint(schemas.ScopeIn)
    def lost_reasons(self, actor, args) -> dict:
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
        followups.entries_imported(self.db, event)

    @batch_event_consumer("worklog", "entry_recorded", having=("opportunity_id",))
    def on_entry_recorded(self, events) -> None:
        """A log entry on an opportunity restarts its follow-up clock (follow-up limit)."""
        followups.followup_logged(self.db, events)

    def person_left(self, event) -> None:
        """The leaver's opportunities pass to the supervisor, who decides. Emits
        ``confiscated`` (action ``handed_over``) per opportunity."""
        confiscation.person_deactivated(self.db, event)
