"""Schemathesis hooks for the fuzz of every route (tests/e2e/test_acceptance.py): besides what
it generates from the OpenAPI document, each body may carry a lone UTF-16 surrogate in a text
field, and each date a client can send may be pushed to the ends of the calendar (0001-01-01,
9999-12-31) — input a client can send that once answered 500. Loaded by the schemathesis CLI
through ``SCHEMATHESIS_HOOKS=tests.e2e.fuzz_hooks``."""

from __future__ import annotations

import re

import schemathesis
from hypothesis import strategies as st

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
EXTREMES = ("0001-01-01", "9999-12-31", "1900-12-31", "2100-01-01")


def _strings(value, change):
    """``value`` with every string passed through ``change`` (keys kept)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: _strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(v, change) for v in value]
    return value


def _extreme_dates(value, extreme: str):
    return _strings(value, lambda s: extreme + s[10:] if DATE.match(s) else s)


def _surrogate(value):
    return _strings(value, lambda s: s + "\ud800" if not DATE.match(s) else s)


@schemathesis.hook
def flatmap_body(context, body):
    if not isinstance(body, dict | list):
        return st.just(body)
    return st.sampled_from([
        body, _surrogate(body), *(_extreme_dates(body, e) for e in EXTREMES),
    ])  # fmt: skip


@schemathesis.hook
def flatmap_query(context, query):
    if not query:
        return st.just(query)
    return st.sampled_from([query, *(_extreme_dates(query, e) for e in EXTREMES)])
