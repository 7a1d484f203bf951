"""Experience-pool search (services/experience/search.py, docs/DOMAIN.md §6): tokenizing Chinese
and English, number normalisation, synonym concepts, BM25 ranking with weighted text,
filters and soft preferences, removal, extra phrasings, the cost bound, and the search
quality on a labelled set (tuned on its odd ids, held out on its even ids)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops.demo_texts import generate
from services.experience.search import (
    PREFER_BOOST,
    SearchIndex,
    analyze,
    normalize_numbers,
    query_terms,
    tokenize,
)

DATA = Path(__file__).resolve().parents[1] / "data"
STAGES = {"contact", "needs", "demo", "quote", "negotiate", "payment", "won"}


# --- tokenizing ------------------------------------------------------------------------------


def test_chinese_text_gives_words_and_bigrams():
    terms = tokenize("客户觉得报价太高")
    assert {"客户", "报价", "太高"} <= set(terms)  # jieba words
    assert {"户觉", "价太"} <= set(terms)  # bigrams across word boundaries


def test_english_words_are_lower_cased_and_punctuation_dropped():
    assert tokenize("The CRM, API & SaaS!") == ["crm", "api", "saas"]


def test_full_width_letters_and_digits_are_folded():
    assert tokenize("ＥＲＰ ２０２４") == ["erp", "2024"]


def test_mixed_text_keeps_both_languages_and_numbers():
    terms = tokenize("客户要求 SaaS 版本按年付费，预算100万")
    assert {"客户", "要求", "saas", "版本", "付费", "预算", "100"} <= set(terms)
    assert not any(t.strip() != t or not t for t in terms)


def test_function_words_are_dropped_but_domain_words_kept():
    terms = set(tokenize("我们的客户在价格上是很有意见的"))
    assert {"客户", "价格", "意见"} <= terms
    assert not {"我们", "的", "在", "是", "很"} & terms
    assert not any("的" in t for t in terms)  # no bigram around a function character


def test_synonyms_share_a_concept_term():
    weights = query_terms("竞品报价太高")
    assert weights["竞品"] == weights["报价"] == 2  # a word and its own bigram
    assert {"~竞争对手", "~价格", "~太高"} <= set(weights)
    entry = {term for _, term in analyze("对手的价钱偏高")}
    assert {"~竞争对手", "~价格", "~太高"} <= entry  # other words, the same concepts


def test_courtesy_gui_is_not_read_as_expensive():
    assert "~太高" not in query_terms("贵公司的付款流程")
    assert "~太高" not in query_terms("请贵方尽快确认")
    assert "~太高" in query_terms("比市场行情贵")


def test_english_words_have_concepts_too():
    index = SearchIndex()
    index.add(1, "外贸客户要求以美元结算")
    index.add(2, "外贸客户要求以欧元结算")
    assert [d for d, _ in index.search("买家想用USD", limit=1)] == [1]


def test_negated_word_keeps_the_concept_of_the_word():
    assert "~审批" in query_terms("领导迟迟不批")


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("贵三成", "贵30%"),
        ("又压价一成半", "又压价15%"),
        ("再降五个点", "再降5%"),
        ("从百分之五涨到10%", "从5%涨到10%"),
        ("账期九十天", "账期90天"),
        ("拖了两周", "拖了14天"),
        ("三个月才付款", "90天才付款"),
        ("锁定一年", "锁定360天"),
        ("十二个月不变", "360天不变"),
        ("半个月没回复", "15天没回复"),
        ("三百人的团队", "300人的团队"),
        ("2024年签约", "2024年签约"),  # a date, not a span
        ("一家工厂一直找一把手统一采购", "一家工厂一直找一把手统一采购"),
        ("三四天", "三四天"),  # a range
    ],
)
def test_numbers_are_normalised(text, normal):
    assert normalize_numbers(text) == normal


def test_a_number_in_words_matches_the_same_number_in_digits():
    index = SearchIndex()
    index.add(1, "客户嫌报价高出30%")
    index.add(2, "客户嫌报价高出5%")
    assert [d for d, _ in index.search("价格贵了三成", limit=1)] == [1]
    assert [d for d, _ in index.search("价格贵了五个点", limit=1)] == [2]


# --- the index -------------------------------------------------------------------------------


def test_entry_with_the_rarer_matching_term_ranks_higher():
    index = SearchIndex()
    for i in range(1, 9):
        index.add(i, f"客户反馈问题第{i}次")
    index.add(100, "客户反馈发票问题")
    index.add(101, "客户反馈问题已处理")
    ranked = index.search("客户发票问题", limit=3)
    assert ranked[0][0] == 100
    assert ranked[0][1] > ranked[1][1]


def test_english_query_finds_mixed_entry():
    index = SearchIndex()
    index.add(1, "客户要求 SaaS 版本按年付费")
    index.add(2, "客户要求私有化部署")
    assert [doc for doc, _ in index.search("saas annual billing")] == [1]


def test_entries_without_a_shared_term_are_not_returned():
    index = SearchIndex()
    index.add(1, "回款拖欠三个月")
    assert index.search("演示环境搭建") == []


def test_filters_must_all_match_exactly():
    index = SearchIndex()
    index.add(1, "报价太高", {"stage": "quote", "category": "price"})
    index.add(2, "报价太高", {"stage": "negotiate", "category": "price"})
    index.add(3, "报价太高", {"stage": "quote", "category": "competitor"})
    assert [d for d, _ in index.search("报价", stage="quote")] == [1, 3]
    assert [d for d, _ in index.search("报价", stage="quote", category="price")] == [1]
    assert index.search("报价", stage="won") == []
    assert len(index.search("报价", stage=None)) == 3  # None: not filtered


def test_ties_are_broken_by_id_ascending():
    index = SearchIndex()
    for doc_id in (7, 3, 9, 1, 5):
        index.add(doc_id, "竞争对手低价抢单")
    assert [d for d, _ in index.search("竞争对手低价", limit=3)] == [1, 3, 5]


def test_removed_entry_is_no_longer_found_and_stops_counting():
    index = SearchIndex()
    index.add(1, "客户拖欠尾款")
    index.add(2, "客户拖欠质保金")
    index.add(3, "客户要求降价")
    before = dict(index.search("拖欠尾款"))
    index.remove(1)
    index.remove(42)  # unknown ids are ignored
    assert len(index) == 2
    assert [d for d, _ in index.search("拖欠尾款")] == [2]
    assert dict(index.search("拖欠尾款"))[2] != before[2]  # df of 拖欠 changed


def test_remove_then_add_matches_a_fresh_index():
    texts = {i: f"医院设备科要求第{i}批监护仪降价" for i in range(1, 20)}
    churned, fresh = SearchIndex(), SearchIndex()
    for i, text in texts.items():
        churned.add(i, text)
        churned.add(100 + i, "无关的条目" + text)
    for i in texts:
        churned.remove(100 + i)
    for i, text in texts.items():
        fresh.add(i, text)
    assert churned.search("监护仪降价", limit=10) == fresh.search("监护仪降价", limit=10)


def test_adding_an_id_again_replaces_the_entry():
    index = SearchIndex()
    index.add(1, "报价太高", {"stage": "quote"})
    index.add(1, "回款太慢", {"stage": "payment"})
    assert len(index) == 1
    assert index.search("报价") == []
    assert [d for d, _ in index.search("回款", stage="payment")] == [1]


def test_top_results_equal_a_full_scan():
    """A shorter list is the head of the longer one (the cost bound cannot bite on 400)."""
    pool = generate(400)
    index = SearchIndex()
    for entry in pool:
        index.add(entry["id"], entry["problem"])
    for query in ("医院的监护仪回款逾期", "竞争对手价格低很多", "CRM系统数据对接"):
        everything = index.search(query, limit=len(pool))
        assert index.search(query, limit=5) == everything[:5]


def test_synonyms_find_an_entry_in_other_words():
    index = SearchIndex()
    index.add(1, "合同走到总经理那里一直没有签字")
    index.add(2, "合同条款里的违约金比例太高")
    index.add(3, "总部对项目预算迟迟没有批复")
    assert [d for d, _ in index.search("老板那边还没签协议", limit=1)] == [1]


def test_problem_text_counts_more_than_the_method():
    index = SearchIndex()
    index.add(1, "客户拖欠尾款半年", extra_text="发律师函")
    index.add(2, "客户要求延长账期", extra_text="发律师函催收拖欠尾款")
    ranked = index.search("拖欠尾款")
    assert [d for d, _ in ranked] == [1, 2]
    assert ranked[0][1] > ranked[1][1] > 0


def test_add_without_extra_text_is_the_earlier_call():
    index = SearchIndex()
    index.add(1, "报价太高\n拆分报价单", {"stage": "quote"})
    assert [d for d, _ in index.search("报价", stage="quote")] == [1]


def test_prefer_boosts_matching_entries_softly():
    index = SearchIndex()
    index.add(1, "客户嫌报价太高", {"category": "price", "stage": "quote"})
    index.add(2, "客户嫌报价太高", {"category": "competitor", "stage": "quote"})
    index.add(3, "客户嫌报价太高，要求降价", {"category": "price", "stage": "negotiate"})
    plain = dict(index.search("报价太高"))
    assert plain[1] == plain[2]
    ranked = index.search("报价太高", prefer={"category": "competitor"})
    assert ranked[0] == (2, pytest.approx(plain[2] * (1 + PREFER_BOOST)))
    assert {d for d, _ in ranked} == {1, 2, 3}  # a preference, not a filter
    both = dict(index.search("报价太高", prefer={"category": "price", "stage": "quote"}))
    assert both[1] == pytest.approx(plain[1] * (1 + PREFER_BOOST) ** 2)
    assert both[3] == pytest.approx(plain[3] * (1 + PREFER_BOOST))
    assert index.search("报价太高", prefer={"category": None}) == index.search("报价太高")
    assert [d for d, _ in index.search("报价", prefer={"category": "price"}, stage="quote")] == [
        1,
        2,
    ]


def test_prefer_lifts_a_close_second_but_not_a_poor_match():
    index = SearchIndex()
    index.add(1, "医院设备科要求监护仪降价", {"category": "price"})
    index.add(2, "医院设备科要求监护仪延长保修", {"category": "service"})
    index.add(3, "工厂车间主任要求增加培训", {"category": "service"})
    query = "医院要求监护仪降价"
    assert index.search(query, limit=1)[0][0] == 1
    ranked = [d for d, _ in index.search(query, prefer={"category": "service"})]
    assert ranked[0] == 1 and ranked.index(2) < ranked.index(3)


def test_add_text_adds_a_phrasing_and_keeps_the_entry():
    index = SearchIndex()
    index.add(
        1,
        "客户公司被收购，新管理层不认之前的欠款",
        {"category": "payment"},
        extra_text="整理证据链，发律师函",
    )
    index.add(2, "客户要求延长账期到九十天", {"category": "payment"})
    assert 1 not in dict(index.search("东家易主后赖账"))
    index.add_text(1, "东家易主后赖账")
    index.add_text(42, "unknown ids are ignored")
    assert len(index) == 2
    assert index.search("东家易主后赖账", category="payment")[0][0] == 1
    same = SearchIndex()
    same.add(
        1,
        "客户公司被收购，新管理层不认之前的欠款\n东家易主后赖账",
        {"category": "payment"},
        extra_text="整理证据链，发律师函",
    )
    same.add(2, "客户要求延长账期到九十天", {"category": "payment"})
    for query in ("欠款", "律师函", "东家易主", "赖账", "账期"):
        assert index.search(query) == same.search(query)


def test_a_query_over_the_postings_budget_keeps_its_best_answers():
    """Past the budget common terms only rerank the best candidates: on a pool where every
    query overruns a tiny budget, the recorded problems still come first."""
    labelled = load_labelled()[:40]
    pool = [*labelled, *generate(600)]
    exact, bounded = (
        SearchIndex(postings_budget=None),
        SearchIndex(postings_budget=300, rerank_depth=20),
    )
    for index in (exact, bounded):
        for entry in pool:
            index.add(entry["id"], entry["problem"], extra_text=entry["method"])
    for item in labelled:
        assert bounded.search(item["problem"], limit=1)[0][0] == item["id"]
    agree = sum(
        [d for d, _ in bounded.search(item["query"], limit=3)]
        == [d for d, _ in exact.search(item["query"], limit=3)]
        for item in labelled
    )
    assert agree >= 0.8 * len(labelled)


# --- quality on the labelled set ---------------------------------------------------------------


def load_labelled() -> list[dict]:
    return json.loads((DATA / "experience_eval.json").read_text(encoding="utf-8"))


def evaluate(index: SearchIndex, items: list[dict], *, prefer_category: bool = False) -> dict:
    """Share of labelled queries whose own entry comes first (top1) and among the first three
    (top3); ``misses`` lists the ids not in the top three. With ``prefer_category`` the search
    prefers the query's own category, as the suggestions for an alarm do."""
    top1 = top3 = 0
    misses = []
    for item in items:
        prefer = {"category": item["category"]} if prefer_category else None
        ranked = [doc_id for doc_id, _ in index.search(item["query"], limit=3, prefer=prefer)]
        top1 += ranked[:1] == [item["id"]]
        if item["id"] in ranked:
            top3 += 1
        else:
            misses.append(item["id"])
    return {"top1": top1 / len(items), "top3": top3 / len(items), "misses": misses}


