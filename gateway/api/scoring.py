"""Scoring: curves, leaderboards, fake-report analysis, early warnings, trainee screening,
management figures, the rebuild (the scoring service's)."""

from __future__ import annotations

from gateway import schemas as s
from gateway.api.common import API
from gateway.routing import Call, Route

SCORING = "scoring"


def curves(call: Call):
    return call.rpc.call(
        SCORING,
        "curves",
        user_id=call.query["user_id"],
        from_date=call.query["from_"],
        to_date=call.query["to"],
        granularity=call.query["granularity"],
    )


def leaderboard(call: Call):
    return call.rpc.call(
        SCORING,
        "leaderboard",
        metric=call.query["metric"],
        period=call.query["period"],
        date=call.query["date"],
        scope=call.query["scope"],
    )


def fake_reports(call: Call):
    return call.rpc.call(
        SCORING,
        "fake_reports",
        scope=call.query["scope"],
        from_date=call.query["from_"],
        to_date=call.query["to"],
    )


def early_warnings(call: Call):
    return call.rpc.call(SCORING, "early_warnings", scope=call.query["scope"])


def trainees(call: Call):
    return call.rpc.call(SCORING, "trainees", scope=call.query["scope"])


def managers(call: Call):
    return call.rpc.call(SCORING, "managers", scope=call.query["scope"])


def rebuild_scores(call: Call):
    return call.rpc.call(SCORING, "rebuild")


def rebuild_status(call: Call):
    return call.rpc.call(SCORING, "rebuild_status")


ROUTES: list[Route] = [
    Route(
        "GET",
        f"{API}/scoring/curves",
        curves,
        "勤奋度与能力曲线 / Diligence and ability curves",
        query=s.CurvesQuery,
        response=s.Curves,
        errors=(403, 404, 422),
        tag=SCORING,
    ),
    Route(
        "GET",
        f"{API}/scoring/leaderboard",
        leaderboard,
        "排行榜 / Leaderboard by diligence or ability",
        query=s.LeaderboardQuery,
        response=s.Leaderboard,
        errors=(403, 422),
        tag=SCORING,
    ),
    Route(
        "GET",
        f"{API}/scoring/fake-reports",
        fake_reports,
        "虚假日报分析（按阶段、按人）/ Fake-report analysis by stage and by person",
        query=s.FakeReportsQuery,
        response=s.FakeReports,
        min_level=5,
        errors=(403, 422),
        tag=SCORING,
    ),
    Route(
        "GET",
        f"{API}/scoring/early-warnings",
        early_warnings,
        "离职预警 / Resignation early warnings",
        query=s.AnalysisScopeQuery,
        response=s.EarlyWarnings,
        min_level=5,
        errors=(403, 422),
        tag=SCORING,
    ),
    Route(
        "GET",
        f"{API}/scoring/trainees",
        trainees,
        "试用业务员筛选 / Trainee screening",
        query=s.AnalysisScopeQuery,
        response=s.Trainees,
        min_level=4,
        errors=(403, 422),
        tag=SCORING,
    ),
    Route(
        "GET",
        f"{API}/scoring/managers",
        managers,
        "管理责任 / Management responsibility per supervisor",
        query=s.AnalysisScopeQuery,
        response=s.Managers,
        min_level=6,
        errors=(403, 422),
        tag=SCORING,
    ),
    Route(
        "POST",
        f"{API}/admin/scoring/rebuild",
        rebuild_scores,
        "从各服务历史重建评分 / Rebuild the scores from the other services' history",
        min_level=9,
        errors=(403,),
        tag=SCORING,
    ),
    Route(
        "GET",
        f"{API}/admin/scoring/rebuild",
        rebuild_status,
        "评分重建的进度 / The scoring rebuild's progress (idle, running, done, failed)",
        min_level=9,
        errors=(403,),
        tag=SCORING,
    ),
]
