"""The scoring service: diligence, ability, honesty — computed from the other services' events.

Entrypoints only; facts are recorded once whichever way they arrive (``facts``), so events
delivered twice, or during a rebuild, count once.
"""

from __future__ import annotations

import logging

import eventlet

from common.actor import CurrentActor
from common.consumer import batch_event_consumer, event_consumer
from common.db import Database
from common.entrypoint import entrypoint
from common.people import KeepsPeople
from common.projection import people_mirror
from common.service import ServiceBase
from services.scoring import analyses, handlers, rebuild, schemas
from services.scoring.models import Base, Person

log = logging.getLogger(__name__)


class ScoringService(ServiceBase, KeepsPeople):
    """Derived scores: curves, leaderboards, fake-report analysis, early warnings."""

    name = "scoring"
    db = Database(Base)
    actor = CurrentActor()
    people = Person
    people_paths = ()
    mirrors = {"people": people_mirror(Person)}

    @entrypoint(schemas.NoArgs)
    def today(self, actor, args) -> dict:
        """Any user: their own day so far, with the rank by diligence in their team."""
        return handlers.today(self.db, actor)

    @entrypoint(schemas.CurvesIn)
    def curves(self, actor, args) -> dict:
        return handlers.curves(
            self.db, actor, args["user_id"], args["from_date"], args["to_date"],
            args["granularity"] or "day",
        )  # fmt: skip

    @entrypoint(schemas.LeaderboardIn)
    def leaderboard(self, actor, args) -> dict:
        """Any user: the group's boards are public (公开透明)."""
        return handlers.leaderboard(
            self.db, actor, args["metric"] or "diligence", args["period"] or "day",
            args["date"], args["scope"] or "group",
        )  # fmt: skip

    @entrypoint(schemas.NoArgs, level=9)
    def totals(self, actor, args) -> dict:
        """Level 9: every aggregate, to compare incremental processing with a rebuild."""
        return handlers.totals(self.db)

    @entrypoint(schemas.NoArgs, level=9)
    def rebuild(self, actor, args) -> dict:
        """Level 9: drop scoring's data and replay the history in the background; answers the
        rebuild's status at once (``rebuild_status`` follows it). While a rebuild runs — in
        this instance, another one or the CLI — it is not started again."""
        token = rebuild.claim(self.db)
        if token is not None:
            report = rebuild.Reporter(self.db, token)
            job = handlers.Rebuild(self.db, rebuild.fetch_over_rpc, report=report)
            eventlet.spawn_n(rebuild.run, self.db, token, job)
        return rebuild.status(self.db)

    @entrypoint(level=9)  # whatever arguments come are ignored, as they always were
    def rebuild_status(self, actor, args) -> dict:
        return rebuild.status(self.db)

    @batch_event_consumer("worklog", "entry_recorded")
    def on_entry_recorded(self, events) -> None:
        """Every log entry, in batches of those that arrive together: one transaction each."""
        handlers.entry_recorded(self.db, events)

    @event_consumer("opportunity", "registered")
    def on_registered(self, event) -> None:
        handlers.opportunity_event(self.db, event)

    @event_consumer("opportunity", "stage_advanced")
    def on_stage_advanced(self, event) -> None:
        handlers.opportunity_event(self.db, event)

    @event_consumer("opportunity", "won")
    def on_won(self, event) -> None:
        handlers.opportunity_event(self.db, event)

    @event_consumer("opportunity", "confiscated")
    def on_confiscated(self, event) -> None:
        handlers.opportunity_event(self.db, event)

    @event_consumer("opportunity", "decided")
    def on_decided(self, event) -> None:
        handlers.opportunity_event(self.db, event)

    @event_consumer("customer", "visit_denied")
    def on_visit_denied(self, event) -> None:
        """A customer-care revisit denied a claimed visit: that entry is proven false."""
        handlers.visit_denied(self.db, event)

    @event_consumer("alerts", "response_posted")
    def on_response_posted(self, event) -> None:
        """Someone answered another person's alarm: the managers' "alarms supported"."""
        handlers.response_posted(self.db, event)

    @event_consumer("customer", "contact_unmasked")
    def on_contact_unmasked(self, event) -> None:
        handlers.access_event(self.db, event)

    @event_consumer("customer", "customers_exported")
    def on_customers_exported(self, event) -> None:
        handlers.access_event(self.db, event)

    @entrypoint(schemas.RangeIn, level=5)
    def fake_reports(self, actor, args) -> dict:
        """Level 5: the fake-report analysis of the scope's entries (default: the last 30
        days) by stage and by person, with the count per indicator."""
        return analyses.fake_reports(
            self.db, actor, args["scope"] or "subtree", args["from_date"], args["to_date"]
        )

    @entrypoint(schemas.ScopeIn, level=5)
    def early_warnings(self, actor, args) -> dict:
        """Level 5: the resignation risk of each person of the scope, highest first."""
        return analyses.early_warnings(self.db, actor, args["scope"] or "subtree")

    @entrypoint(schemas.ScopeIn, level=4)
    def trainees(self, actor, args) -> dict:
        """Level 4: keep / watch / let-go for the level-1 people of the scope."""
        return analyses.trainees(self.db, actor, args["scope"] or "subtree")

    @entrypoint(schemas.ScopeIn, level=6)
    def managers(self, actor, args) -> dict:
        """Level 6: the responsibility figures of the supervisors (level ≥ 4) of the scope."""
        return analyses.managers(self.db, actor, args["scope"] or "subtree")
