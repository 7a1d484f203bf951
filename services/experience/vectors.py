"""The pool's sentence vectors and the search for the nearest ones.

One row per embedded wording of a problem (an entry's problem, and the wordings of the alarms
it later solved), with its entry and the entry's stage, category and kind as small integer
codes, so that a filtered search masks rows with numpy rather than a Python loop.

Nearest rows:

- up to ``BPC_ANN_MIN_ROWS`` rows (20,000) every search is exact: one matrix-vector product
  (about 4 ms at 20,000 rows, 15–20 ms at 100,000, growing with the pool);
- beyond that, an inverted file (faiss ``IndexIVFFlat``, inner product on unit vectors): the
  rows are clustered around ``4·√n`` centroids and a search scans the ``BPC_ANN_PROBES`` (64)
  clusters nearest to the query — about 1.3 ms at 100,000 rows, with the labelled answers found
  as often as by the exact search (tests/bench/bench_suggest.py). An HNSW graph was measured
  first and rejected: it answered the top ten well but lost problems worded unlike the bulk of
  the pool (an island of the graph), the very answers the BM25 re-ranking lifts.
- the clustering is trained in a native thread (faiss releases the GIL: the service keeps
  answering), on the rows of that moment; rows that arrive later join their nearest cluster in
  chunks on the service's own thread, and rows not yet added (the tail) are searched exactly
  and merged. When the pool has doubled since, a new clustering is trained and filled beside
  the one in use, then takes its place. Only the hub thread reads or fills an index in use.
- a filtered search (``stage=``, ``category=``, ``kind=``) is exact over the rows that pass,
  which are fewer.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

FIELDS = ("stage", "category", "kind")
CHUNK = 8192  # rows added to an index between two yields (a few ms)
SAMPLE_PER_LIST = 64  # training rows per cluster, at most


def ann_min_rows() -> int:
    return int(os.environ.get("BPC_ANN_MIN_ROWS", "20000"))


def ann_probes() -> int:
    return int(os.environ.get("BPC_ANN_PROBES", "64"))


def lists_for(rows: int) -> int:
    return int(min(4096, max(64, 4 * math.sqrt(rows))))


class VectorIndex:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._n = 0
        self._matrix = np.zeros((1024, dim), dtype=np.float32)  # grows by doubling
        self._entry = np.zeros(1024, dtype=np.int64)
        self._codes = {f: np.zeros(1024, dtype=np.int32) for f in FIELDS}
        self._code_of: dict[str, dict[Any, int]] = {f: {} for f in FIELDS}
        self._ann = None  # faiss.IndexIVFFlat in use, once the pool is large enough
        self._ann_rows = 0  # rows [0, _ann_rows) are in it
        self._next = None  # a new clustering being filled while _ann serves
        self._next_rows = 0
        self._trained_on = 0  # pool size when the newest clustering was trained
        self._quantizers: dict[int, object] = {}

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

    # --- the inverted file ------------------------------------------------------------------

    def needs_training(self) -> bool:
        """The pool is large enough and has no clustering yet, or has doubled since."""
        if self._n < ann_min_rows() or self._next is not None:
            return False
        return self._ann is None or self._n >= 2 * self._trained_on

    def training_sample(self) -> np.ndarray:
        """A copy of the rows to cluster (at most ``SAMPLE_PER_LIST`` per cluster)."""
        rows = self._n
        lists = lists_for(rows)
        take = min(rows, SAMPLE_PER_LIST * lists)
        picked = (
            np.random.default_rng(rows).choice(rows, take, replace=False)
            if take < rows
            else slice(0, rows)
        )
        return np.ascontiguousarray(self._matrix[:rows][picked])

    def train(self, sample: np.ndarray, rows: int):
        """A new clustering of ``sample`` for a pool of ``rows`` rows (native code; may run in a
        thread of its own: it touches nothing of this index)."""
        import faiss

        faiss.omp_set_num_threads(min(2, os.cpu_count() or 1))
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFFlat(quantizer, self.dim, lists_for(rows), faiss.METRIC_INNER_PRODUCT)
        index.train(sample)
        return index, quantizer  # the index holds a raw pointer to its quantizer: keep both

    def install(self, trained, rows: int) -> None:
        """Fill a new clustering (``train``'s answer) beside the one in use; it takes over once
        full."""
        index, self._quantizers[id(index)] = trained
        self._next, self._next_rows, self._trained_on = index, 0, rows
        if self._ann is None:
            self._ann, self._ann_rows, self._next = index, 0, None
            self._next_rows = 0

    def wants_rows(self) -> bool:
        return (self._ann is not None and self._ann_rows < self._n) or self._next is not None

    def add_rows(self, rows: int = CHUNK) -> int:
        """Add up to ``rows`` waiting rows to the clustering being filled (or in use)."""
        if self._next is not None:
            end = min(self._n, self._next_rows + rows)
            self._next.add(self._matrix[self._next_rows : end])
            added, self._next_rows = end - self._next_rows, end
            if self._next_rows >= self._n:  # full: it takes over
                if self._ann is not None and self._ann is not self._next:
                    self._quantizers.pop(id(self._ann), None)
                self._ann, self._ann_rows, self._next = self._next, self._next_rows, None
            return added
        if self._ann is None or self._ann_rows >= self._n:
            return 0
        end = min(self._n, self._ann_rows + rows)
        self._ann.add(self._matrix[self._ann_rows : end])
        added, self._ann_rows = end - self._ann_rows, end
        return added

    def grow(self) -> int:
        """Train (in this thread) and fill until every row is indexed: tests and tools."""
        added = 0
        while self.needs_training() or self.wants_rows():
            if self.needs_training():
                self.install(self.train(self.training_sample(), self._n), self._n)
            added += self.add_rows()
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
            return self._nearest_with_index(vector, depth)
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

    def _nearest_with_index(self, vector: np.ndarray, depth: int) -> dict[int, float]:
        take = depth * 2
        self._ann.nprobe = ann_probes()
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