@pytest.fixture(scope="module")
def labelled() -> list[dict]:
    return load_labelled()


@pytest.fixture(scope="module")
def pool_index(labelled) -> SearchIndex:
    """The pool as the service holds it: each entry's problem with its method as extra text,
    labelled entries among at least 1,800 distractors."""
    index = SearchIndex()
    for entry in [*labelled, *generate(1800)]:
        index.add(
            entry["id"],
            entry["problem"],
            {"stage": entry["stage"], "category": entry["category"]},
            extra_text=entry["method"],
        )
    return index


def test_labelled_set_is_well_formed(labelled):
    assert len(labelled) >= 200
    assert len({item["id"] for item in labelled}) == len(labelled)
    assert len({item["problem"] for item in labelled}) == len(labelled)
    for item in labelled:
        assert item["stage"] in STAGES
        assert 15 <= len(item["problem"]) <= 60
        assert 15 <= len(item["method"]) <= 80
        assert 10 <= len(item["query"]) <= 50
        assert item["query"] not in item["problem"]


def test_distractors_are_deterministic_and_distinct(labelled):
    first, again = generate(1800), generate(1800)
    assert first == again
    problems = {entry["problem"] for entry in first}
    assert len(problems) == 1800
    assert not problems & {item["problem"] for item in labelled}
    assert min(e["id"] for e in first) > max(item["id"] for item in labelled)


