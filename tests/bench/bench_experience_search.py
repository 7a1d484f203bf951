"""Experience-pool search benchmark: 100,000 entries, 1,000 queries, in-process.

    .venv/bin/python tests/bench/bench_experience_search.py
    .venv/bin/python tests/bench/bench_experience_search.py --entries 20000 --queries 200

Goal (issue): a search over 100,000 entries answers in well under 50 ms for typical 10–30
character queries. The entries are the 205 labelled problems of tests/data/
experience_eval.json and generated distractors (tests/data/experience_distractors.py), each
indexed as problem + method with stage and category fields, as the pool holds them. The
queries are the labelled paraphrases, then 10–30 character openings of random entries'
problems. Prints the build time, the peak memory and the p50 / p95 / max latency of
``SearchIndex.search(query, limit=5)``, with and without a stage filter.

Not a pytest test (the file name does not match ``test_*.py``).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.experience.search import SearchIndex, tokenize  # noqa: E402
from tests.data.experience_distractors import generate  # noqa: E402


def build(entries: list[dict]) -> SearchIndex:
    index = SearchIndex()
    for entry in entries:
        index.add(
            entry["id"],
            f"{entry['problem']}\n{entry['method']}",
            {"stage": entry["stage"], "category": entry["category"]},
        )
    return index


def queries(labelled: list[dict], entries: list[dict], count: int, rng: random.Random) -> list:
    chosen = [item["query"] for item in labelled][:count]
    while len(chosen) < count:
        problem = rng.choice(entries)["problem"]
        chosen.append(problem[: rng.randrange(10, 31)])
    return chosen


def latencies_ms(index: SearchIndex, texts: list[str], **filters) -> list[float]:
    times = []
    for text in texts:
        start = time.perf_counter()
        index.search(text, limit=5, **filters)
        times.append((time.perf_counter() - start) * 1000)
    return times


def report(label: str, times: list[float]) -> None:
    cuts = statistics.quantiles(times, n=100)
    print(
        f"{label}: p50 {cuts[49]:.2f} ms, p95 {cuts[94]:.2f} ms, max {max(times):.2f} ms "
        f"over {len(times)} queries"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000)
    args = parser.parse_args()
    rng = random.Random(7)
    labelled = json.loads(
        (ROOT / "tests/data/experience_eval.json").read_text(encoding="utf-8")
    )
    entries = [*labelled, *generate(args.entries - len(labelled))]
    tokenize("预热 jieba")  # its dictionary load is not part of the build time
    start = time.perf_counter()
    index = build(entries)
    built = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"built {len(index)} entries in {built:.1f} s; peak RSS {peak_mib:.0f} MiB")
    texts = queries(labelled, entries, args.queries, rng)
    latencies_ms(index, texts[:50])  # warm-up
    report("search", latencies_ms(index, texts))
    report("search stage=quote", latencies_ms(index, texts, stage="quote"))


if __name__ == "__main__":
    main()
