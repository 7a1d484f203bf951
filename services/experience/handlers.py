"""Use cases of the experience service: the pool (经验池), search, suggestions, the handbook."""

from __future__ import annotations

import html
import logging
import re
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common import clock
from common.actor import Actor
from common.db import Db, is_unique_violation
from common.errors import NotFound, ValidationFailed
from common.events import Envelope
from services.experience import semantic
from services.experience.models import Entry, HelpfulVote, Reuse, Text_
from services.experience.pool import pool

log = logging.getLogger(__name__)

ENTRY_NOT_FOUND = "经验不存在 / Experience entry not found"
TITLE_LENGTH = 40
SCORE_DIGITS = 4
_CLAUSE = re.compile(r"[。！？!?；;\n]")

CATEGORY_NAMES = {
    "price": "价格 Price",
    "competitor": "竞争对手 Competitor",
    "technical": "技术 Technical",
    "decision_chain": "决策链 Decision chain",
    "payment": "回款 Payment collection",
    "relationship": "客户关系 Customer relationship",
    "service": "售后服务 After-sales service",
    "other": "其他 Other",
}


def title_of(problem: str) -> str:
    """An entry's title: the problem's first sentence, at most 40 characters."""
    first = _CLAUSE.split(problem.strip(), maxsplit=1)[0].strip() or problem.strip()
    return first if len(first) <= TITLE_LENGTH else first[: TITLE_LENGTH - 1] + "…"


def entry_out(entry: Entry, score: float | None = None) -> dict:
    answer = {
        "id": str(entry.id),
        "title": entry.title,
        "problem": entry.problem,
        "analysis": entry.analysis,
        "method": entry.method,
        "stage": entry.stage,
        "category": entry.category,
        "kind": entry.kind,
        "industry": entry.industry,
        "contributors": list(entry.contributors or []),
        "method_author_id": entry.method_author_id,
        "source_alarm_id": entry.source_alarm_id,
        "created_at": clock.isoformat(entry.created_at),
        "reuse_count": entry.reuse_count,
        "helpful_count": entry.helpful_count,
    }
    if score is not None:
        answer["score"] = round(score, SCORE_DIGITS)
    return answer


def _vectors(texts: list[str]) -> list[bytes | None]:
    """Embeddings of problem wordings, computed before the transaction opens (a batch of 64
    takes about a second); all None when embeddings are off."""
    vectors = semantic.passages(texts)
    if vectors is None:
        return [None] * len(texts)
    return [semantic.to_bytes(v) for v in vectors]


def _add(session: Session, entry: Entry, vector: bytes | None) -> Entry:
    """A new entry with its searchable texts: the problem (with its embedding), and the method
    (indexed at a lower weight: the words of a problem say more about which problem it is)."""
    session.add(entry)
    session.flush()
    at = entry.created_at
    session.add(
        Text_(entry_id=entry.id, text=entry.problem, source="problem", added_at=at, vector=vector)
    )
    session.add(Text_(entry_id=entry.id, text=entry.method, source="method", added_at=at))
    return entry


# --- the pool fills itself from resolved alarms ------------------------------------------------


def alarm_resolved(db: Db, event: Envelope) -> None:
    """方法有效 on a response → a new entry with the problem, the method and the helpers;
    on a suggestion → one reuse of that entry, and the new wording joins its texts."""
    data = event.payload()
    now = clock.now()
    (vector,) = _vectors([data["description"]])
    with db.unit_of_work() as uow:
        if not uow.first_time(event):
            return
        session = uow.session
        if data["via"] == "suggestion" and data.get("experience_id"):
            entry = session.get(Entry, int(data["experience_id"]))
            if entry is None:
                log.warning(
                    "alarm %s reused unknown experience %s", data["alarm_id"], data["experience_id"]
                )
                return
            if session.get(Reuse, data["alarm_id"]) is not None:
                return
            session.add(Reuse(alarm_id=data["alarm_id"], entry_id=entry.id, at=now))
            session.execute(
                update(Entry).where(Entry.id == entry.id).values(reuse_count=Entry.reuse_count + 1)
            )
            session.add(
                Text_(
                    entry_id=entry.id,
                    text=data["description"],
                    source="reuse",
                    added_at=now,
                    vector=vector,
                )
            )
            return
        exists = session.scalar(select(Entry.id).where(Entry.source_alarm_id == data["alarm_id"]))
        if exists is not None:
            return
        contributors = list(data.get("contributors") or [])
        _add(
            session,
            Entry(
                title=title_of(data["description"]),
                problem=data["description"],
                analysis=data.get("analysis") or "",
                method=data["method"],
                stage=data.get("stage"),
                category=data["category"],
                kind=data.get("kind") or "sales",
                industry=data.get("industry"),
                requester_id=data["requester_id"],
                method_author_id=data.get("method_author_id"),
                contributors=contributors,
                source_alarm_id=data["alarm_id"],
                created_at=datetime_of(data["resolved_at"]) or now,
            ),
            vector,
        )


