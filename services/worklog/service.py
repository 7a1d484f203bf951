"""The worklog service: the immutable daily log (点一下、打个勾、填个数字) with hash chains.

Entrypoints only: each validates its arguments, calls one use case in ``handlers`` and
returns a JSON-ready dict shaped as the HTTP API answers (docs/INTERFACES.md "worklog").
"""

from __future__ import annotations

from nameko.rpc import rpc

from common.actor import CurrentActor, CurrentFreshness
from common.consumer import event_consumer
from common.db import Database, command
from common.people import KeepsPeople
from common.projection import Owners, once
from common.service import ServiceBase
from services.worklog import facts, handlers, schemas
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

    @rpc
    def activities(self, **fields) -> dict:
        self._caller()
        schemas.load(schemas.NoArgs, fields)
        return handlers.activities(self.db)

    @rpc
    def put_activity(self, **fields) -> dict:
        """Level ≥ 6: add or replace an activity of the catalog."""
        actor = self._caller()
        return handlers.put_activity(self.db, actor, fields)

    @rpc
    def record(self, **fields) -> dict:
        """Any user: one entry by the caller, appended to their hash chain.
        Emits ``entry_recorded``."""
        actor = self._caller()
        args = schemas.load(schemas.RecordIn, fields)
        return handlers.record(self.db, actor, args, Owners(self.peers), self.fresh)

    @rpc
    def get(self, **fields) -> dict:
        actor = self._caller()
        args = schemas.load(schemas.EntryRef, fields)
        return handlers.get(self.db, actor, args["entry_id"])

    @rpc
    def list(self, **fields) -> dict:
        actor = self._caller()
        args = schemas.load(schemas.ListIn, fields)
        return handlers.list_visible(self.db, actor, args)

    @rpc
    @command
    def add_note(self, **fields) -> dict:
        """The author appends a note; the entry itself never changes."""
        actor = self._caller()
        args = schemas.load(schemas.NoteIn, fields)
        return handlers.add_note(self.db, actor, args["entry_id"], args["text"])

    @rpc
    def verify(self, **fields) -> dict:
        actor = self._caller()
        args = schemas.load(schemas.VerifyIn, fields)
        return handlers.verify(self.db, actor, args["author_id"])

    @rpc
    def import_entries(self, **fields) -> dict:
        """Level 9: past entries in pages of up to 10,000, chained as recording would (no
        events; demo data, migrations)."""
        actor = self._caller()
        actor.require_level(9)
        args = schemas.load(schemas.ImportIn, fields)
        return handlers.import_entries(self.db, actor, args["items"])

    @rpc
    def export_entries(self, **fields) -> dict:
        actor = self._caller()
        args = schemas.load(schemas.ExportIn, fields)
        return handlers.export_entries(
            self.db, actor, args["after_id"], args["limit"], args["format"]
        )

    @event_consumer("alerts", "alarm_raised")
    def on_alarm_raised(self, event) -> None:
        """An alarm raised from an entry's difficulty: the entry shows its ``alarm_id``."""
        handlers.alarm_raised(self.db, event)

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
