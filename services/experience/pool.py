"""The search index of one experience-service process, kept up to date from the database, and
the hybrid ranking of suggestions: sentence embeddings and BM25 together.

``experience_texts`` is append-only and its ids only grow, so an index that has read every row
up to id N is brought up to date by reading the rows after N: each search first reads those
(usually none: one indexed query), so an entry written by any instance is found by every
instance at once. The first search of a process loads the whole pool; it yields to other
green threads as it goes, so the service keeps answering health checks while it loads.

Ranking (``Pool.search``): the ``DENSE_DEPTH`` entries nearest to the query's embedding
(the cosine with the nearest of an entry's problem wordings: its problem, and the wordings of
the alarms it later solved; exact in a small pool, through an inverted file in a large one:
services/experience/vectors.py) are the candidates; each scores its cosine, plus
``LEXICAL_WEIGHT`` × its BM25 score relative to the best candidate's
(services/experience/search.py: words, characters, synonyms, numbers), plus
``PREFER_WEIGHT`` for each preferred field it matches. BM25 only re-ranks the candidates
(a re-ranking of the dense top 100 found the same entries as fusing with BM25's own top 100
on the labelled set, at a fraction of the cost). Without embeddings (turned off) the search is
BM25 alone; an entry stored while embeddings were off is found only then. The two weights
were chosen on the odd-id half of the labelled set (tests/data/experience_eval.json); the
even-id half is held out (tests/bench/bench_suggest.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import eventlet
import numpy as np
from eventlet import tpool
from sqlalchemy import func, select

from common.metrics import INDEX_ROWS, SEARCH_SECONDS
from services.experience import semantic
from services.experience.models import Entry, Text_
from services.experience.search import SearchIndex
from services.experience.vectors import VectorIndex

log = logging.getLogger(__name__)

LOAD_PAGE = 5000
YIELD_EVERY = 100  # entries indexed between two yields to other green threads (~50 ms)
LEXICAL_WEIGHT = 0.02  # e5 cosines of related texts lie within a few hundredths of each other
PREFER_WEIGHT = 0.02
DENSE_DEPTH = 100
# A refresh that finds id n+2 but not n+1 keeps looking for n+1 (another instance's transaction
# not committed yet) for this many seconds; a larger jump is a sequence's, not a transaction's.
GAP_PATIENCE = 300.0
MAX_GAP = 1000


class Pool:
    def __init__(self) -> None:
        self.index = SearchIndex()
        self.last_text_id = 0
        # entry id → its wordings as (source, text): problem | method | reuse
        self.texts: dict[int, list[tuple[str, str]]] = defaultdict(list)
        self.fields: dict[int, dict] = {}
        # one row per embedded wording, with its entry (services/experience/vectors.py)
        self.vectors = VectorIndex(semantic.DIM)
        self._lock = threading.Lock()  # green under eventlet's monkey patch
        self._growing = False
        self.gaps: dict[int, float] = {}  # text ids skipped while not yet committed → since

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
        loaded = self._load_gaps(session)
        newest = session.scalar(select(func.max(Text_.id))) or 0
        started = time.monotonic()
        while self.last_text_id < newest:
            rows = session.execute(
                select(Text_.id, Text_.entry_id, Text_.source, Text_.text, Text_.vector)
                .where(Text_.id > self.last_text_id, Text_.id <= newest)
                .order_by(Text_.id)
                .limit(LOAD_PAGE)
            ).all()
            if not rows:
                break
            expected = self.last_text_id + 1
            # ids skipped: rows of transactions not committed yet (PostgreSQL hands out ids
            # before commit, in any order); not on the first load, where old gaps are
            # rolled-back inserts, not pending ones
            for row in rows if self.last_text_id else ():
                missing = row[0] - expected
                if 0 < missing <= MAX_GAP:
                    now = time.monotonic()
                    self.gaps.update({i: now for i in range(expected, row[0])})
                expected = row[0] + 1
            self.last_text_id = rows[-1][0]
            self._load(session, rows)
            loaded += len(rows)
        if loaded > LOAD_PAGE:
            log.info(
                "experience index: %s wordings loaded in %.1f s (%s entries)",
                loaded, time.monotonic() - started, len(self.index),
            )  # fmt: skip
        if (self.vectors.needs_training() or self.vectors.wants_rows()) and not self._growing:
            self._growing = True
            eventlet.spawn_n(self._grow_index)

    def _load_gaps(self, session) -> int:
        """Rows whose ids were skipped by an earlier refresh and are committed now; ids still
        missing after ``GAP_PATIENCE`` seconds were never committed (a rolled-back insert)."""
        if not self.gaps:
            return 0
        now = time.monotonic()
        self.gaps = {i: t for i, t in self.gaps.items() if now - t < GAP_PATIENCE}
        ids = sorted(self.gaps)
        loaded = 0
        for start in range(0, len(ids), 1000):
            rows = session.execute(
                select(Text_.id, Text_.entry_id, Text_.source, Text_.text, Text_.vector)
                .where(Text_.id.in_(ids[start : start + 1000]))
                .order_by(Text_.id)
            ).all()
            for row in rows:
                self.gaps.pop(row[0], None)
            if rows:
                self._load(session, rows)
                loaded += len(rows)
        return loaded

    def _load(self, session, rows) -> None:
        touched: dict[int, None] = {}
        vectors, vector_entries = [], []
        for _text_id, entry_id, source, text, vector in rows:
            self.texts[entry_id].append((source, text))
            touched[entry_id] = None
            if vector is not None and source != "method":
                vector_entries.append(entry_id)
                vectors.append(semantic.from_bytes(vector))
        entries = session.execute(
            select(Entry.id, Entry.stage, Entry.category, Entry.kind).where(
                Entry.id.in_(list(touched))
            )
        ).all()
        for n, entry in enumerate(entries, start=1):
            self._index(entry)
            if n % YIELD_EVERY == 0:
                eventlet.sleep(0)  # let the health check and other workers run
        if vectors:
            self.vectors.append(
                np.vstack(vectors), vector_entries, [self.fields[e] for e in vector_entries]
            )
            INDEX_ROWS.labels("loaded").set(len(self.vectors))

    def _grow_index(self) -> None:
        """Cluster the vectors when the pool is large enough (again when it has doubled) in a
        native thread, and add the rows to the clustering a chunk at a time on this thread,
        letting searches and health checks run between chunks (services/experience/vectors.py)."""
        started, added = time.monotonic(), 0
        try:
            while True:
                if self.vectors.needs_training():
                    rows = len(self.vectors)
                    sample = self.vectors.training_sample()
                    trained = tpool.execute(self.vectors.train, sample, rows)
                    self.vectors.install(trained, rows)
                    log.info("experience index: %s rows clustered in %.1f s", rows,
                             time.monotonic() - started)  # fmt: skip
                elif self.vectors.wants_rows():
                    added += self.vectors.add_rows()
                    INDEX_ROWS.labels("indexed").set(self.vectors.ann_rows)
                    eventlet.sleep(0)
                else:
                    break
        except Exception:  # noqa: BLE001 - searches stay exact; the next refresh tries again
            log.exception("experience index: the clustering could not grow")
        finally:
            self._growing = False
        if added > LOAD_PAGE:
            log.info("experience index: %s rows clustered and added in %.1f s",
                     added, time.monotonic() - started)  # fmt: skip

    def _index(self, entry) -> None:
        """(Re-)index an entry: its problem and the wordings of the alarms it solved as the
        main text, its method as the lower-weighted extra text."""
        texts = self.texts[entry.id]
        self.fields[entry.id] = self._fields(entry)
        self.index.add(
            entry.id,
            "\n".join(t for source, t in texts if source != "method"),
            self.fields[entry.id],
            extra_text="\n".join(t for source, t in texts if source == "method"),
        )

    def _dense(self, query: str, filters: Mapping[str, Any]) -> dict[int, float] | None:
        """The ``DENSE_DEPTH`` entries (passing the filters) nearest to the query, with the
        cosine of their nearest wording; None without embeddings."""
        if not len(self.vectors):
            return None
        began = time.perf_counter()
        vector = semantic.query(query)
        if vector is None:
            return None
        embedded = time.perf_counter()
        SEARCH_SECONDS.labels("embed").observe(embedded - began)
        dense = self.vectors.nearest(vector, DENSE_DEPTH, filters)
        SEARCH_SECONDS.labels("dense").observe(time.perf_counter() - embedded)
        return dense

    def search(
        self,
        session,
        query: str,
        limit: int,
        prefer: Mapping[str, Any] | None = None,
        **filters: Any,
    ) -> list[tuple[int, float]]:
        """The ``limit`` best entries for ``query`` as ``(entry id, score)``, best first."""
        self.refresh(session, wait=0.2)
        began = time.perf_counter()
        dense = self._dense(query, filters)
        if dense is None:  # words alone
            ranked = self.index.search(query, limit=limit, prefer=prefer, **filters)
            SEARCH_SECONDS.labels("total").observe(time.perf_counter() - began)
            return ranked
        lexical_began = time.perf_counter()
        lexical = self.index.score(query, dense, prefer=prefer)
        SEARCH_SECONDS.labels("lexical").observe(time.perf_counter() - lexical_began)
        top_lexical = max(lexical.values(), default=0.0) or 1.0
        preferred = {k: v for k, v in (prefer or {}).items() if v is not None}
        fused = {}
        for entry, cosine in dense.items():
            fields = self.fields.get(entry, {})
            fused[entry] = (
                cosine
                + LEXICAL_WEIGHT * lexical.get(entry, 0.0) / top_lexical
                + PREFER_WEIGHT * sum(fields.get(k) == v for k, v in preferred.items())
            )
        ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:limit]
        SEARCH_SECONDS.labels("total").observe(time.perf_counter() - began)
        return ranked


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
