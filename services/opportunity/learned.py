"""The closed opportunities' counts that stage probabilities are learned from, kept a short
while by each instance: what has closed changes slowly, and every workbench asks for them."""

from __future__ import annotations

import os
import time

# pipeline id → (read at, ((stage index, won?), how many) pairs)
_cache: dict[int, tuple[float, list]] = {}


def ttl() -> float:
    return float(os.environ.get("BPC_LEARNED_TTL", "60"))


def get(pipeline_id: int, read):
    """The counts of ``pipeline_id``: cached for ``BPC_LEARNED_TTL`` seconds (60), else
    ``read()``."""
    cached = _cache.get(pipeline_id)
    if cached is not None and time.monotonic() - cached[0] < ttl():
        return cached[1]
    counts = read()
    _cache[pipeline_id] = (time.monotonic(), counts)
    return counts


def forget(pipeline_id: int | None = None) -> None:
    """An opportunity of the pipeline closed here (None: history was imported): read again.
    Another instance's closings show within the time to live."""
    if pipeline_id is None:
        _cache.clear()
    else:
        _cache.pop(pipeline_id, None)
