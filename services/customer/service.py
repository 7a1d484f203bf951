"""The customer service: registration without duplicates, masked contacts, audited access.

Entrypoints only: each validates its arguments, calls one use case in ``handlers`` and
returns a JSON-ready dict shaped as the HTTP API answers (docs/INTERFACES.md "customer").
"""

from __future__ import annotations

import logging

from nameko.timer import timer

from common import config
from common.actor import CurrentActor
from common.consumer import batch_event_consumer, event_consumer
from common.db import Database
from common.entrypoint import entrypoint
from common.errors import BpcError
from common.people import KeepsPeople
from common.projection import Owners
from common.service import ServiceBase
from services.customer import care_cases, facts, handlers, schemas
from services.customer.models import Base, Customer, Person

log = logging.getLogger(__name__)


class CustomerService(ServiceBase, KeepsPeople):
    name = "customer"
    db = Database(Base)
    actor = CurrentActor()
    people = Person
    people_paths = (Customer.owner_path,)
    sources = facts.SOURCES
    mirrors = facts.MIRRORS

    @entrypoint(schemas.RegisterIn, command=True)
    def register(self, actor, args) -> dict:
        """Any user: register a customer owned by the caller.

        Args: name, uscc?, industry?, region?, founded_on?, referred_by?, contacts?.
        A uscc, normalised name or contact phone already registered → DuplicateCustomer.
        Emits ``customer_registered``.
        """
        return handlers.register(self.db, actor, args)

    @entrypoint(schemas.CheckIn)
    def check(self, actor, args) -> dict:
        """Any user: near-duplicates of a name (similarity ≥ 0.85), uscc or phone."""
        return handlers.check(self.db, actor, args)

    @entrypoint(schemas.CustomerRef)
    def get(self, actor, args) -> dict:
        """The owner and the owner's supervisor chain (level ≥ 4), level 9: one customer,
        contacts masked. Anyone else → NotFound."""
        return handlers.get(self.db, actor, args["customer_id"])

    @entrypoint(schemas.ContactRef, command=True)
    def unmask(self, actor, args) -> dict:
        """The owner and the owner's supervisor chain: one contact in full, within the daily
        quota of the caller's level (QuotaExceeded past it). Emits ``contact_unmasked``."""
        return handlers.unmask(self.db, actor, args["customer_id"], args["contact_id"])

    @entrypoint(schemas.ListIn)
    def list(self, actor, args) -> dict:
        """Any user: the customers visible to the caller, newest first, contacts masked.

        Args: q?, owner_id?, status?, limit (1..500, default 50), cursor?.
        """
        return handlers.list_visible(self.db, actor, args)

    @entrypoint(schemas.ExportIn)
    def export(self, actor, args) -> dict:
        """Level ≥ 6: CSV (UTF-8 with BOM) of every visible customer, contacts masked.
        Emits ``customers_exported``."""
        return handlers.export(self.db, actor)

    @entrypoint(schemas.ImportCustomersIn, level=9)
    def import_customers(self, actor, args) -> dict:
        """Level 9: customers with contacts, owners and care state, in pages of up to 5,000
        (demo data, migrations; no events)."""
        return handlers.import_customers(self.db, actor, args["items"])

    # --- customer care (docs/DOMAIN.md §7) -------------------------------------------------------

    @entrypoint(schemas.CareIn, command=True)
    def set_care(self, actor, args) -> dict:
        """Whoever sees the customer: the revisit interval (``revisit_interval``, ISO 8601
        days). A customer won before BPC becomes a care customer now."""
        return care_cases.set_care(
            self.db, actor, args["customer_id"], args["revisit_interval_days"]
        )

    @entrypoint(schemas.ImportantDateIn, command=True)
    def add_important_date(self, actor, args) -> dict:
        """Whoever sees the customer: a date reminded once, or every year (``recurring``)."""
        return care_cases.add_important_date(self.db, actor, args["customer_id"], args)

    @entrypoint(schemas.RevisitIn, command=True)
    def record_revisit(self, actor, args) -> dict:
        """The owner, the owner's chain, or customer service (level ≥ 3) of the owner's branch.
        Verifying a claimed visit (``verifies_entry_id`` + ``verification``): once per entry,
        never one's own; a denial emits ``visit_denied``."""
        return care_cases.record_revisit(
            self.db, actor, args["customer_id"], args, Owners(self.peers)
        )

    @entrypoint(schemas.CustomerRef)
    def revisits(self, actor, args) -> dict:
        """Whoever may revisit the customer: its revisits, newest first, and the visits claimed
        in work logs with their verification (the ones customer service may verify)."""
        return care_cases.revisits(self.db, actor, args["customer_id"])

    @entrypoint(schemas.RemindersIn)
    def reminders(self, actor, args) -> dict:
        """Any user: birthdays, anniversaries, important dates, appointments and revisits of the
        visible customers in ``[from, from + days)`` (default today, 3 days)."""
        return care_cases.reminders(self.db, actor, args["start"], args["days"])

    @entrypoint(schemas.ReferrerIn, command=True)
    def set_referrer(self, actor, args) -> dict:
        """Whoever sees the customer: who referred it (``referred_by``, null for nobody); a
        cycle → ValidationFailed ``referral_cycle``."""
        return care_cases.set_referrer(self.db, actor, args["customer_id"], args["referred_by"])

    @entrypoint(schemas.ReferralsIn)
    def referrals(self, actor, args) -> dict:
        """Any user: the referral graph of the visible customers."""
        return care_cases.referrals(self.db, actor)

    @entrypoint(schemas.ReferralsIn, level=9)
    def send_reminders(self, actor, args) -> dict:
        """Level 9: send today's due reminders now (the timer does it every minute)."""
        return {"published": care_cases.send_due_reminders(self.db)}

    @timer(interval=config.reminder_interval())
    def send_reminders_on_timer(self) -> None:
        """Today's reminders as ``reminder_due`` events, once per reminder and day."""
        try:
            care_cases.send_due_reminders(self.db)
        except BpcError as exc:
            log.warning("reminders not sent: %s", exc)

    @event_consumer("opportunity", "won")
    def on_opportunity_won(self, event) -> None:
        """opportunity.won: the customer becomes a care customer."""
        care_cases.opportunity_won(self.db, event)

    @event_consumer("opportunity", "opportunities_imported")
    def on_opportunities_imported(self, event) -> None:
        """opportunity.opportunities_imported: the customers of won ones are care customers."""
        care_cases.opportunities_imported(self.db, event)

    @event_consumer("worklog", "entries_imported")
    def on_entries_imported(self, event) -> None:
        """worklog.entries_imported: as entry_recorded, a page at a time."""
        facts.ENTRIES.from_event(self.db, event)

    @batch_event_consumer("worklog", "entry_recorded")
    def on_entry_recorded(self, events) -> None:
        """worklog.entry_recorded: an entry about a customer that claims a visit or agrees an
        appointment is kept (the routing facets cannot tell a visit, so every entry arrives,
        in batches, and the rest cost one look)."""
        care_cases.entries_recorded(self.db, events)

    def person_left(self, event) -> None:
        """The leaver's customers pass to the supervisor, with history. Emits
        ``customer_handed_over`` per customer."""
        handlers.owner_deactivated(self.db, event)
