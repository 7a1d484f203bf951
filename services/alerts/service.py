"""The alerts Nameko service: difficulty alarms (困难报警), responses, 方法有效, escalation.

Entrypoints only: each validates its arguments, calls one use case in the module of its
capability (``categories``, ``raising``, ``reading``, ``responding``, ``escalation``, ``stats``,
``imports``) and returns a JSON-ready dict shaped as the HTTP API answers (docs/API.md "Alarms
and experience").
"""

from __future__ import annotations

import logging

from nameko.timer import timer

from common import config
from common.actor import SYSTEM, CurrentActor, CurrentFreshness
from common.consumer import event_consumer
from common.db import Database
from common.entrypoint import entrypoint
from common.errors import BpcError, Forbidden
from common.people import KeepsPeople
from common.projection import Owners, once
from common.rpc import TimedRpc
from common.service import ServiceBase
from services.alerts import (
    categories,
    escalation,
    facts,
    imports,
    raising,
    reading,
    responding,
    schemas,
    shapes,
    stats,
)
from services.alerts.models import Alarm, Base, CustomerState, OpportunityState, Person

log = logging.getLogger(__name__)

NOT_YOUR_ENTRY = "只能为自己的日报报警 / Only the author raises an alarm from an entry"


class AlertsService(ServiceBase, KeepsPeople):
    """Difficulty alarms, responses and escalation."""

    name = "alerts"
    db = Database(Base)
    actor = CurrentActor()
    people = Person
    people_paths = (
        Alarm.requester_path,
        OpportunityState.holder_path,
        OpportunityState.owner_path,
        CustomerState.owner_path,
    )
    fresh = CurrentFreshness()
    peers = TimedRpc()
    sources = facts.SOURCES
    mirrors = facts.MIRRORS

    def _suggest(self, text: str, stage: str | None, category: str, kind: str) -> list[dict]:
        """The experience pool's most similar solved problems, within a short time bound; none
        when the pool does not answer in time (the alarm is raised all the same)."""
        if self.actor is None:
            self.peers.set_actor(SYSTEM)
        answer = self.peers.call_within(
            config.suggestion_timeout(),
            "experience",
            "suggest",
            q=text[:2000],
            stage=stage,
            category=category,
            kind=kind,
            limit=shapes.SUGGESTIONS,
        )
        return answer.get("items", [])

    @entrypoint(schemas.NoArgs)
    def categories(self, actor, args) -> dict:
        return categories.categories(self.db)

    @entrypoint(schemas.CategoryIn, command=True)
    def put_category(self, actor, args) -> dict:
        """Level ≥ 6: add, rename or retire an alarm category. Emits ``category_changed``."""
        return categories.put_category(self.db, actor, args)

    @entrypoint(command=True)  # its arguments are checked by the use case (domain.validate_raise)
    def raise_alarm(self, actor, args) -> dict:
        """Any user. Args: category, description, analysis?, opportunity_id?, customer_id?,
        amount?, kind?. Answers the alarm with ``suggestions``. Emits ``alarm_raised``."""
        return raising.raise_alarm(
            self.db, actor, args, self._suggest, Owners(self.peers), self.fresh
        )

    @entrypoint(schemas.EntryIn)
    def raise_from_entry(self, actor, args) -> dict | None:
        """The author, right after recording an entry with a difficulty: its alarm (created
        once; the ``entry_recorded`` event raises it too if this call never came)."""
        if args["author_id"] != actor.id:
            raise Forbidden(NOT_YOUR_ENTRY)
        return raising.raise_from_entry(self.db, args, self._suggest)

    @entrypoint(schemas.AlarmRef)
    def get(self, actor, args) -> dict:
        return reading.get(self.db, actor, args["alarm_id"])

    @entrypoint(schemas.BoardIn)
    def board(self, actor, args) -> dict:
        """Any user: the group-wide board, newest first. Args: status?, category?, kind?,
        stage?, requester_id?, opportunity_id?, mine?, to_help?, limit?, cursor?."""
        return reading.board(self.db, actor, args)

    @entrypoint(schemas.WorkbenchIn)
    def workbench(self, actor, args) -> dict:
        """Any user: the workbench's alarms in one call — ``mine`` (open, raised by the caller),
        ``to_help`` and, from level 4, ``unsupported`` (subordinates' open alarms nobody has
        answered; else None). Args: limit? (per list)."""
        return reading.workbench(self.db, actor, args["limit"])

    @entrypoint(schemas.RespondIn, command=True)
    def respond(self, actor, args) -> dict:
        """Anyone: an analysis or proposed method on an open alarm. Emits ``response_posted``."""
        return responding.respond(self.db, actor, args["alarm_id"], args["body"])

    @entrypoint(schemas.ResponseRef, command=True)
    def mark_response_effective(self, actor, args) -> dict:
        """方法有效, by the requester alone. Emits ``alarm_resolved``."""
        return responding.mark_response_effective(
            self.db, actor, args["alarm_id"], args["response_id"]
        )

    @entrypoint(schemas.SuggestionRef, command=True)
    def mark_suggestion_effective(self, actor, args) -> dict:
        """方法有效 on a suggested experience, by the requester alone. Emits ``alarm_resolved``
        (``via: suggestion``): the pool counts one reuse."""
        return responding.mark_suggestion_effective(
            self.db, actor, args["alarm_id"], str(args["experience_id"])
        )

    @entrypoint(schemas.StatsIn)
    def stats(self, actor, args) -> dict:
        """Any user: statistics of the alarms raised in a scope and period (docs/API.md)."""
        return stats.stats(self.db, actor, args)

    @entrypoint(schemas.ImportIn, level=9)
    def import_alarms(self, actor, args) -> dict:
        """Level 9: alarms with responses and resolutions at given times, without events."""
        return imports.import_alarms(self.db, actor, args["items"])

    @entrypoint(schemas.NoArgs, level=9, record_caller=False)
    def escalate(self, actor, args) -> dict:
        """Level 9: run the escalation sweep now."""
        return escalation.escalate_once(self.db)

    @timer(interval=config.escalation_interval())
    def escalate_on_timer(self) -> None:
        """Every instance sweeps on its own timer; the claims make each step happen once."""
        try:
            escalation.escalate_once(self.db)
        except BpcError as exc:
            log.warning("escalation sweep skipped: %s", exc)

    # --- events ------------------------------------------------------------------------------

    @event_consumer("worklog", "entry_recorded", having=("difficulty",))
    def on_entry_recorded(self, event) -> None:
        """An entry with a difficulty raises its alarm (once)."""
        raising.entry_recorded(self.db, event, self._suggest)

    @event_consumer("customer", "customer_registered")
    def on_customer_registered(self, event) -> None:
        facts.CUSTOMERS.from_event(self.db, event)

    @event_consumer("opportunity", "registered")
    def on_opportunity_registered(self, event) -> None:
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("opportunity", "stage_advanced")
    def on_stage_advanced(self, event) -> None:
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("opportunity", "won")
    def on_won(self, event) -> None:
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("opportunity", "lost")
    def on_lost(self, event) -> None:
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("opportunity", "confiscated")
    def on_confiscated(self, event) -> None:
        """Who holds it (who may see it) changes."""
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("opportunity", "decided")
    def on_decided(self, event) -> None:
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("opportunity", "loss_requested")
    def on_loss_requested(self, event) -> None:
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("opportunity", "opportunities_imported")
    def on_opportunities_imported(self, event) -> None:
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("customer", "customer_handed_over")
    def on_customer_handed_over(self, event) -> None:
        once(self.db, event, facts.customer_handed_over)

    @event_consumer("customer", "customers_imported")
    def on_customers_imported(self, event) -> None:
        facts.CUSTOMERS.from_event(self.db, event)