def test_a_problem_asked_again_in_its_own_words_comes_first(labelled, pool_index):
    """The same problem described as it was recorded finds its entry first among 2,000+."""
    assert len(pool_index) >= 2000
    for item in labelled:
        ranked = [doc_id for doc_id, _ in pool_index.search(item["problem"], limit=1)]
        assert ranked == [item["id"]], item


def test_stage_filter_narrows_suggestions_to_that_stage(labelled, pool_index):
    item = labelled[0]
    ranked = pool_index.search(item["query"], limit=5, stage=item["stage"])
    stages = {e["id"]: e["stage"] for e in [*labelled, *generate(1800)]}
    assert ranked and {stages[doc_id] for doc_id, _ in ranked} == {item["stage"]}


# Floors a little under what the search reaches (tests/bench/eval_experience_search.py prints
# the figures; the goal is top-3 ≥ 0.85 on all): dev (odd ids) is what the weights
# were tuned on, held-out (even ids) was not looked at while tuning.
QUALITY_FLOORS = {"dev": 0.80, "held-out": 0.58, "all": 0.70}


@pytest.mark.parametrize("part", sorted(QUALITY_FLOORS))
def test_paraphrases_find_their_entry_in_the_top_three(labelled, pool_index, part):
    items = {
        "dev": [item for item in labelled if item["id"] % 2 == 1],
        "held-out": [item for item in labelled if item["id"] % 2 == 0],
        "all": labelled,
    }[part]
    assert evaluate(pool_index, items)["top3"] >= QUALITY_FLOORS[part]


def test_preferring_the_alarm_category_does_not_lower_quality(labelled, pool_index):
    plain = evaluate(pool_index, labelled)
    preferred = evaluate(pool_index, labelled, prefer_category=True)
    assert preferred["top3"] >= plain["top3"]


def test_score_gives_the_search_scores_of_chosen_entries():
    """``score`` re-ranks another retriever's candidates: the same numbers as ``search``."""
    index = SearchIndex(postings_budget=None)
    texts = {1: "客户嫌报价太高", 2: "竞品低价抢单", 3: "回款拖延三个月", 4: "报价单格式错误"}
    for doc_id, text in texts.items():
        index.add(doc_id, text, {"category": "price" if doc_id in (1, 4) else "other"})
    searched = dict(index.search("报价太高了", limit=10, prefer={"category": "price"}))
    scored = index.score("报价太高了", [1, 2, 3, 4, 99], prefer={"category": "price"})
    assert set(scored) == {1, 2, 3, 4}  # an unknown id is left out
    for doc_id, value in scored.items():
        assert value == pytest.approx(searched.get(doc_id, 0.0))
    assert scored[1] > scored[4] > 0 and scored[3] == 0.0
