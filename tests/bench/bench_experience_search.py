"""Experience-pool search benchmark: 100,000 entries, 1,000 queries, in-process.

    .venv/bin/python tests/bench/bench_experience_search.py
    .venv/bin/python tests/bench/bench_experience_search.py --entries 20000 --queries 200

Goal (issue): a search over 100,000 entries answers in well under 50 ms for typical 10–30
character queries. The entries are the 205 labelled problems of tests/data/
experience_eval.json and generated distractors (ops/demo_texts.py), each
indexed as its problem with the method as ``extra_text`` and stage and category fields, as
the pool holds them. The queries are the labelled paraphrases, then 10–30 character openings
of random entries' problems. Prints the build time (seconds to index all entries, the
thesaurus and jieba loaded beforehand), the resident memory after indexing, and the p50 / p95
/ max latency of ``SearchIndex.search(query, limit=5)``: plain, with a stage filter, and
with a category preference (``prefer``). Then the cost of the search's bound: for the
labelled paraphrases, how often its top 3 equal an exact search's (``postings_budget=None``)
and the share of them finding their entry in the top 3 either way, at this pool size.

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

from ops.demo_texts import generate  # noqa: E402
from services.experience.search import SearchIndex, tokenize  # noqa: E402


def build(entries: list[dict]) -> SearchIndex:
    index = SearchIndex()
    for entry in entries:
        index.add(
            entry["id"],
            entry["problem"],
            {"stage": entry["stage"], "category": entry["category"]},
            extra_text=entry["method"],
        )
    return index


def queries(labelled: list[dict], entries: list[dict], count: int, rng: random.Random) -> list:
    chosen = [item["query"] for item in labelled][:count]
    while len(chosen) < count:
        problem = rng.choice(entries)["problem"]
        chosen.append(problem[: rng.randrange(10, 31)])
    return chosen


def rss_mib() -> float:
    """Resident memory of this process now (Linux), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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
    labelled = json.loads((ROOT / "tests/data/experience_eval.json").read_text(encoding="utf-8"))
    entries = [*labelled, *generate(args.entries - len(labelled))]
    tokenize("预热 jieba 合同")  # jieba's dictionary and the thesaurus: not the build time
    start = time.perf_counter()
    index = build(entries)
    built = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"built {len(index)} entries in {built:.1f} s; RSS after indexing {rss_mib():.0f} MiB "
        f"(peak {peak_mib:.0f} MiB)"
    )
    texts = queries(labelled, entries, args.queries, rng)
    latencies_ms(index, texts[:50])  # warm-up
    report("search", latencies_ms(index, texts))
    report("search stage=quote", latencies_ms(index, texts, stage="quote"))
    report("search prefer=price", latencies_ms(index, texts, prefer={"category": "price"}))
    bounded = [[d for d, _ in index.search(item["query"], limit=3)] for item in labelled]
    index.postings_budget = None
    exact = [[d for d, _ in index.search(item["query"], limit=3)] for item in labelled]
    same = sum(a == b for a, b in zip(bounded, exact, strict=True)) / len(labelled)

    def top3(results: list) -> float:
        found = [item["id"] in ranked for item, ranked in zip(labelled, results, strict=True)]
        return sum(found) / len(found)

    print(
        f"bounded vs exact search on {len(labelled)} labelled paraphrases: same top 3 for "
        f"{same:.3f}; labelled top-3 at {len(index):,} entries {top3(bounded):.3f} bounded, "
        f"{top3(exact):.3f} exact"
    )


if __name__ == "__main__":
    main()
