"""Experience-pool search quality on the labelled set: top-1 and top-3 hit rates.

    .venv/bin/python tests/bench/eval_experience_search.py

Each of the labelled problems of tests/data/experience_eval.json is in the pool (problem +
method, as the pool holds an entry) among 1,800 generated distractors
(tests/data/experience_distractors.py); each is then looked for with its paraphrase (the
``query``: the same difficulty in another salesperson's words). Prints the share of queries
whose entry comes first (top-1) and among the first three (top-3), beside the issue's goal
(top-3 ≥ 0.85), and the ids missed. Deterministic: same figures on every run.

Not a pytest test (the file name does not match ``test_*.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.data.experience_distractors import generate  # noqa: E402
from tests.unit.test_experience_search import evaluate, load_labelled  # noqa: E402

from services.experience.search import SearchIndex  # noqa: E402

GOAL_TOP3 = 0.85


def main() -> int:
    labelled = load_labelled()
    index = SearchIndex()
    for entry in [*labelled, *generate(1800)]:
        index.add(
            entry["id"],
            f"{entry['problem']}\n{entry['method']}",
            {"stage": entry["stage"], "category": entry["category"]},
        )
    result = evaluate(index, labelled)
    verdict = "PASS" if result["top3"] >= GOAL_TOP3 else "FAIL"
    print(f"experience search: {len(labelled)} labelled paraphrases, pool of {len(index):,}")
    print(f"  top-1 {result['top1']:.3f}")
    print(f"  top-3 {result['top3']:.3f}   goal ≥ {GOAL_TOP3}: {verdict}")
    print(f"  missed (not in the top 3): {result['misses']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
