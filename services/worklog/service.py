"""The worklog service: the immutable daily log (点一下、打个勾、填个数字) with hash chains.

Entrypoints only: each validates its arguments, calls one use case in the module of its
capability (``catalog``, ``recording``, ``reading``, ``notes``, ``verifying``, ``imports``) and
returns a JSON-ready dict shaped as the HTTP API answers (docs/INTERFACES.md "worklog").
"""

from __future__ import annotations

from common.actor import CurrentActor, CurrentFreshness
from common.consumer import event_consumer
from common.db import Database
from common.entrypoint import entrypoint
from common.people import KeepsPeople
from common.projection import Owners, once
from common.service import ServiceBase
from services.worklog import (
    catalog,
    facts,
    imports,
    notes,
    reading,
    recording,
    schemas,
    verifying,
)
from services.worklog.models import Base, CustomerState, Person


class WorklogService(ServiceBase, KeepsPeople):
    """The immutable daily work log with hash chains."""

    name = "worklog"
    db = Database(Base)
    actor = CurrentActor()
    people = Person
    people_paths = (CustomerState.owner_path,)
    fresh = CurrentFreshness()
    sources = facts.SOURCES
    mirrors = facts.MIRRORS

    @entrypoint(schemas.NoArgs)
    def activities(self, actor, args) -> dict:
        return catalog.activities(self.db)

    @entrypoint()  # its arguments are checked by the use case (domain.parse_activity)
    def put_activity(self, actor, args) -> dict:
        """Level ≥ 6: add or replace an activity of the catalog."""
        return catalog.put_activity(self.db, actor, args)

    @entrypoint(schemas.RecordIn)  # once per request by its own log (entry_requests), no command
    def record(self, actor, args) -> dict:
        """Any user: one entry by the caller, appended to their hash chain.
        Emits ``entry_recorded``."""
        return recording.record(self.db, actor, args, Owners(self.peers), self.fresh)

    @entrypoint(schemas.EntryRef)
    def get(self, actor, args) -> dict:
        return reading.get(self.db, actor, args["entry_id"])

    @entrypoint(schemas.ListIn)
    def list(self, actor, args) -> dict:
        return reading.list_visible(self.db, actor, args)

    @entrypoint(schemas.NoteIn, command=True)
    def add_note(self, actor, args) -> dict:
        """The author appends a note; the entry itself never changes."""
        return notes.add_note(self.db, actor, args["entry_id"], args["text"])

    @entrypoint(schemas.VerifyIn)
    def verify(self, actor, args) -> dict:
        return verifying.verify(self.db, actor, args["author_id"])

    @entrypoint(schemas.ImportIn, level=9)
    def import_entries(self, actor, args) -> dict:
        """Level 9: past entries in pages of up to 10,000, chained as recording would (no
        events; demo data, migrations)."""
        return imports.import_entries(self.db, actor, args["items"])

    @entrypoint(schemas.ExportIn)
    def export_entries(self, actor, args) -> dict:
        return reading.export_entries(
            self.db, actor, args["after_id"], args["limit"], args["format"]
        )

    @event_consumer("alerts", "alarm_raised")
    def on_alarm_raised(self, event) -> None:
        """An alarm raised from an entry's difficulty: the entry shows its ``alarm_id``."""
        reading.alarm_raised(self.db, event)

    @event_consumer("opportunity", "registered")
    def on_opportunity_registered(self, event) -> None:
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("opportunity", "stage_advanced")
    def on_stage_advanced(self, event) -> None:
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("opportunity", "confiscated")
    def on_confiscated(self, event) -> None:
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("opportunity", "decided")
    def on_decided(self, event) -> None:
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("opportunity", "won")
    def on_won(self, event) -> None:
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("opportunity", "loss_requested")
    def on_loss_requested(self, event) -> None:
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("opportunity", "lost")
    def on_lost(self, event) -> None:
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("opportunity", "opportunities_imported")
    def on_opportunities_imported(self, event) -> None:
        facts.OPPORTUNITIES.from_event(self.db, event)

    @event_consumer("customer", "customer_registered")
    def on_customer_registered(self, event) -> None:
        """An entry's customer must exist and be one its author may work on."""
        facts.CUSTOMERS.from_event(self.db, event)

    @event_consumer("customer", "customer_handed_over")
    def on_customer_handed_over(self, event) -> None:
        once(self.db, event, facts.customer_handed_over)

    @event_consumer("customer", "customers_imported")
    def on_customers_imported(self, event) -> None:
        facts.CUSTOMERS.from_event(self.db, event)
