"""Idempotency-Key: the same key from the same user within 24 h gets the first answer again.

A request claims its key by inserting a row (unique per user and key) before it does
anything; the answer is written to that row afterwards. A second request finding the row
replays the answer, or — while the first is still running — is told so (409).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from common import clock
from common.db import is_unique_violation
from gateway.models import IdempotencyKey

KEEP_FOR = timedelta(hours=24)


def abandoned_after() -> timedelta:
    """A claim this old with no answer belongs to a request that died (its RPCs time out far
    sooner): ``BPC_IDEMPOTENCY_ABANDONED`` seconds, 120 by default."""
    return timedelta(seconds=float(os.environ.get("BPC_IDEMPOTENCY_ABANDONED", "120")))


MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: ``new``, ``replay``, ``in_progress`` or ``mismatch``."""

    outcome: str
    status: int | None = None
    body: str | None = None


class IdempotencyStore:
    def __init__(self, engine):
        self.engine = engine
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self._claims = itertools.count()

    def claim(self, user_id: str, key: str, method: str, path: str) -> Claim:
        now = clock.now()
        if next(self._claims) % 100 == 0:
            self.purge(now)
        with self._sessions() as session:
            try:
                session.add(
                    IdempotencyKey(
                        user_id=user_id, key=key, method=method, path=path, created_at=now
                    )
                )
                session.commit()
                return Claim("new")
            except IntegrityError as exc:
                session.rollback()
                if not is_unique_violation(exc):
                    raise
            row = self._find(session, user_id, key)
            if row is None:  # purged between our insert and our read: try once more
                return self.claim(user_id, key, method, path)
            created = clock.as_utc(row.created_at)
            expired = now - created >= KEEP_FOR
            abandoned = row.status is None and now - created >= abandoned_after()
            if expired or abandoned:
                return self._take_over(session, row, method, path, now)
            if (row.method, row.path) != (method, path):
                return Claim("mismatch")
            if row.status is None:
                return Claim("in_progress")
            return Claim("replay", row.status, row.body)

    def complete(self, user_id: str, key: str, status: int, body: str) -> None:
        with self._sessions() as session:
            session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
                .values(status=status, body=body)
            )
            session.commit()

    def release(self, user_id: str, key: str) -> None:
        """Forget a claim whose request failed for reasons worth retrying (5xx)."""
        with self._sessions() as session:
            session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.user_id == user_id,
                    IdempotencyKey.key == key,
                    IdempotencyKey.status.is_(None),
                )
            )
            session.commit()

    def purge(self, now=None) -> None:
        cutoff = (now or clock.now()) - KEEP_FOR
        with self._sessions() as session:
            session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
            session.commit()

    @staticmethod
    def _find(session: Session, user_id: str, key: str) -> IdempotencyKey | None:
        return session.execute(
            select(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
            )
        ).scalar_one_or_none()

    def _take_over(self, session: Session, row: IdempotencyKey, method, path, now) -> Claim:
        # only one of several racing requests wins the compare-and-set on created_at
        won = session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == row.id, IdempotencyKey.created_at == row.created_at)
            .values(method=method, path=path, status=None, body=None, created_at=now)
        ).rowcount
        session.commit()
        return Claim("new") if won else Claim("in_progress")
