"""Search core of the experience pool (经验池, DOMAIN.md §6): tokenizing Chinese and English
text and ranking pool entries with Okapi BM25 in an incremental in-memory inverted index.

When an alarm is raised the system offers the most similar solved problems at once, and the
pool is searchable in Chinese and English. Entries arrive one at a time (each resolved alarm
adds one), so the index is updated in place instead of being rebuilt. Pure Python, no I/O.

Terms of a text are its jieba words (precise mode) plus the characters and character bigrams
of every Chinese run, so that differently worded or segmented paraphrases still share terms;
English words and digits are lower-cased words. A query is additionally expanded with the
synonyms of common sales-problem wordings (``SYNONYM_GROUPS``) at a lower weight.
"""

from __future__ import annotations

import heapq
import logging
import math
import re
import sys
import threading
import unicodedata
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import jieba

K1 = 1.5
B = 0.75
_SLACK = 1e-9  # score slack of the early stop, against float rounding
SYNONYM_WEIGHT = 0.5  # an expanded synonym counts half as much as a word the user typed

# Function words that carry no meaning of their own. Domain words (客户, 价格, 合同, 问题 …)
# stay: rare ones rank by idf, and a word every entry has costs little.
STOPWORDS = frozenset(
    """
    的 地 得 了 着 过 是 在 和 与 及 或 也 都 就 又 还 而 并 但 但是 而且 并且 因为 所以
    如果 虽然 然后 于是 把 被 让 给 对 对于 向 从 到 跟 比较 非常 很 有点 一下 一直 已经
    我 我们 你 你们 您 他 他们 她 她们 它 它们 咱们 自己 这 那 这个 那个 这些 那些 这样
    那样 这种 那种 什么 怎么 怎么办 怎样 如何 为什么 吗 呢 吧 啊 呀 嘛 哦 啦 之 其 该
    一个 一些 有些 总是 就是 还是 只是 时候 可以 能 会 要 想 说 请问
    a an the of to and or is are was were be been for in on at by with as it its this that
    these those we you they he she our your their my me us them do does did not no how what
    why can could should would will
    """.split()
)
# Characters without meaning of their own (们, 的 …): no character term holds them.
STOP_CHARS = frozenset(
    "的地得了着过是在和与及或也都就又还而很把被让给我你您他她它们这那吗呢吧啊呀嘛哦啦"
)

# Wordings salespeople use for the same thing. Applied to queries only (the entries keep
# their own words); each group's members are added to a query that contains one of them.
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("价格", "报价", "价钱", "售价", "单价", "定价"),
    ("太高", "偏高", "太贵", "昂贵", "高出"),
    ("便宜", "低价", "价低", "低廉"),
    ("降价", "砍价", "压价", "打折", "折扣", "让利", "优惠"),
    ("竞争对手", "竞品", "对手", "友商", "同行"),
    ("决策人", "拍板", "老板", "一把手", "领导", "决策层", "高层"),
    ("采购", "采购部", "购买"),
    ("回款", "付款", "收款", "打款", "结款", "尾款", "欠款", "账款"),
    ("拖欠", "拖延", "推迟", "延期", "迟迟"),
    ("预算", "经费", "资金"),
    ("合同", "协议", "条款"),
    ("交付", "交货", "发货", "供货", "货期", "工期"),
    ("售后", "维修", "维保", "保修"),
    ("故障", "坏了", "毛病", "出错", "失灵"),
    ("投诉", "抱怨", "不满"),
    ("演示", "展示", "试用", "样机", "demo"),
    ("对接", "集成", "接口", "兼容"),
    ("招标", "投标", "标书", "评标"),
    ("丢单", "流失", "换供应商", "不续约"),
)
_SYNONYMS: dict[str, tuple[str, ...]] = {
    word: group for group in SYNONYM_GROUPS for word in group
}

