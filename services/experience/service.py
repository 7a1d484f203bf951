"""The experience Nameko service: the pool (经验池), its search and suggestions, the handbook.

Entrypoints only: each validates its arguments, calls one use case in ``handlers`` and
returns a JSON-ready dict shaped as the HTTP API answers (docs/API.md "Alarms and experience").
The pool fills itself from ``alerts.alarm_resolved``.
"""

from __future__ import annotations

import logging

from nameko.timer import timer

from common.actor import CurrentActor
from common.consumer import event_consumer
from common.db import Database
from common.entrypoint import entrypoint
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

    @entrypoint(schemas.SearchIn)
    def search(self, actor, args) -> dict:
        """Any user. Args: q?, stage?, category?, kind?, limit?, cursor?."""
        return handlers.search(self.db, args)

    @entrypoint(schemas.SuggestIn)
    def suggest(self, actor, args) -> dict:
        """Any user (and the alerts service on a raise): the most similar solved problems."""
        return handlers.suggest(self.db, args)

    @entrypoint(schemas.EntryRef)
    def get(self, actor, args) -> dict:
        return handlers.get(self.db, args["experience_id"])

    @entrypoint(schemas.EntryRef)
    def helpful(self, actor, args) -> dict:
        """Any user: one "helpful" vote per user and entry."""
        return handlers.helpful(self.db, actor, args["experience_id"])

    @entrypoint(schemas.HandbookIn)
    def handbook(self, actor, args) -> dict:
        """Any user: the 生意经 handbook, per stage, as Markdown or HTML."""
        return handlers.handbook(self.db, args)

    @entrypoint(schemas.ImportIn, level=9)
    def import_entries(self, actor, args) -> dict:
        """Level 9: bulk entries (demo data, migration from another system)."""
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
