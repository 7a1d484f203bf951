"""org's people as every other service keeps them (docs/ARCHITECTURE.md "Projections"): one
table model, and one mixin with the three ``org.user_*`` consumers and the caller's upkeep.

A service declares ``Person = people_table(Base)`` in its models and mixes ``KeepsPeople`` into
its class with ``people = Person`` and, where its own rows carry supervisor paths that must
follow a move, ``people_paths``. A service that hands a leaver's holdings over overrides
``person_left`` (the consumer stays the mixin's, so its queue keeps its name).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from common import projection
from common.actor import Actor, require_actor
from common.consumer import event_consumer
from common.events import Envelope


def people_table(base) -> type:
    """The ``people`` model on a service's declarative ``base``: name, level, supervisor path
    (indexed for prefix searches: a subtree is one range), active. Its table is made by
    ``common.migrations.create_people`` in the service's migrations."""

    class Person(base):
        """Projection of org's users (``org.user_*`` events and each caller): name, level,
        path, active."""

        __tablename__ = "people"
        __table_args__ = (
            Index("ix_people_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
        )

        user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
        name: Mapped[str] = mapped_column(String(100), default="")
        level: Mapped[int | None] = mapped_column(Integer, nullable=True)
        path: Mapped[str] = mapped_column(String(512))
        active: Mapped[bool] = mapped_column(Boolean, default=True)

    return Person


class KeepsPeople:
    """Mixin of a service class (with ``db`` and ``actor``) that keeps org's people."""

    people: type  # the service's Person model
    people_paths: tuple = ()  # the service's own path columns that follow a move

    def _caller(self) -> Actor:
        """The authenticated caller, kept up to date in the people projection."""
        actor = require_actor(self.actor)
        projection.sync_actor(self.db, self.people, actor)
        return actor

    @event_consumer("org", "user_created")
    def on_user_created(self, event: Envelope) -> None:
        self.person_changed(event)

    @event_consumer("org", "user_moved")
    def on_user_moved(self, event: Envelope) -> None:
        """The user's level and path; the service's paths of the moved subtree follow."""
        self.person_changed(event)

    @event_consumer("org", "user_deactivated")
    def on_user_deactivated(self, event: Envelope) -> None:
        self.person_left(event)

    def person_changed(self, event: Envelope) -> None:
        """Applied once per event (common.projection ``person_event``)."""
        projection.person_event(self.db, self.people, event, *self.people_paths)

    def person_left(self, event: Envelope) -> None:
        """A user deactivated: by default only the projection changes."""
        self.person_changed(event)
