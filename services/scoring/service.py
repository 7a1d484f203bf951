"""The scoring service: diligence, ability, honesty — computed from the other services' events.

Entrypoints only; facts are recorded once whichever way they arrive (``facts``), so events
delivered twice, or during a rebuild, count once.
"""

from __future__ import annotations

import logging

import eventlet
from nameko.rpc import rpc

from common.actor import CurrentActor
from common.consumer import batch_event_consumer, event_consumer
from common.db import Database
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

    @rpc
    def today(self, **fields) -> dict:
        """Any user: their own day so far, with the rank by diligence in their team."""
        actor = self._caller()
        schemas.load(schemas.NoArgs, fields)
        return handlers.today(self.db, actor)

    @rpc
    def curves(self, **fields) -> dict:
        actor = self._caller()
        args = schemas.load(schemas.CurvesIn, fields)
        return handlers.curves(
            self.db, actor, args["user_id"], args["from_date"], args["to_date"],
            args["granularity"] or "day",
        )  # fmt: skip

    @rpc
    def leaderboard(self, **fields) -> dict:
        """Any user: the group's boards are public (公开透明)."""
        actor = self._caller()
        args = schemas.load(schemas.LeaderboardIn, fields)
        return handlers.leaderboard(
            self.db, actor, args["metric"] or "diligence", args["period"] or "day",
            args["date"], args["scope"] or "group",
        )  # fmt: skip

    @rpc
    def totals(self, **fields) -> dict:
        """Level 9: every aggregate, to compare incremental processing with a rebuild."""
        self._caller().require_level(9)
        schemas.load(schemas.NoArgs, fields)
        return handlers.totals(self.db)

    @rpc
    def rebuild(self, **fields) -> dict:
        """Level 9: drop scoring's data and replay the history in the background; answers the
        rebuild's status at once (``rebuild_status`` follows it). While a rebuild runs — in
        this instance, another one or the CLI — it is not started again."""
        self._caller().require_level(9)
        schemas.load(schemas.NoArgs, fields)
        token = rebuild.claim(self.db)
        if token is not None:
            report = rebuild.Reporter(self.db, token)
            job = handlers.Rebuild(self.db, rebuild.fetch_over_rpc, report=report)
            eventlet.spawn_n(rebuild.run, self.db, token, job)
        return rebuild.status(self.db)

    @rpc
    def rebuild_status(self, **fields) -> dict:
        self._caller().require_level(9)
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

    @rpc
    def fake_reports(self, **fields) -> dict:
        """Level 5: the fake-report analysis of the scope's entries (default: the last 30
        days) by stage and by person, with the count per indicator."""
        actor = self._caller()
        actor.require_level(5)
        args = schemas.load(schemas.RangeIn, fields)
        return analyses.fake_reports(
            self.db, actor, args["scope"] or "subtree", args["from_date"], args["to_date"]
        )

    @rpc
    def early_warnings(self, **fields) -> dict:
        """Level 5: the resignation risk of each person of the scope, highest first."""
        actor = self._caller()
        actor.require_level(5)
        args = schemas.load(schemas.ScopeIn, fields)
        return analyses.early_warnings(self.db, actor, args["scope"] or "subtree")

    @rpc
    def trainees(self, **fields) -> dict:
        """Level 4: keep / watch / let-go for the level-1 people of the scope."""
        actor = self._caller()
        actor.require_level(4)
        args = schemas.load(schemas.ScopeIn, fields)
        return analyses.trainees(self.db, actor, args["scope"] or "subtree")

    @rpc
    def managers(self, **fields) -> dict:
        """Level 6: the responsibility figures of the supervisors (level ≥ 4) of the scope."""
        actor = self._caller()
        actor.require_level(6)
        args = schemas.load(schemas.ScopeIn, fields)
        return analyses.managers(self.db, actor, args["scope"] or "subtree")
