"""The experience pool: search, suggestions, one entry, helpful votes, the handbook (the experience
service's)."""

from __future__ import annotations

from werkzeug.wrappers import Response

from gateway import schemas as s
from gateway.api.common import API
from gateway.routing import Call, Route

EXPERIENCE = "experience"


def search_experience(call: Call):
    q = call.query
    return call.rpc.call(
        EXPERIENCE,
        "search",
        **{k: q.get(k) for k in ("q", "stage", "category", "kind", "limit", "cursor")},
    )


def suggest_experience(call: Call):
    q = call.query
    return call.rpc.call(
        EXPERIENCE, "suggest", **{k: q.get(k) for k in ("q", "stage", "category", "kind", "limit")}
    )


def get_experience(call: Call):
    return call.rpc.call(EXPERIENCE, "get", experience_id=call.path["id"])


def experience_helpful(call: Call):
    return call.rpc.call(EXPERIENCE, "helpful", experience_id=call.path["id"])


def experience_handbook(call: Call) -> Response:
    answer = call.rpc.call(
        EXPERIENCE, "handbook", stage=call.query["stage"], format=call.query["format"]
    )
    return Response(answer["body"], status=200, content_type=answer["content_type"])


ROUTES: list[Route] = [
    Route(
        "GET",
        f"{API}/experience",
        search_experience,
        "经验池检索（中英文）/ Search the experience pool (Chinese and English)",
        query=s.ExperienceQuery,
        response=s.ExperiencePage,
        errors=(422,),
        tag=EXPERIENCE,
    ),
    Route(
        "GET",
        f"{API}/experience/suggest",
        suggest_experience,
        "相似问题推荐 / The solved problems most similar to a new one",
        query=s.SuggestQuery,
        response=s.ExperienceSuggestions,
        errors=(422,),
        tag=EXPERIENCE,
        description="stage、category、kind 为偏好而非筛选 / stage, category and kind are "
        "preferences, not filters",
    ),
    Route(
        "GET",
        f"{API}/experience/handbook",
        experience_handbook,
        "生意经（按阶段）/ The per-stage handbook",
        query=s.HandbookQuery,
        errors=(422,),
        tag=EXPERIENCE,
        content_type="text/markdown, text/html",
    ),
    Route(
        "GET",
        f"{API}/experience/{{id}}",
        get_experience,
        "一条经验 / One experience entry",
        response=s.ExperienceEntry,
        errors=(404,),
        tag=EXPERIENCE,
    ),
    Route(
        "POST",
        f"{API}/experience/{{id}}/helpful",
        experience_helpful,
        "有用（每人一票）/ Vote an entry helpful (one vote per user)",
        response=s.ExperienceEntry,
        errors=(404,),
        tag=EXPERIENCE,
    ),
]