_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+|[a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

_segmenter: jieba.Tokenizer | None = None
_segmenter_lock = threading.Lock()


def _jieba() -> jieba.Tokenizer:
    """Our own jieba tokenizer, initialised once on first use, quietly, with the synonym
    words added to its dictionary so that they come out as words. It is private so that the
    global ``jieba`` dictionary of other code is left alone."""
    global _segmenter
    with _segmenter_lock:
        if _segmenter is None:
            jieba.setLogLevel(logging.WARNING)
            segmenter = jieba.Tokenizer()
            segmenter.initialize()
            for word in _SYNONYMS:
                if _CJK.search(word):
                    segmenter.add_word(word)
            _segmenter = segmenter
    return _segmenter


def _runs(text: str) -> list[str]:
    """Chinese runs and ASCII words of ``text`` (full-width forms folded, lower-cased);
    punctuation and whitespace separate them and are dropped."""
    return _RUN.findall(unicodedata.normalize("NFKC", text).lower())


def _characters(run: str) -> list[str]:
    """Single characters and character bigrams of a Chinese run, without those that contain
    a function character."""
    unigrams = [c for c in run if c not in STOP_CHARS]
    bigrams = [
        run[i : i + 2]
        for i in range(len(run) - 1)
        if run[i] not in STOP_CHARS and run[i + 1] not in STOP_CHARS
    ]
    return unigrams + bigrams


def tokenize(text: str) -> list[str]:
    """Index terms of ``text``: the jieba words of its Chinese runs plus the runs' single
    characters and character bigrams; lower-cased English words and numbers; stopwords,
    punctuation and whitespace dropped. Characters carry what paraphrases share beyond whole
    words (报价/价钱 share 价, 竞品/竞争对手 share 竞); their idf keeps common ones cheap. A
    word of one or two characters is also a character term, so it counts twice."""
    terms: list[str] = []
    for run in _runs(text):
        if not _CJK.match(run):
            if run not in STOPWORDS:
                terms.append(run)
            continue
        terms.extend(w for w in _jieba().lcut(run) if w not in STOPWORDS)
        terms.extend(_characters(run))
    return terms


def query_terms(query: str) -> dict[str, float]:
    """Weighted terms of a query: its own terms (weight = occurrences) and, at
    ``SYNONYM_WEIGHT``, the synonyms of every synonym word found in its text. Synonym words
    have two characters or more, so that 贵公司 does not read as "expensive"."""
    weights: dict[str, float] = dict(Counter(tokenize(query)))
    runs = _runs(query)
    for word, group in _SYNONYMS.items():
        if any(word in run for run in runs):
            for synonym in group:
                weights.setdefault(synonym, SYNONYM_WEIGHT)
    return weights


class SearchIndex:
    """An in-memory inverted index over pool entries, ranked by Okapi BM25 (k1=1.5, b=0.75).

    Each entry (``doc_id``: any hashable, comparable id) gets an internal slot; a term's
    postings are two parallel arrays (slots ascending, term frequencies), so 100,000 entries
    stay compact. Removing an entry deletes its postings (entries are removed rarely).
    Search reads only the postings of the query's terms, rarest first, and admits no new
    candidate once the terms left cannot lift an unseen entry to the ``limit``-th best score
    so far; candidates that cannot reach it are dropped (exact, as in "max-score").
    """

    def __init__(self) -> None:
        self._slot_of: dict[Hashable, int] = {}
        self._doc_of: list[Hashable | None] = []
        self._terms_of: list[tuple[str, ...]] = []
        self._length = array("I")
        self._total_length = 0
        self._postings: dict[str, tuple[array, array]] = {}
        self._by_field: dict[tuple[str, Any], set[int]] = {}
        self._fields_of: list[Mapping[str, Any]] = []

    def __len__(self) -> int:
        return len(self._slot_of)

    def add(self, doc_id: Hashable, text: str, fields: Mapping[str, Any] | None = None) -> None:
        """Index ``text`` under ``doc_id`` with filterable ``fields`` (stage, category, kind,
        industry …). Adding an id again replaces its entry."""
        if doc_id in self._slot_of:
            self.remove(doc_id)
        counts = Counter(sys.intern(term) for term in tokenize(text))  # one str per term
        slot = len(self._doc_of)
        self._slot_of[doc_id] = slot
        self._doc_of.append(doc_id)
        self._terms_of.append(tuple(counts))
        self._length.append(sum(counts.values()))
        self._total_length += self._length[slot]
        for term, tf in counts.items():
            slots, tfs = self._postings.setdefault(term, (array("I"), array("I")))
            slots.append(slot)
            tfs.append(tf)
        fields = dict(fields or {})
        self._fields_of.append(fields)
        for item in fields.items():
            self._by_field.setdefault(item, set()).add(slot)

    def remove(self, doc_id: Hashable) -> None:
        """Take ``doc_id`` out of the index; an unknown id is ignored."""
        slot = self._slot_of.pop(doc_id, None)
        if slot is None:
            return
        self._doc_of[slot] = None
        self._total_length -= self._length[slot]
        for term in self._terms_of[slot]:
            slots, tfs = self._postings[term]
            if len(slots) == 1:
                del self._postings[term]
                continue
            i = bisect_left(slots, slot)
            del slots[i], tfs[i]
        self._terms_of[slot] = ()
        for item in self._fields_of[slot].items():
            self._by_field[item].discard(slot)
        self._fields_of[slot] = {}

    def _allowed(self, filters: Mapping[str, Any]) -> set[int] | None:
        """Slots whose fields equal every given filter (None filters are ignored); None when
        nothing is filtered."""
        wanted = [item for item in filters.items() if item[1] is not None]
        if not wanted:
            return None
        sets = sorted((self._by_field.get(item, set()) for item in wanted), key=len)
        return set.intersection(*sets)

    def _weighted_terms(self, query: str) -> list[tuple[float, str]]:
        """The query's indexed terms as ``(weight · idf · (k1 + 1), term)``, highest first:
        the first number is the most the term can add to a score."""
        count = len(self._slot_of)
        terms = []
        for term, weight in query_terms(query).items():
            if term in self._postings:
                df = len(self._postings[term][0])
                idf = math.log(1 + (count - df + 0.5) / (df + 0.5))
                terms.append((weight * idf * (K1 + 1), term))
        return sorted(terms, key=lambda t: (-t[0], t[1]))

    def search(
        self, query: str, limit: int = 5, **filters: Any
    ) -> list[tuple[Hashable, float]]:
        """The ``limit`` best entries for ``query`` as ``(doc_id, score)``, best first, ties by
        ``doc_id`` ascending; only entries whose fields equal every given filter, and only
        entries sharing at least one term with the query."""
        allowed = self._allowed(filters)
        if limit <= 0 or not self._slot_of or allowed == set():
            return []
        terms = self._weighted_terms(query)
        # the most the terms from i on can add; a slack keeps float ties in
        rest = [math.fsum(b for b, _ in terms[i:]) + _SLACK for i in range(len(terms))]
        base = K1 * (1 - B)
        per_length = K1 * B * len(self._slot_of) / self._total_length
        lengths = self._length
        threshold = 0.0  # the limit-th best partial score: a lower bound of the final one
        scores: dict[int, float] = {}
        for i, (bound, term) in enumerate(terms):
            slots, tfs = self._postings[term]
            if rest[i] >= threshold:  # an entry not seen yet may still make it
                postings = zip(slots, tfs, strict=True)
                if allowed is not None:
                    postings = ((s, tf) for s, tf in postings if s in allowed)
            else:
                scores = {s: v for s, v in scores.items() if v + rest[i] >= threshold}
                postings = _postings_of(scores, slots, tfs)
            get = scores.get
            for slot, tf in postings:
                norm = tf + base + per_length * lengths[slot]
                scores[slot] = get(slot, 0.0) + bound * tf / norm
            if len(scores) >= limit:
                threshold = heapq.nlargest(limit, scores.values())[-1]
        best = heapq.nsmallest(limit, ((-v, self._doc_of[s]) for s, v in scores.items()))
        return [(doc_id, -negative) for negative, doc_id in best]


def _postings_of(
    candidates: Mapping[int, float], slots: array, tfs: array
) -> Iterable[tuple[int, int]]:
    """The ``(slot, tf)`` postings of the ``candidates``: looked up by bisection when they
    are far fewer than the postings, else by one pass over the postings."""
    if len(candidates) * 8 >= len(slots):
        return ((s, tf) for s, tf in zip(slots, tfs, strict=True) if s in candidates)
    found = []
    for s in candidates:
        i = bisect_left(slots, s)
        if i < len(slots) and slots[i] == s:
            found.append((s, tfs[i]))
    return found