def datetime_of(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def import_entries(db: Db, actor: Actor, items: list[dict]) -> dict:
    """Level 9: entries as they would have come from resolved alarms (demo data, a move from
    another system); one transaction; an item whose ``source_alarm_id`` is already in the pool
    is skipped, so an import can be run again."""
    actor.require_level(9)
    now = clock.now()
    given = len(items)
    ids = [i["source_alarm_id"] for i in items if i.get("source_alarm_id")]
    known: set[str] = set()
    if ids:
        with db.read() as session:
            known = set(
                session.scalars(select(Entry.source_alarm_id).where(Entry.source_alarm_id.in_(ids)))
            )
    items = [i for i in items if not (i.get("source_alarm_id") and i["source_alarm_id"] in known)]
    vectors = _vectors([i["problem"] for i in items])
    created = 0
    with db.unit_of_work() as uow:
        for item, vector in zip(items, vectors, strict=True):
            _add(
                uow.session,
                Entry(
                    title=item.get("title") or title_of(item["problem"]),
                    problem=item["problem"],
                    analysis=item.get("analysis") or "",
                    method=item["method"],
                    stage=item.get("stage"),
                    category=item["category"],
                    kind=item.get("kind") or "sales",
                    industry=item.get("industry"),
                    requester_id=item.get("requester_id"),
                    method_author_id=item.get("method_author_id"),
                    contributors=list(item.get("contributors") or []),
                    source_alarm_id=item.get("source_alarm_id"),
                    created_at=item.get("created_at") or now,
                    reuse_count=item.get("reuse_count") or 0,
                    helpful_count=0,
                ),
                vector,
            )
            created += 1
    return {"created": created, "skipped": given - created}


# --- reading ---------------------------------------------------------------------------------


def _entries(session: Session, ids: list[int]) -> dict[int, Entry]:
    if not ids:
        return {}
    return {e.id: e for e in session.scalars(select(Entry).where(Entry.id.in_(ids)))}


def get(db: Db, entry_id: int) -> dict:
    with db.read() as session:
        entry = session.get(Entry, entry_id)
        if entry is None:
            raise NotFound(ENTRY_NOT_FOUND, {"experience_id": str(entry_id)})
        return entry_out(entry)


def search(db: Db, args: dict) -> dict:
    """With ``q``: the best matches (filters exact), best first; without: newest first."""
    limit = args["limit"] or 50
    filters = {k: args.get(k) for k in ("stage", "category", "kind")}
    with db.read() as session:
        if args.get("q"):
            offset = args.get("cursor") or 0
            ranked = pool().search(session, args["q"], offset + limit + 1, **filters)
            page = ranked[offset : offset + limit]
            rows = _entries(session, [doc for doc, _ in page])
            items = [entry_out(rows[doc], score) for doc, score in page if doc in rows]
            more = len(ranked) > offset + limit
            return {"items": items, "next_cursor": str(offset + limit) if more else None}
        query = select(Entry)
        for name, value in filters.items():
            if value is not None:
                query = query.where(getattr(Entry, name) == value)
        if args.get("cursor") is not None:
            query = query.where(Entry.id < args["cursor"])
        rows = list(session.scalars(query.order_by(Entry.id.desc()).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return {
            "items": [entry_out(e) for e in rows],
            "next_cursor": str(rows[-1].id) if more and rows else None,
        }


def suggest(db: Db, args: dict) -> dict:
    """The solved problems most similar to a new one, best first. ``stage``, ``category`` and
    ``kind`` are preferences, not filters: a problem filed under another category may be the
    same problem."""
    prefer = {k: args[k] for k in ("stage", "category", "kind") if args.get(k)}
    with db.read() as session:
        ranked = pool().search(session, args["q"], args["limit"], prefer=prefer or None)
        rows = _entries(session, [doc for doc, _ in ranked])
        return {"items": [entry_out(rows[doc], score) for doc, score in ranked if doc in rows]}


def helpful(db: Db, actor: Actor, entry_id: int) -> dict:
    """One "helpful" vote per user and entry; voting again changes nothing."""
    try:
        with db.unit_of_work() as uow:
            entry = uow.session.get(Entry, entry_id)
            if entry is None:
                raise NotFound(ENTRY_NOT_FOUND, {"experience_id": str(entry_id)})
            voted = uow.session.get(HelpfulVote, (entry_id, actor.id)) is not None
            if not voted:
                uow.session.add(HelpfulVote(entry_id=entry_id, user_id=actor.id, at=clock.now()))
                uow.session.execute(
                    update(Entry)
                    .where(Entry.id == entry_id)
                    .values(helpful_count=Entry.helpful_count + 1)
                )
    except IntegrityError as exc:  # the same user's two votes at once: one counts
        if not is_unique_violation(exc):
            raise
    with db.read() as session:
        entry = session.get(Entry, entry_id)
        return {**entry_out(entry), "voted": True}


# --- the handbook (生意经) -----------------------------------------------------------------------

HANDBOOK_TITLE = "生意经 · 经验手册 / The company's handbook of sales experience"
NO_STAGE = "未分阶段 / No stage"


def _handbook_entries(session: Session, stage: str | None) -> dict[str | None, list[Entry]]:
    query = select(Entry)
    if stage:
        query = query.where(Entry.stage == stage)
    query = query.order_by(
        Entry.stage, Entry.category, (Entry.reuse_count + Entry.helpful_count).desc(), Entry.id
    )
    grouped: dict[str | None, list[Entry]] = defaultdict(list)
    for entry in session.scalars(query):
        grouped[entry.stage].append(entry)
    return grouped


def _markdown(grouped: dict, stage: str | None) -> str:
    lines = [f"# {HANDBOOK_TITLE}", ""]
    if stage:
        lines += [f"阶段 / Stage: **{stage}**", ""]
    if not grouped:
        lines += ["（暂无经验 / No experience yet）", ""]
    for stage_key, entries in grouped.items():
        lines += [f"## {stage_key or NO_STAGE}", ""]
        by_category: dict[str, list[Entry]] = defaultdict(list)
        for entry in entries:
            by_category[entry.category].append(entry)
        for category, items in by_category.items():
            lines += [f"### {CATEGORY_NAMES.get(category, category)}", ""]
            for entry in items:
                lines += [
                    f"#### {entry.title}",
                    "",
                    f"- 问题 / Problem: {entry.problem}",
                    f"- 有效方法 / Effective method: {entry.method}",
                    f"- 复用 / Reused: {entry.reuse_count} · 有用 / Helpful: {entry.helpful_count}"
                    + (f" · 行业 / Industry: {entry.industry}" if entry.industry else ""),
                    "",
                ]
    return "\n".join(lines)


def _html(grouped: dict, stage: str | None) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{e(HANDBOOK_TITLE)}</title>",
        "<style>body{font-family:'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif;"
        "max-width:60em;margin:2em auto;line-height:1.6}h2{border-bottom:1px solid #999}"
        "article{break-inside:avoid;margin:0 0 1em}dt{font-weight:bold}"
        "@media print{body{margin:0}h2{break-before:page}h2:first-of-type{break-before:auto}}"
        "</style></head><body>",
        f"<h1>{e(HANDBOOK_TITLE)}</h1>",
    ]
    if stage:
        parts.append(f"<p>阶段 / Stage: <strong>{e(stage)}</strong></p>")
    if not grouped:
        parts.append("<p>（暂无经验 / No experience yet）</p>")
    for stage_key, entries in grouped.items():
        parts.append(f"<section><h2>{e(stage_key or NO_STAGE)}</h2>")
        by_category: dict[str, list[Entry]] = defaultdict(list)
        for entry in entries:
            by_category[entry.category].append(entry)
        for category, items in by_category.items():
            parts.append(f"<h3>{e(CATEGORY_NAMES.get(category, category))}</h3>")
            for entry in items:
                parts.append(
                    f"<article><h4>{e(entry.title)}</h4><dl>"
                    f"<dt>问题 / Problem</dt><dd>{e(entry.problem)}</dd>"
                    f"<dt>有效方法 / Effective method</dt><dd>{e(entry.method)}</dd></dl>"
                    f"<p>复用 / Reused: {entry.reuse_count} · 有用 / Helpful: "
                    f"{entry.helpful_count}</p></article>"
                )
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def handbook(db: Db, args: dict) -> dict:
    """The per-stage handbook: stages, then categories, the most reused and helpful first."""
    with db.read() as session:
        grouped = _handbook_entries(session, args.get("stage"))
        count = sum(len(v) for v in grouped.values())
        fmt = args["format"]
        body = (
            _markdown(grouped, args.get("stage"))
            if fmt == "md"
            else _html(grouped, args.get("stage"))
        )
    return {
        "format": fmt,
        "content_type": "text/markdown; charset=utf-8"
        if fmt == "md"
        else "text/html; charset=utf-8",
        "entries": count,
        "body": body,
    }


def check_query(q: str | None) -> str:
    if q is None or not q.strip():
        raise ValidationFailed(details={"q": ["必填 / Required"]})
    return q.strip()
