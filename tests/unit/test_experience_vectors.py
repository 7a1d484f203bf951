"""The pool's nearest-wording search (services/experience/vectors.py), without a database.

Specifications: suggestions start from the entries whose problem wordings are nearest to the
new problem (cosine of unit vectors); an entry counts once, with its nearest wording; a
filtered search only returns entries whose stage/category/kind match; a large pool is searched
through an inverted file that finds the same nearest entries as an exact search, including the
rows that have not entered it yet.
"""

from __future__ import annotations

import numpy as np
import pytest

from services.experience.vectors import VectorIndex

DIM = 32


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def clustered(count: int, seed: int = 7) -> np.ndarray:
    """Vectors around 50 centres, like embeddings of problems of a few kinds."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, DIM))
    return unit(centres[rng.integers(0, 50, count)] + 0.4 * rng.standard_normal((count, DIM)))


def filled(vectors: np.ndarray, entries=None, fields=None) -> VectorIndex:
    index = VectorIndex(DIM)
    entries = list(range(len(vectors))) if entries is None else entries
    fields = fields or [{"stage": "quote", "category": "price", "kind": "sales"}] * len(vectors)
    for start in range(0, len(vectors), 700):  # in pages, as the pool loads
        index.append(vectors[start : start + 700], entries[start : start + 700],
                     fields[start : start + 700])  # fmt: skip
    return index


def exact(vectors: np.ndarray, query: np.ndarray, depth: int) -> list[int]:
    return list(np.argsort(-(vectors @ query), kind="stable")[:depth])


def test_an_entry_counts_once_with_its_nearest_wording():
    vectors = unit(np.eye(DIM)[:3] + 0.01)
    index = filled(vectors, entries=[10, 10, 20])
    query = vectors[1]
    nearest = index.nearest(query, depth=5)
    assert list(nearest) == [10, 20]
    assert nearest[10] == pytest.approx(1.0, abs=1e-5)


def test_a_filtered_search_returns_only_matching_entries():
    vectors = clustered(3000)
    fields = [
        {"stage": ["quote", "negotiate"][i % 2], "category": "price", "kind": "sales"}
        for i in range(3000)
    ]
    index = filled(vectors, fields=fields)
    nearest = index.nearest(vectors[0], depth=50, filters={"stage": "negotiate"})
    assert len(nearest) == 50 and all(entry % 2 == 1 for entry in nearest)
    odd = np.arange(1, 3000, 2)
    assert list(nearest) == [int(odd[i]) for i in exact(vectors[odd], vectors[0], 50)]
    assert index.nearest(vectors[0], depth=5, filters={"stage": "no such stage"}) == {}


def test_a_large_pool_is_searched_through_clusters_with_the_exact_answers(monkeypatch):
    monkeypatch.setenv("BPC_ANN_MIN_ROWS", "2000")
    vectors = clustered(11000)
    index = filled(vectors[:5000])
    assert index.needs_training()
    index.grow()
    assert index.ann_rows == 5000 and not index.needs_training()
    index.append(vectors[5000:6000], list(range(5000, 6000)), [{}] * 1000)  # the tail, not in it
    rng = np.random.default_rng(1)
    queries = unit(vectors[rng.integers(0, 6000, 100)] + 0.2 * rng.standard_normal((100, DIM)))

    def agreement(rows: int) -> tuple[int, float]:
        first = top10 = 0
        for query in queries:
            found = list(index.nearest(query, depth=100))
            want = exact(vectors[:rows], query, 10)
            first += found[0] == want[0]
            top10 += len(set(found[:100]) & set(want)) / 10
        return first, top10 / len(queries)

    first, top10 = agreement(6000)
    assert first >= 97 and top10 >= 0.97
    assert index.ann_rows == 5000  # the tail was searched exactly, not added behind our back
    # the pool doubles: a new clustering is trained and filled, then takes over
    index.append(vectors[6000:], list(range(6000, 11000)), [{}] * 5000)
    assert index.needs_training()
    index.grow()
    assert index.ann_rows == 11000 and not index.needs_training() and not index.wants_rows()
    first, top10 = agreement(11000)
    assert first >= 97 and top10 >= 0.97


def test_a_new_clustering_serves_only_once_it_holds_every_row(monkeypatch):
    monkeypatch.setenv("BPC_ANN_MIN_ROWS", "1000")
    vectors = clustered(4000)
    index = filled(vectors[:1500])
    index.grow()
    before = index.ann_rows
    index.append(vectors[1500:], list(range(1500, 4000)), [{}] * 2500)
    index.install(index.train(index.training_sample(), len(index)), len(index))
    index.add_rows(rows=1000)  # the new one is partly filled: the old one still serves
    assert index.ann_rows == before
    assert list(index.nearest(vectors[3999], depth=1)) == [3999]  # found in the exact tail
    while index.wants_rows():
        index.add_rows()
    assert index.ann_rows == 4000


def test_a_small_pool_is_searched_exactly():
    index = filled(clustered(500))
    assert not index.needs_training() and index.grow() == 0
    assert len(index.nearest(clustered(1, seed=3)[0], depth=10)) == 10
