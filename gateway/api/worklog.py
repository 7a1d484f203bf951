"""The work log: the activity catalog, entries (append-only), their notes, the hash chain's check
(the worklog service's; an entry's difficulty raises its alarm in alerts)."""

from __future__ import annotations

import logging

from common.errors import BpcError, Immutable, ServiceUnavailable, ValidationFailed
from gateway import schemas as s
from gateway.api.common import API
from gateway.routing import Call, Route

WORKLOG = "worklog"
ALERTS = "alerts"
log = logging.getLogger(__name__)


def list_activities(call: Call):
    return call.rpc.call(WORKLOG, "activities")


def put_activity(call: Call):
    return call.rpc.call(WORKLOG, "put_activity", **call.body)


def _check_alarm_category(call: Call, category: str) -> None:
    """A difficulty's category must be one of the alarm categories (refused before anything
    is recorded); if the alerts service does not answer, the entry is recorded all the same
    and an unknown category becomes ``other`` when its alarm is raised."""
    try:
        known = {c["key"] for c in call.rpc.call(ALERTS, "categories")["items"]}
    except ServiceUnavailable:
        return
    if category not in known:
        raise ValidationFailed(
            details={"difficulty.category": ["未知的报警类别 / Unknown alarm category"]}
        )


def record_entry(call: Call):
    difficulty = call.body.get("difficulty")
    if difficulty:
        _check_alarm_category(call, difficulty["category"])
    # with an Idempotency-Key the worklog itself records the entry once: a retry after an
    # answer lost to a timeout or a crash gets the same entry, not a second one
    key = {"request_key": call.idempotency_key} if call.idempotency_key else {}
    answer = call.rpc.call(WORKLOG, "record", **call.body, **key)
    if answer.get("difficulty"):
        # raise the alarm now, so that the answer carries its id; if alerts does not answer,
        # the entry_recorded event raises it a moment later (alarm_id stays null here)
        try:
            alarm = call.rpc.call(
                ALERTS,
                "raise_from_entry",
                entry_id=answer["id"],
                author_id=answer["author_id"],
                author_path=list(call.actor.path),
                recorded_at=answer.get("recorded_at"),
                opportunity_id=answer.get("opportunity_id"),
                customer_id=answer.get("customer_id"),
                stage=answer.get("stage"),
                difficulty=answer["difficulty"],
            )
            if alarm:
                answer["alarm_id"] = alarm["id"]
        except BpcError as exc:
            log.warning("entry %s: alarm not raised at once: %r", answer["id"], exc)
    return answer


def immutable_entry(call: Call):
    # entries are append-only (docs/DOMAIN.md): nothing to ask the service, the answer never changes
    raise Immutable(
        "日报一经提交不可修改或删除 / A log entry can never be changed or deleted",
        details={"entry_id": call.path["id"]},
    )


def list_entries(call: Call):
    return call.rpc.call(
        WORKLOG,
        "list",
        author_id=call.query["author_id"],
        from_date=call.query["from_"],
        to_date=call.query["to"],
        limit=call.query["limit"],
        cursor=call.query["cursor"],
    )


def get_entry(call: Call):
    return call.rpc.call(WORKLOG, "get", entry_id=call.path["id"])


def add_entry_note(call: Call):
    return call.rpc.call(WORKLOG, "add_note", entry_id=call.path["id"], text=call.body["text"])


def verify_entries(call: Call):
    return call.rpc.call(WORKLOG, "verify", author_id=call.query["author_id"])


ROUTES: list[Route] = [
    Route(
        "GET",
        f"{API}/activities",
        list_activities,
        "日报活动目录 / The activity catalog",
        response=s.ActivityList,
        tag=WORKLOG,
    ),
    Route(
        "POST",
        f"{API}/activities",
        put_activity,
        "新增或替换日报活动（全集团目录）/ Add or replace an activity of the group-wide catalog",
        request=s.PutActivityRequest,
        response=s.Activity,
        min_level=6,
        status=201,
        errors=(403, 422),
        tag=WORKLOG,
    ),
    Route(
        "POST",
        f"{API}/worklog/entries",
        record_entry,
        "提交日报（提交后不可修改）/ Record a log entry (never changed afterwards)",
        request=s.RecordEntryRequest,
        response=s.Entry,
        status=201,
        errors=(403, 404, 422),
        tag=WORKLOG,
        description="违反规则为 422（如 day_limit_exceeded、too_late、expense_over_cap）/ "
        "Rule violations are 422 (day_limit_exceeded, too_late, expense_over_cap, …)",
    ),
    Route(
        "GET",
        f"{API}/worklog/entries",
        list_entries,
        "可见的日报 / Visible log entries",
        query=s.EntriesQuery,
        response=s.EntryPage,
        errors=(403, 422),
        tag=WORKLOG,
    ),
    Route(
        "GET",
        f"{API}/worklog/entries/{{id}}",
        get_entry,
        "日报及其附注 / A log entry and its notes",
        response=s.Entry,
        errors=(404,),
        tag=WORKLOG,
    ),
    Route(
        "PUT",
        f"{API}/worklog/entries/{{id}}",
        immutable_entry,
        "日报不可修改 / Always 405 immutable: a log entry cannot be changed",
        request=s.AnyBody,
        errors=(404, 405),
        tag=WORKLOG,
        description="请求体被忽略；可追加附注 / The body is ignored; append a note instead",
    ),
    Route(
        "PATCH",
        f"{API}/worklog/entries/{{id}}",
        immutable_entry,
        "日报不可修改 / Always 405 immutable: a log entry cannot be changed",
        request=s.AnyBody,
        errors=(404, 405),
        tag=WORKLOG,
        description="请求体被忽略；可追加附注 / The body is ignored; append a note instead",
    ),
    Route(
        "DELETE",
        f"{API}/worklog/entries/{{id}}",
        immutable_entry,
        "日报不可删除 / Always 405 immutable: a log entry cannot be deleted",
        errors=(404, 405),
        tag=WORKLOG,
    ),
    Route(
        "POST",
        f"{API}/worklog/entries/{{id}}/notes",
        add_entry_note,
        "追加附注（仅作者，原日报不变）/ Append a note (the author only; the entry is kept)",
        request=s.AddNoteRequest,
        response=s.Note,
        status=201,
        errors=(403, 404, 422),
        tag=WORKLOG,
    ),
    Route(
        "GET",
        f"{API}/worklog/verify",
        verify_entries,
        "校验日报哈希链 / Verify an author's hash chain",
        query=s.VerifyQuery,
        response=s.Verify,
        errors=(403, 404, 422),
        tag=WORKLOG,
    ),
]
