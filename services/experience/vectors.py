"""The pool's sentence vectors and the search for the nearest ones.

One row per embedded wording of a problem (an entry's problem, and the wordings of the alarms
it later solved), with its entry and the entry's stage, category and kind as small integer
codes, so that a filtered search masks rows with numpy rather than a Python loop.

Nearest rows:

- up to ``BPC_ANN_MIN_ROWS`` rows (20,000) every search is exact: one matrix-vector product
  (about 4 ms at 20,000 rows, 15–20 ms at 100,000, growing with the pool);
- beyond that, an HNSW graph (faiss ``IndexHNSWFlat``, inner product on unit vectors) answers
  in about 2 ms whatever the size. It is built on the service's own thread in chunks of
  ``CHUNK`` rows (about 0.1 s each), between which other green threads run, so the service keeps
  answering while it builds; rows not yet in the graph (the tail) are searched exactly and
  merged. Only the hub thread touches the graph: no search ever meets a half-done insertion.
- a filtered search (``stage=``, ``category=``, ``kind=``) is exact over the rows that pass,
  which are fewer.

Exact and approximate search agree on the labelled set (tests/bench/bench_suggest.py prints
quality over 100,000 entries beside quality over 2,000).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

FIELDS = ("stage", "category", "kind")
CHUNK = 256  # rows added to the graph between two yields
HNSW_M = 32  # links per node
EF_CONSTRUCTION = 64
EF_SEARCH = 256  # candidates kept while searching; at least the rows asked for


def ann_min_rows() -> int:
    return int(os.environ.get("BPC_ANN_MIN_ROWS", "20000"))


class VectorIndex:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._n = 0
        self._matrix = np.zeros((1024, dim), dtype=np.float32)  # grows by doubling
        self._entry = np.zeros(1024, dtype=np.int64)
        self._codes = {f: np.zeros(1024, dtype=np.int32) for f in FIELDS}
        self._code_of: dict[str, dict[Any, int]] = {f: {} for f in FIELDS}
        self._ann = None  # faiss.IndexHNSWFlat once the pool is large enough
        self._ann_rows = 0  # rows [0, _ann_rows) are in the graph

    def __len__(self) -> int:
        return self._n

    @property
    def ann_rows(self) -> int:
        return self._ann_rows

    def _code(self, field: str, value: Any) -> int:
        codes = self._code_of[field]
        return codes.setdefault(value, len(codes))

    def append(self, vectors: np.ndarray, entries: list[int], fields: list[Mapping]) -> None:
        """Rows in order: unit vectors, each with its entry and that entry's fields."""
        count = len(entries)
        if not count:
            return
        needed = self._n + count
        if needed > len(self._entry):
            capacity = max(needed, 2 * len(self._entry))
            self._matrix = _grown(self._matrix, capacity)
            self._entry = _grown(self._entry, capacity)
            self._codes = {f: _grown(c, capacity) for f, c in self._codes.items()}
        rows = slice(self._n, needed)
        self._matrix[rows] = vectors
        self._entry[rows] = entries
        for field in FIELDS:
            self._codes[field][rows] = [self._code(field, f.get(field)) for f in fields]
        self._n = needed

    # --- the graph ---------------------------------------------------------------------------

    def wants_graph(self) -> bool:
        """Rows are waiting to enter the graph (or the pool just became large enough)."""
        return self._n >= ann_min_rows() and self._ann_rows < self._n

    def grow_graph(self, rows: int = CHUNK) -> int:
        """Add up to ``rows`` waiting rows to the graph (creating it first); rows added."""
        if not self.wants_graph():
            return 0
        if self._ann is None:
            import faiss

            faiss.omp_set_num_threads(min(2, os.cpu_count() or 1))
            self._ann = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            self._ann.hnsw.efConstruction = EF_CONSTRUCTION
        end = min(self._n, self._ann_rows + rows)
        self._ann.add(self._matrix[self._ann_rows : end])
        added, self._ann_rows = end - self._ann_rows, end
        return added

    # --- search ------------------------------------------------------------------------------

    def nearest(
        self, vector: np.ndarray, depth: int, filters: Mapping[str, Any] | None = None
    ) -> dict[int, float]:
        """The ``depth`` entries nearest to ``vector``, with the cosine of their nearest row,
        nearest first; only entries whose fields equal ``filters`` (when given)."""
        wanted = {k: v for k, v in (filters or {}).items() if v is not None}
        if wanted:
            rows = self._passing(wanted)
            scores = self._matrix[rows] @ vector
        elif self._ann is not None and self._ann_rows:
            return self._nearest_with_graph(vector, depth)
        else:
            rows = None
            scores = self._matrix[: self._n] @ vector
        return self._entries(scores, rows, depth)

    def _passing(self, wanted: Mapping[str, Any]) -> np.ndarray:
        mask = np.ones(self._n, dtype=bool)
        for field, value in wanted.items():
            code = self._code_of[field].get(value)
            if code is None:
                return np.zeros(0, dtype=np.int64)
            mask &= self._codes[field][: self._n] == code
        return np.flatnonzero(mask)

    def _entries(self, scores: np.ndarray, rows: np.ndarray | None, depth: int) -> dict:
        """Distinct entries of the best-scoring rows (``rows`` maps a score to its row)."""
        if not len(scores):
            return {}
        # rows, not entries, are ranked: take enough rows for ``depth`` distinct entries
        take = min(len(scores), depth * 2)
        best = np.argpartition(-scores, take - 1)[:take]
        best = best[np.argsort(-scores[best], kind="stable")]
        found = best if rows is None else rows[best]
        return _distinct(self._entry[found], scores[best], depth)

    def _nearest_with_graph(self, vector: np.ndarray, depth: int) -> dict[int, float]:
        take = depth * 2
        self._ann.hnsw.efSearch = max(EF_SEARCH, take)
        scores, found = self._ann.search(vector.reshape(1, -1), min(take, self._ann_rows))
        scores, found = scores[0], found[0]
        keep = found >= 0
        scores, found = scores[keep], found[keep]
        if self._ann_rows < self._n:  # the tail, exactly
            tail_scores = self._matrix[self._ann_rows : self._n] @ vector
            tail_rows = np.arange(self._ann_rows, self._n)
            scores = np.concatenate([scores, tail_scores])
            found = np.concatenate([found, tail_rows])
            order = np.argsort(-scores, kind="stable")[:take]
            scores, found = scores[order], found[order]
        return _distinct(self._entry[found], scores, depth)


def _grown(array: np.ndarray, capacity: int) -> np.ndarray:
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def _distinct(entries: np.ndarray, scores: np.ndarray, depth: int) -> dict[int, float]:
    nearest: dict[int, float] = {}
    for entry, score in zip(entries.tolist(), scores.tolist(), strict=True):
        if entry not in nearest:
            nearest[entry] = score
            if len(nearest) == depth:
                break
    return nearest
