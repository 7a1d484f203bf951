"""The 经验池 screen in a real browser (the ``bpc`` fixture of ``conftest.py``: BPC on SQLite
with the small demo, whose pool holds Chinese entries): the screen shows what the API answers
for the same search, 有帮助 counts in the API, and the 生意经 handbook of a stage prints."""

from __future__ import annotations

import uuid

from tests.e2e import browser
from tests.support import Api

PASSWORD = "Demo-2026!"
PAGE = 30  # the screen asks for this many


def _flat(text: str) -> str:
    return " ".join(text.split())


def _default_stages(api: Api) -> list[str]:
    pipelines = api.get("/api/v1/pipelines").json()["items"]
    default = next((p for p in pipelines if p.get("is_default")), pipelines[0])
    return [s["key"] for s in default["stages"]]


def _same(shown: list[dict], answered: list[dict]) -> None:
    assert [e["id"] for e in shown] == [e["id"] for e in answered]
    for on_screen, api in zip(shown, answered, strict=True):
        assert _flat(on_screen["title"]) == _flat(api["title"])
        assert _flat(on_screen["problem"]) == _flat(api["problem"])
        assert _flat(on_screen["method"]) == _flat(api["method"])
        assert on_screen["reuse"] == api["reuse_count"]
        assert on_screen["helpful"] == api["helpful_count"]


def test_a_search_typed_in_the_browser_shows_what_the_api_answers(bpc):
    rep = Api(bpc.env.base_url).login("demo_rep4", PASSWORD)
    q = "维护费"
    answer = rep.get("/api/v1/experience", params={"q": q, "limit": PAGE}).json()["items"]
    assert answer, "the demo's pool has entries about 维护费"
    shown = browser.run("experience:search", bpc.env.base_url, login="demo_rep4", q=q)
    _same(shown["entries"], answer)


def test_a_search_within_a_stage_shows_what_the_api_answers(bpc):
    rep = Api(bpc.env.base_url).login("demo_rep5", PASSWORD)
    q, stage = "客户", "quote"
    assert stage in _default_stages(rep)
    params = {"q": q, "stage": stage, "limit": PAGE}
    answer = rep.get("/api/v1/experience", params=params).json()["items"]
    assert answer and {e["stage"] for e in answer} == {stage}
    shown = browser.run(
        "experience:search", bpc.env.base_url, login="demo_rep5", q=q, stage=stage,
        shot="experience-search-stage",
    )  # fmt: skip
    _same(shown["entries"], answer)


def test_helpful_in_the_browser_counts_one_vote_in_the_api(bpc, admin):
    me = admin.get("/api/v1/me").json()
    login = f"exp_voter_{uuid.uuid4().hex[:8]}"
    made = admin.post("/api/v1/users", {
        "login": login, "password": PASSWORD, "name": "投票人", "level": 2,
        "org_unit_id": me["org_unit_id"], "supervisor_id": me["id"],
    })  # fmt: skip
    assert made.status_code == 201, made.text
    result = browser.run(
        "experience:helpful", bpc.env.base_url, login=login, password=PASSWORD, q="回款"
    )
    assert result["after"] == result["before"] + 1, result
    entry = admin.get(f"/api/v1/experience/{result['id']}").json()
    assert entry["helpful_count"] == result["after"]


def test_the_handbook_of_a_stage_shows_its_entries_and_prints(bpc):
    rep = Api(bpc.env.base_url).login("demo_rep6", PASSWORD)
    counts = {
        stage: rep.get("/api/v1/experience", params={"stage": stage, "limit": 500}).json()
        for stage in _default_stages(rep)
    }
    stage = max(counts, key=lambda k: len(counts[k]["items"]))
    pool = counts[stage]
    assert pool["items"] and pool["next_cursor"] is None
    result = browser.run("experience:handbook", bpc.env.base_url, login="demo_rep6", stage=stage)
    assert sorted(map(_flat, result["titles"])) == sorted(_flat(e["title"]) for e in pool["items"])
    assert len(result["headings"]) == 1 and result["headings"][0] != stage  # the stage's name
    assert result["printed"] == 1, result
    assert all(result["print_view"].values()), result["print_view"]
    assert result["english_label"] == "Problem"


def test_the_handbook_never_runs_or_keeps_markup_from_the_answer(bpc):
    shown = browser.run("experience:handbook_sanitised", bpc.env.base_url, login="demo_rep6")
    assert shown["pwned"] is None, shown
    assert not {"script", "style", "img", "a", "iframe", "svg"} & set(shown["tags"]), shown
    assert shown["attributes"] == ["data-testid"], shown  # the screen's own, on each article
    assert "安全的标题" in shown["text"] and "点我" in shown["text"] and "分期付款" in shown["text"]
    assert shown["app_visible"]
