"""Experience-pool search quality on the labelled set: top-1 and top-3 hit rates.

    .venv/bin/python tests/bench/eval_experience_search.py

Each of the labelled problems of tests/data/experience_eval.json is in the pool among 1,800
generated distractors (ops/demo_texts.py); each is then looked for with
its paraphrase (the ``query``: the same difficulty in another salesperson's words). Prints
the share of queries whose entry comes first (top-1) and among the first three (top-3),
beside the issue's goal (top-3 ≥ 0.85), and the ids missed.

The labelled set is split deterministically: odd ids are the dev half (the search was tuned
on them only), even ids the held-out half (never looked at while tuning). Figures are given
for dev, held-out and all, for two ways of indexing an entry:

* ``weighted``: problem as the text, method as ``extra_text`` (half weight) — the intended
  use by the service;
* ``combined``: ``f"{problem}\\n{method}"`` as one text (the earlier call, still supported);

each without a preference and with ``prefer={"category": <the query's own category>}`` (an
alarm carries its category). Deterministic: same figures on every run.

Not a pytest test (the file name does not match ``test_*.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ops.demo_texts import generate  # noqa: E402
from services.experience.search import SearchIndex  # noqa: E402
from tests.unit.test_experience_search import evaluate, load_labelled  # noqa: E402

GOAL_TOP3 = 0.85


def build(entries: list[dict], mode: str = "weighted") -> SearchIndex:
    index = SearchIndex()
    for entry in entries:
        fields = {"stage": entry["stage"], "category": entry["category"]}
        if mode == "weighted":
            index.add(entry["id"], entry["problem"], fields, extra_text=entry["method"])
        else:
            index.add(entry["id"], f"{entry['problem']}\n{entry['method']}", fields)
    return index


def splits(labelled: list[dict]) -> dict[str, list[dict]]:
    return {
        "dev": [item for item in labelled if item["id"] % 2 == 1],
        "held-out": [item for item in labelled if item["id"] % 2 == 0],
        "all": labelled,
    }


def main() -> int:
    labelled = load_labelled()
    distractors = generate(1800)
    parts = splits(labelled)
    print(
        f"experience search: {len(labelled)} labelled paraphrases "
        f"(dev {len(parts['dev'])} odd ids, held-out {len(parts['held-out'])} even ids), "
        f"pool of {len(labelled) + len(distractors):,}"
    )
    verdict_top3 = None
    for mode in ("weighted", "combined"):
        index = build([*labelled, *distractors], mode)
        for prefer in (False, True):
            label = f"{mode:8} {'prefer=category' if prefer else 'no prefer':15}"
            cells = []
            for name, items in parts.items():
                result = evaluate(index, items, prefer_category=prefer)
                cells.append(f"{name} top-1 {result['top1']:.3f} top-3 {result['top3']:.3f}")
                if mode == "weighted" and not prefer and name == "all":
                    verdict_top3, misses = result["top3"], result["misses"]
            print(f"  {label} | " + " | ".join(cells))
    verdict = "PASS" if verdict_top3 >= GOAL_TOP3 else "FAIL"
    print(f"  goal top-3 ≥ {GOAL_TOP3} (weighted, no prefer, all): {verdict_top3:.3f} {verdict}")
    print(f"  missed (weighted, no prefer; not in the top 3): {misses}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
