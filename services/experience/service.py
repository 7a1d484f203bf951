"""The experience Nameko service: the pool (经验池), its search and suggestions, the handbook.

Entrypoints only: each validates its arguments, calls one use case in ``handlers`` and
returns a JSON-ready dict shaped as the HTTP API answers (docs/API.md "Alarms and experience").
The pool fills itself from ``alerts.alarm_resolved``.
"""

from __future__ import annotations

import logging

from nameko.rpc import rpc
from nameko.timer import timer

from common.actor import CurrentActor, require_actor
from common.consumer import event_consumer
from common.db import Database
from common.service import ServiceBase
from services.experience import handlers, schemas
from services.experience.models import Base
from services.experience.pool import pool

log = logging.getLogger(__name__)


class ExperienceService(ServiceBase):
    """The experience pool: entries from resolved alarms, search, suggestions, handbook."""

    name = "experience"
    db = Database(Base)
    actor = CurrentActor()

    @rpc
    def search(self, **fields) -> dict:
        """Any user. Args: q?, stage?, category?, kind?, limit?, cursor?."""
        require_actor(self.actor)
        return handlers.search(self.db, schemas.load(schemas.SearchIn, fields))

    @rpc
    def suggest(self, **fields) -> dict:
        """Any user (and the alerts service on a raise): the most similar solved problems."""
        require_actor(self.actor)
        return handlers.suggest(self.db, schemas.load(schemas.SuggestIn, fields))

    @rpc
    def get(self, **fields) -> dict:
        require_actor(self.actor)
        args = schemas.load(schemas.EntryRef, fields)
        return handlers.get(self.db, args["experience_id"])

    @rpc
    def helpful(self, **fields) -> dict:
        """Any user: one "helpful" vote per user and entry."""
        actor = require_actor(self.actor)
        args = schemas.load(schemas.EntryRef, fields)
        return handlers.helpful(self.db, actor, args["experience_id"])

    @rpc
    def handbook(self, **fields) -> dict:
        """Any user: the 生意经 handbook, per stage, as Markdown or HTML."""
        require_actor(self.actor)
        return handlers.handbook(self.db, schemas.load(schemas.HandbookIn, fields))

    @rpc
    def import_entries(self, **fields) -> dict:
        """Level 9: bulk entries (demo data, migration from another system)."""
        actor = require_actor(self.actor)
        actor.require_level(9)
        args = schemas.load(schemas.ImportIn, fields)
        return handlers.import_entries(self.db, actor, args["items"])

    @timer(interval=1)
    def keep_index_current(self) -> None:
        """Load the pool into this instance's index at start (in the background, yielding as
        it goes) and keep it current, so that a search seldom has anything to read first."""
        try:
            with self.db.read() as session:
                pool().refresh(session)
        except Exception as exc:  # noqa: BLE001 - the next tick (or search) tries again
            log.warning("experience index not refreshed: %r", exc)

    @event_consumer("alerts", "alarm_resolved")
    def on_alarm_resolved(self, event) -> None:
        """A resolved alarm enters the pool, or counts a reuse of the entry that solved it."""
        handlers.alarm_resolved(self.db, event)
