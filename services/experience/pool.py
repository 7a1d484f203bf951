"""The search index of one experience-service process, kept up to date from the database.

``experience_texts`` is append-only and its ids only grow, so an index that has read every row
up to id N is brought up to date by reading the rows after N: each search first reads those
(usually none: one indexed query), so an entry written by any instance is found by every
instance at once. The first search of a process loads the whole pool; it yields to other
green threads as it goes, so the service keeps answering health checks while it loads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

import eventlet
from sqlalchemy import func, select

from services.experience.models import Entry, Text_
from services.experience.search import SearchIndex

log = logging.getLogger(__name__)

LOAD_PAGE = 5000
YIELD_EVERY = 100  # entries indexed between two yields to other green threads (~50 ms)


class Pool:
    def __init__(self) -> None:
        self.index = SearchIndex()
        self.last_text_id = 0
        # entry id → its wordings as (source, text): problem | method | reuse
        self.texts: dict[int, list[tuple[str, str]]] = defaultdict(list)
        self._lock = threading.Lock()  # green under eventlet's monkey patch

    def _fields(self, entry) -> dict:
        return {"stage": entry.stage, "category": entry.category, "kind": entry.kind}

    def refresh(self, session, wait: float = -1) -> None:
        """Read the wordings added since the last refresh and (re-)index their entries. With
        ``wait`` ≥ 0, give up after that many seconds if another green thread is refreshing
        (a first load can take a minute; a search then uses what is loaded so far)."""
        if not self._lock.acquire(timeout=wait):
            return
        try:
            self._refresh(session)
        finally:
            self._lock.release()

    def _refresh(self, session) -> None:
        newest = session.scalar(select(func.max(Text_.id))) or 0
        if newest <= self.last_text_id:
            return
        started, loaded = time.monotonic(), 0
        while self.last_text_id < newest:
            rows = session.execute(
                select(Text_.id, Text_.entry_id, Text_.source, Text_.text)
                .where(Text_.id > self.last_text_id, Text_.id <= newest)
                .order_by(Text_.id)
                .limit(LOAD_PAGE)
            ).all()
            if not rows:
                break
            touched: dict[int, None] = {}
            for text_id, entry_id, source, text in rows:
                self.texts[entry_id].append((source, text))
                touched[entry_id] = None
                self.last_text_id = text_id
            entries = session.execute(
                select(Entry.id, Entry.stage, Entry.category, Entry.kind).where(
                    Entry.id.in_(list(touched))
                )
            ).all()
            for n, entry in enumerate(entries, start=1):
                self._index(entry)
                if n % YIELD_EVERY == 0:
                    eventlet.sleep(0)  # let the health check and other workers run
            loaded += len(rows)
        if loaded > LOAD_PAGE:
            log.info(
                "experience index: %s wordings loaded in %.1f s (%s entries)",
                loaded, time.monotonic() - started, len(self.index),
            )  # fmt: skip

    def _index(self, entry) -> None:
        """(Re-)index an entry: its problem and the wordings of the alarms it solved as the
        main text, its method as the lower-weighted extra text."""
        texts = self.texts[entry.id]
        self.index.add(
            entry.id,
            "\n".join(t for source, t in texts if source != "method"),
            self._fields(entry),
            extra_text="\n".join(t for source, t in texts if source == "method"),
        )

    def search(
        self, session, query: str, limit: int, prefer=None, **filters
    ) -> list[tuple[int, float]]:
        self.refresh(session, wait=0.2)
        return self.index.search(query, limit=limit, prefer=prefer, **filters)


_pool: Pool | None = None


def pool() -> Pool:
    global _pool
    if _pool is None:
        _pool = Pool()
    return _pool


def reset() -> None:
    """Forget the index (tests that drop the database)."""
    global _pool
    _pool = None
