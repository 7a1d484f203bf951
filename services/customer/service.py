"""The customer service: registration without duplicates, masked contacts, audited access.

Entrypoints only: each validates its arguments, calls one use case in ``handlers`` and
returns a JSON-ready dict shaped as the HTTP API answers (docs/INTERFACES.md "customer").
"""

from __future__ import annotations

from nameko.rpc import rpc

from common.actor import Actor, CurrentActor, require_actor
from common.consumer import event_consumer
from common.db import Database
from common.service import ServiceBase
from services.customer import handlers, schemas
from services.customer.models import Base


class CustomerService(ServiceBase):
    name = "customer"
    db = Database(Base)
    actor = CurrentActor()

    def _caller(self) -> Actor:
        actor = require_actor(self.actor)
        handlers.sync_actor(self.db, actor)
        return actor

    @rpc
    def register(self, **fields) -> dict:
        """Any user: register a customer owned by the caller.

        Args: name, uscc?, industry?, region?, founded_on?, referred_by?, contacts?.
        A uscc, normalised name or contact phone already registered → DuplicateCustomer.
        Emits ``customer_registered``.
        """
        actor = self._caller()
        args = schemas.load(schemas.RegisterIn, fields)
        return handlers.register(self.db, actor, args)

    @rpc
    def check(self, **fields) -> dict:
        """Any user: near-duplicates of a name (similarity ≥ 0.85), uscc or phone."""
        actor = self._caller()
        args = schemas.load(schemas.CheckIn, fields)
        return handlers.check(self.db, actor, args)

    @rpc
    def get(self, **fields) -> dict:
        """The owner and the owner's supervisor chain (level ≥ 4), level 9: one customer,
        contacts masked. Anyone else → NotFound."""
        actor = self._caller()
        args = schemas.load(schemas.CustomerRef, fields)
        return handlers.get(self.db, actor, args["customer_id"])

    @rpc
    def unmask(self, **fields) -> dict:
        """The owner and the owner's supervisor chain: one contact in full, within the daily
        quota of the caller's level (QuotaExceeded past it). Emits ``contact_unmasked``."""
        actor = self._caller()
        args = schemas.load(schemas.ContactRef, fields)
        return handlers.unmask(self.db, actor, args["customer_id"], args["contact_id"])

    @rpc
    def list(self, **fields) -> dict:
        """Any user: the customers visible to the caller, newest first, contacts masked.

        Args: q?, owner_id?, status?, limit (1..500, default 50), cursor?.
        """
        actor = self._caller()
        args = schemas.load(schemas.ListIn, fields)
        return handlers.list_visible(self.db, actor, args)

    @rpc
    def export(self, **fields) -> dict:
        """Level ≥ 6: CSV (UTF-8 with BOM) of every visible customer, contacts masked.
        Emits ``customers_exported``."""
        actor = self._caller()
        schemas.load(schemas.ExportIn, fields)
        return handlers.export(self.db, actor)

    @event_consumer("org", "user_created")
    def on_user_created(self, event) -> None:
        """org.user_created: add the user to the owner projection."""
        handlers.person_created(self.db, event)

    @event_consumer("org", "user_moved")
    def on_user_moved(self, event) -> None:
        """org.user_moved: the user's level and path; owner paths of the subtree follow."""
        handlers.person_moved(self.db, event)

    @event_consumer("org", "user_deactivated")
    def on_user_deactivated(self, event) -> None:
        """org.user_deactivated: the user's customers pass to the supervisor, with history.
        Emits ``customer_handed_over`` per customer."""
        handlers.owner_deactivated(self.db, event)
