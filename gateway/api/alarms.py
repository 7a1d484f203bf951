"""Difficulty alarms: categories, raising, the board, responses, 方法有效 (a response or a
suggested experience), statistics, escalation (the alerts service's)."""

from __future__ import annotations

from gateway import schemas as s
from gateway.api.common import API
from gateway.routing import Call, Route

ALERTS = "alerts"


def alarm_categories(call: Call):
    return call.rpc.call(ALERTS, "categories")


def put_alarm_category(call: Call):
    return call.rpc.call(ALERTS, "put_category", **call.body)


def raise_alarm(call: Call):
    return call.rpc.call(ALERTS, "raise_alarm", **call.body)


def alarm_board(call: Call):
    q = call.query
    return call.rpc.call(
        ALERTS,
        "board",
        **{k: q.get(k) for k in ("status", "category", "kind", "stage", "requester_id")},
        opportunity_id=q.get("opportunity_id"),
        mine=q.get("mine"),
        to_help=q.get("to_help"),
        subordinates=q.get("subordinates"),
        unsupported=q.get("unsupported"),
        limit=q.get("limit"),
        cursor=q.get("cursor"),
    )


def get_alarm(call: Call):
    return call.rpc.call(ALERTS, "get", alarm_id=call.path["id"])


def respond_to_alarm(call: Call):
    return call.rpc.call(ALERTS, "respond", alarm_id=call.path["id"], body=call.body["body"])


def mark_response_effective(call: Call):
    return call.rpc.call(
        ALERTS,
        "mark_response_effective",
        alarm_id=call.path["id"],
        response_id=call.path["response_id"],
    )


def mark_suggestion_effective(call: Call):
    return call.rpc.call(
        ALERTS,
        "mark_suggestion_effective",
        alarm_id=call.path["id"],
        experience_id=call.path["experience_id"],
    )


def alarm_stats(call: Call):
    return call.rpc.call(
        ALERTS,
        "stats",
        scope=call.query["scope"],
        from_date=call.query["from_"],
        to_date=call.query["to"],
    )


def escalate_alarms(call: Call):
    return call.rpc.call(ALERTS, "escalate")


ROUTES: list[Route] = [
    Route(
        "GET",
        f"{API}/alarm-categories",
        alarm_categories,
        "报警类别 / Alarm categories",
        response=s.AlarmCategoryList,
        tag=ALERTS,
    ),
    Route(
        "POST",
        f"{API}/alarm-categories",
        put_alarm_category,
        "新增、改名或停用报警类别 / Add, rename or retire an alarm category",
        request=s.PutAlarmCategoryRequest,
        response=s.AlarmCategory,
        min_level=6,
        status=201,
        errors=(403, 422),
        tag=ALERTS,
    ),
    Route(
        "POST",
        f"{API}/alarms",
        raise_alarm,
        "困难报警（全集团可见），附经验池中最相似的已解决问题 / Raise a difficulty alarm "
        "(published to the whole group), with the most similar solved problems",
        request=s.RaiseAlarmRequest,
        response=s.Alarm,
        status=201,
        errors=(422,),
        tag=ALERTS,
    ),
    Route(
        "GET",
        f"{API}/alarms",
        alarm_board,
        "报警看板（全集团）/ The group-wide alarm board",
        query=s.AlarmsQuery,
        response=s.AlarmPage,
        errors=(422,),
        tag=ALERTS,
    ),
    Route(
        "GET",
        f"{API}/alarms/stats",
        alarm_stats,
        "报警统计 / Alarm statistics per scope and period",
        query=s.AlarmStatsQuery,
        response=s.AlarmStats,
        errors=(422,),
        tag=ALERTS,
    ),
    Route(
        "GET",
        f"{API}/alarms/{{id}}",
        get_alarm,
        "报警及其回复 / An alarm with its responses",
        response=s.Alarm,
        errors=(404,),
        tag=ALERTS,
    ),
    Route(
        "POST",
        f"{API}/alarms/{{id}}/responses",
        respond_to_alarm,
        "回复报警（分析或方法）/ Respond to an alarm (an analysis or a method)",
        request=s.RespondRequest,
        response=s.AlarmResponse,
        status=201,
        errors=(404, 409, 422),
        tag=ALERTS,
    ),
    Route(
        "POST",
        f"{API}/alarms/{{id}}/responses/{{response_id}}/effective",
        mark_response_effective,
        "方法有效（仅报警人）/ Mark a response effective (the requester only)",
        response=s.Alarm,
        errors=(403, 404, 409),
        tag=ALERTS,
    ),
    Route(
        "POST",
        f"{API}/alarms/{{id}}/suggestions/{{experience_id}}/effective",
        mark_suggestion_effective,
        "推荐经验有效（仅报警人，计一次复用）/ Mark a suggested experience effective "
        "(the requester only; counts one reuse)",
        response=s.Alarm,
        errors=(403, 404, 409),
        tag=ALERTS,
    ),
    Route(
        "POST",
        f"{API}/admin/alarms/escalate",
        escalate_alarms,
        "立即执行报警升级 / Run the alarm escalation sweep now",
        min_level=9,
        errors=(403,),
        tag=ALERTS,
    ),
]
