"""Search core of the experience pool (经验池, docs/DOMAIN.md §6): tokenizing Chinese and English
text and ranking pool entries with Okapi BM25 in an incremental in-memory inverted index.

When an alarm is raised the system offers the most similar solved problems at once, and the
pool is searchable in Chinese and English. Entries arrive one at a time (each resolved alarm
adds one), so the index is updated in place instead of being rebuilt. Pure Python, no I/O.

Terms of a text:

* surface terms (``tokenize``): the jieba words of every Chinese run in search mode (a long
  word also yields its known sub-words: 总经理 → 经理, 总经理), the run's characters and
  character bigrams (so that differently worded or segmented paraphrases still share terms),
  and lower-cased English words and numbers. Numbers are normalised first
  (``normalize_numbers``: 三成 → 30%, 一成半 → 15%, 五个点 → 5%, 九十天 → 90天, 两周 → 14天),
  so that "贵三成" and "贵30%" share the term 30.
* concept terms (``~…``, services/experience/thesaurus.py): the synonym groups of every word,
  so that 合同 and 协议, 老板 and 总经理, 回款 and 给钱 share a term. Entries and queries get
  them alike (no query-only expansion), so a concept's idf is measured on the pool itself.

A query weighs its terms by kind (``QUERY_WEIGHTS``). An entry may have weighted text:
``add(…, extra_text=method)`` indexes the method at ``EXTRA_WEIGHT`` of the problem's, and
``add_text`` adds another phrasing of the problem later (when a suggestion is marked
effective for a new alarm). ``search`` may prefer entries whose fields match (``prefer``):
their scores are multiplied by ``1 + PREFER_BOOST`` per matching field — a soft preference,
unlike the filters.

The weights below were tuned on the odd-id half of tests/data/experience_eval.json only; the
even-id half is held out (tests/bench/eval_experience_search.py prints both).
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
from collections.abc import Hashable, Iterable, Mapping
from functools import lru_cache
from itertools import compress
from typing import Any

import jieba

from services.experience import thesaurus

K1 = 1.0
B = 0.9
EXTRA_WEIGHT = 0.5  # a term of an entry's extra text (its method) counts half a problem term
PREFER_BOOST = 0.3  # score × 1.3 for each preferred field an entry matches (not tuned)
# Cost bound of a search (see ``SearchIndex.search``): postings that may admit candidates, and
# how many of the best candidates then get the share of the more common terms.
POSTINGS_BUDGET = 30_000
RERANK_DEPTH = 300

# Query weight of a term, by kind: a jieba word (or English word or number), a single Chinese
# character, a character bigram (a two-character word is a bigram too and gets both), a hand
# synonym group, and Cilin's synonym sets and level-4 classes (off: see thesaurus.USE_CILIN).
# A kind of weight 0 is not indexed either.
QUERY_WEIGHTS = {
    "word": 1.0,
    "char": 1.3,
    "bigram": 1.0,
    thesaurus.DOMAIN: 2.0,
    thesaurus.SYNSET: 0.0,
    thesaurus.CLASS: 0.0,
}
# Weight of a concept occurrence in an entry, relative to a word's.
ENTRY_CONCEPT_WEIGHT = 1.0

# Kept for callers of the earlier version: the hand synonym groups.
SYNONYM_GROUPS = thesaurus.DOMAIN_GROUPS

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

_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+|[a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

# --- numbers -----------------------------------------------------------------------------------

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000}
_NUMBER = "([零〇一二两三四五六七八九十百千万]+|[0-9]+)"
_PERCENT = re.compile(rf"百分之{_NUMBER}")
_TENTHS = re.compile(r"([一二两三四五六七八九]|[1-9])成(半)?")
_POINTS = re.compile(rf"{_NUMBER}个(?:百分)?点")
# a span of time, counted in days: 两周 → 14天, 三个月 → 90天, 一年 → 360天, 半个月 → 15天
_SPAN = re.compile(rf"({_NUMBER[1:-1]}|半)(?:个)?(周|星期|个月|年)(?!代|级|底|初|末|中|份)")
_DAYS = {"周": 7, "星期": 7, "个月": 30, "年": 360}
# a Chinese number of two characters or more before a unit (九十天, 十二台, 两万元); a lone
# 一 is an article more often than a count (一家, 一次性) and stays
_COUNTED = re.compile(
    r"([零〇一二两三四五六七八九十百千万]{2,}|[二两三四五六七八九十])"
    r"(?=(?:天|日|小时|人|台|套|万|元|块|倍|%))"
)


def _chinese_number(numeral: str) -> int | None:
    """The value of a Chinese numeral below 100,000,000 (三 → 3, 十二 → 12, 九十 → 90,
    三百零五 → 305, 两万 → 20000; digits as they are), or None if it is not one."""
    if numeral.isdigit():
        return int(numeral)
    total, section, digit = 0, 0, None
    for char in numeral:
        if char in _DIGITS:
            if digit is not None:
                return None  # 三四: a range, not a number
            digit = _DIGITS[char] if char not in "零〇" else None
        elif char == "万":
            total += (section + (digit or 0)) * 10_000
            section, digit = 0, None
        elif char in _UNITS:
            section += (1 if digit is None else digit) * _UNITS[char]
            digit = None
        else:
            return None
    return total + section + (digit or 0)


def _span(match: re.Match) -> str:
    number, unit = match.group(1), match.group(2)
    if number == "半":
        value = 0.5
    else:
        value = _chinese_number(number)
        if value is None or (number.isdigit() and unit == "年" and value > 99):
            return match.group(0)  # 2024年 is a date
    return f"{round(value * _DAYS[unit])}天"


def _replace(pattern: re.Pattern, text: str, render) -> str:
    def sub(match: re.Match) -> str:
        value = _chinese_number(match.group(1))
        return match.group(0) if value is None else render(value, match)

    return pattern.sub(sub, text)


def normalize_numbers(text: str) -> str:
    """Numbers in ``text`` in one form, digits: 百分之五 → 5%, 三成 → 30%, 一成半 → 15%,
    五个点 → 5%; spans of time in days (两周 → 14天, 三个月 → 90天, 一年 and 十二个月 →
    360天, 半个月 → 15天); a Chinese number before a unit (九十天 → 90天, 两万元 → 20000元).
    Other uses of number characters (一直, 一把手, 统一, 一家) are left alone."""
    text = _replace(_PERCENT, text, lambda v, m: f"{v}%")
    text = _replace(_TENTHS, text, lambda v, m: f"{v * 10 + (5 if m.group(2) else 0)}%")
    text = _replace(_POINTS, text, lambda v, m: f"{v}%")
    text = _SPAN.sub(_span, text)
    return _replace(_COUNTED, text, lambda v, m: str(v))


# --- terms -------------------------------------------------------------------------------------

_COURTESY = ("贵公司", "贵司", "贵方", "贵单位", "贵院", "贵校", "贵行", "贵厂", "贵部门")
_segmenter: jieba.Tokenizer | None = None
_segmenter_lock = threading.Lock()


def _jieba() -> jieba.Tokenizer:
    """Our own jieba tokenizer, initialised once on first use, quietly, with the hand synonym
    words and the courtesy forms of 贵 added to its dictionary so that they come out as
    words. It is private so that the global ``jieba`` dictionary of other code is left
    alone."""
    global _segmenter
    with _segmenter_lock:
        if _segmenter is None:
            jieba.setLogLevel(logging.WARNING)
            segmenter = jieba.Tokenizer()
            segmenter.initialize()
            for word in thesaurus.domain_words():
                if _CJK.search(word) and len(word) > 1:
                    segmenter.add_word(word)
            for word in _COURTESY:  # 贵公司 is "your company", not "expensive company"
                segmenter.add_word(word)
            _segmenter = segmenter
    return _segmenter


def _runs(text: str) -> list[str]:
    """Chinese runs and ASCII words of ``text`` (full-width forms folded, lower-cased, Chinese
    numbers as digits); punctuation and whitespace separate them and are dropped."""
    return _RUN.findall(normalize_numbers(unicodedata.normalize("NFKC", text).lower()))


@lru_cache(maxsize=4096)
def _run_terms(run: str) -> tuple[tuple[str, str], ...]:
    """``(kind, term)`` of one Chinese run or ASCII word: words, characters, bigrams, and
    the concepts of the words."""
    if not _CJK.match(run):
        return () if run in STOPWORDS else (("word", run), *_word_concepts(run))
    words = [w for w in _jieba().lcut_for_search(run) if w not in STOPWORDS and w.strip()]
    terms = [("word", w) for w in words]
    terms += [("char", c) for c in run if c not in STOP_CHARS]
    terms += [
        ("bigram", run[i : i + 2])
        for i in range(len(run) - 1)
        if run[i] not in STOP_CHARS and run[i + 1] not in STOP_CHARS
    ]
    terms += [(kind, concept) for w in dict.fromkeys(words) for kind, concept in _word_concepts(w)]
    return tuple(terms)


def _word_concepts(word: str) -> tuple[tuple[str, str], ...]:
    """The concepts of a word; a negated word (不批, 没签) also has those of the word negated
    (its negation is in its characters). A single character has only hand-group concepts:
    Cilin lists too many senses of one character."""
    found = thesaurus.concepts_of(word)
    if not found and len(word) > 1 and word[0] in _NEGATIONS:
        word = word[1:]
        found = thesaurus.concepts_of(word)
    if len(word) == 1:
        found = tuple(c for c in found if c[0] == thesaurus.DOMAIN)
    return found


_NEGATIONS = frozenset("不没未无别")


def tokenize(text: str) -> list[str]:
    """Surface index terms of ``text``: the jieba words of its Chinese runs (search mode)
    plus the runs' single characters and character bigrams; lower-cased English words and
    numbers; stopwords, punctuation and whitespace dropped. Characters carry what paraphrases
    share beyond whole words (报价/价钱 share 价, 竞品/竞争对手 share 竞); their idf keeps
    common ones cheap. A word of one or two characters is also a character term, so it
    counts twice."""
    return [
        term for run in _runs(text) for kind, term in _run_terms(run) if not term.startswith("~")
    ]


def analyze(text: str) -> list[tuple[str, str]]:
    """Every ``(kind, term)`` of ``text``: the surface terms of ``tokenize`` and the concept
    terms (``~…``) of its words; kinds of zero query weight are left out."""
    weights = QUERY_WEIGHTS
    return [pair for run in _runs(text) for pair in _run_terms(run) if weights[pair[0]]]


def _entry_counts(text: str, weight: float, counts: dict[str, float]) -> None:
    if weight <= 0:
        return
    for _, term in analyze(text):
        w = weight * (ENTRY_CONCEPT_WEIGHT if term.startswith("~") else 1.0)
        term = sys.intern(term)  # one str per term across entries
        counts[term] = counts.get(term, 0.0) + w


def query_terms(query: str) -> dict[str, float]:
    """Weighted terms of a query: each occurrence of a term adds its kind's weight
    (``QUERY_WEIGHTS``); a term of two kinds (a two-character word is also a bigram) adds
    both."""
    weights: dict[str, float] = {}
    for kind, term in analyze(query):
        weights[term] = weights.get(term, 0.0) + QUERY_WEIGHTS[kind]
    return weights


# --- the index ---------------------------------------------------------------------------------


class SearchIndex:
    """An in-memory inverted index over pool entries, ranked by Okapi BM25 (``K1``, ``B``)
    with weighted term frequencies.

    Each entry (``doc_id``: any hashable, comparable id) gets an internal slot; a term's
    postings are two parallel arrays (slots ascending, weighted term frequencies), so 100,000
    entries stay compact. Removing an entry deletes its postings (entries are removed
    rarely). Search reads only the postings of the query's terms; past ``postings_budget``
    postings a query is answered approximately (see ``search``; None: always exact).
    Not safe for writes concurrent with other calls: callers serialise ``add``, ``add_text``
    and ``remove`` with searches (one lock will do).
    """

    def __init__(
        self,
        *,
        postings_budget: int | None = POSTINGS_BUDGET,
        rerank_depth: int = RERANK_DEPTH,
    ) -> None:
        self.postings_budget = postings_budget  # None: always exact
        self.rerank_depth = rerank_depth
        self._norm: list[float] = []
        self._norm_key: tuple | None = None
        self._slot_of: dict[Hashable, int] = {}
        self._doc_of: list[Hashable | None] = []
        self._terms_of: list[tuple[str, ...]] = []
        self._length = array("f")
        self._total_length = 0.0
        self._postings: dict[str, tuple[array, array]] = {}
        self._by_field: dict[tuple[str, Any], set[int]] = {}
        self._fields_of: list[Mapping[str, Any]] = []

    def __len__(self) -> int:
        return len(self._slot_of)

    def add(
        self,
        doc_id: Hashable,
        text: str,
        fields: Mapping[str, Any] | None = None,
        *,
        extra_text: str | None = None,
    ) -> None:
        """Index ``text`` (the problem: what a query is compared with) under ``doc_id`` with
        filterable ``fields`` (stage, category, kind, industry …), and ``extra_text`` (the
        method) at ``EXTRA_WEIGHT``. Adding an id again replaces its entry."""
        counts: dict[str, float] = {}
        _entry_counts(text, 1.0, counts)
        if extra_text:
            _entry_counts(extra_text, EXTRA_WEIGHT, counts)
        self._insert(doc_id, counts, dict(fields or {}))

    def add_text(self, doc_id: Hashable, text: str) -> None:
        """Add another phrasing of an entry's problem (say, the description of a new alarm
        that the entry solved), at the weight of the problem itself; the entry keeps its
        texts and fields. An unknown id is ignored."""
        slot = self._slot_of.get(doc_id)
        if slot is None:
            return
        counts = {term: self._tf(term, slot) for term in self._terms_of[slot]}
        _entry_counts(text, 1.0, counts)
        fields = self._fields_of[slot]
        self.remove(doc_id)
        self._insert(doc_id, counts, fields)

    def _tf(self, term: str, slot: int) -> float:
        slots, tfs = self._postings[term]
        return tfs[bisect_left(slots, slot)]

    def _insert(self, doc_id: Hashable, counts: dict[str, float], fields: dict) -> None:
        if doc_id in self._slot_of:
            self.remove(doc_id)
        slot = len(self._doc_of)
        self._slot_of[doc_id] = slot
        self._doc_of.append(doc_id)
        self._terms_of.append(tuple(counts))
        length = sum(counts.values())
        self._length.append(length)
        self._total_length += length
        postings = self._postings
        for term, tf in counts.items():
            entry = postings.get(term)
            if entry is None:
                entry = postings[term] = (array("I"), array("f"))
            entry[0].append(slot)
            entry[1].append(tf)
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
        if not self._slot_of:
            self._total_length = 0.0

    def _norms(self) -> list[float]:
        """BM25's length part ``k1·(1 − b + b·length/avg length)`` of every slot, computed
        again only after the pool changed."""
        key = (len(self._slot_of), self._total_length, K1, B)
        if self._norm_key != key:
            per_length = K1 * B * len(self._slot_of) / self._total_length
            base = K1 * (1 - B)
            self._norm = [base + per_length * length for length in self._length]
            self._norm_key = key
        return self._norm

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
        the first number is the most the term can add to a score (tf/(tf + norm) < 1)."""
        count = len(self._slot_of)
        terms = []
        for term, weight in query_terms(query).items():
            if term in self._postings:
                df = len(self._postings[term][0])
                idf = math.log(1 + (count - df + 0.5) / (df + 0.5))
                terms.append((weight * idf * (K1 + 1), term))
        return sorted(terms, key=lambda t: (-t[0], t[1]))

    def score(
        self, query: str, doc_ids: Iterable[Hashable], prefer: Mapping[str, Any] | None = None
    ) -> dict[Hashable, float]:
        """The BM25 score (with ``prefer`` as in ``search``) of each of ``doc_ids`` for
        ``query``, 0.0 for an entry sharing no term with it; unknown ids are left out. The cost
        grows with the candidates, not with the pool: a re-ranker for another retriever."""
        slots = [self._slot_of[d] for d in doc_ids if d in self._slot_of]
        if not slots:
            return {}
        norm = self._norms()
        acc = dict.fromkeys(slots, 0.0)
        for bound, term in self._weighted_terms(query):
            posted, tfs = self._postings[term]
            n = len(posted)
            for slot in slots:
                i = bisect_left(posted, slot)
                if i < n and posted[i] == slot:
                    tf = tfs[i]
                    acc[slot] += bound * tf / (tf + norm[slot])
        boost = 1 + PREFER_BOOST
        for item in (prefer or {}).items():
            if item[1] is not None:
                for slot in self._by_field.get(item, set()).intersection(slots):
                    acc[slot] *= boost
        return {self._doc_of[slot]: value for slot, value in acc.items()}

    def search(
        self,
        query: str,
        limit: int = 5,
        *,
        prefer: Mapping[str, Any] | None = None,
        **filters: Any,
    ) -> list[tuple[Hashable, float]]:
        """The ``limit`` best entries for ``query`` as ``(doc_id, score)``, best first, ties by
        ``doc_id`` ascending; only entries whose fields equal every given filter, and only
        entries sharing at least one term with the query. ``prefer`` (say, the alarm's
        category and stage) multiplies the score of an entry by ``1 + PREFER_BOOST`` for each
        of its fields that equals the preferred value (None values are ignored).

        Exact while the query's terms have at most ``postings_budget`` postings in all (any
        query on a pool of a few thousand entries). Beyond it, the terms are read rarest
        first and a term that would overrun the budget admits no new candidate: the
        ``rerank_depth`` best candidates of the terms read get those terms' share of the
        score, and the answer is the best of them. An entry that shares only common terms
        (characters, frequent words) with the query, or that ranks below ``rerank_depth`` on
        the rarer ones, is then not found: an approximation, measured by
        tests/bench/bench_experience_search.py (agreement with the exact search)."""
        allowed = self._allowed(filters)
        if limit <= 0 or not self._slot_of or allowed == set():
            return []
        preferred = [
            self._by_field.get(item, set())
            for item in (prefer or {}).items()
            if item[1] is not None
        ]
        boost = 1 + PREFER_BOOST
        terms = self._weighted_terms(query)
        postings = self._postings
        budget = self.postings_budget
        admitting, late = [], []
        spent = 0
        for bound, term in terms:
            df = len(postings[term][0])
            if budget is None or spent + df <= budget or not admitting:
                admitting.append((bound, term))
                spent += df
            else:
                late.append((bound, term))
        norm = self._norms()
        doc_of = self._doc_of
        acc = [0.0] * len(doc_of)  # partial scores by slot
        touched: set[int] = set()
        for bound, term in admitting:
            slots, tfs = postings[term]
            touched.update(slots)
            for slot, tf in zip(slots, tfs):  # noqa: B905 (equal lengths)
                acc[slot] += bound * tf / (tf + norm[slot])
        if allowed is not None:
            touched &= allowed
        for members in preferred:
            for slot in members & touched:
                acc[slot] *= boost
        candidates: Iterable[int] = touched
        if late:
            candidates = _best(acc, touched, max(self.rerank_depth, limit))
            factor = None
            if preferred:  # the late terms' share is boosted alike
                factor = {}
                for slot in candidates:
                    f = 1.0
                    for members in preferred:
                        if slot in members:
                            f *= boost
                    factor[slot] = f
            for bound, term in late:
                slots, tfs = postings[term]
                n = len(slots)
                for slot in candidates:
                    i = bisect_left(slots, slot)
                    if i < n and slots[i] == slot:
                        tf = tfs[i]
                        share = bound * tf / (tf + norm[slot])
                        acc[slot] += share * factor[slot] if factor is not None else share
        best = sorted((-acc[s], doc_of[s]) for s in _best(acc, candidates, limit))[:limit]
        return [(doc_id, -negative) for negative, doc_id in best]


def _best(scores: list[float], slots: Iterable[int], count: int) -> list[int]:
    """The ``slots`` of the ``count`` highest ``scores``, and any tied with the last of them
    (so that ties can still be broken by id), in no order. Built-in loops: one pass in
    Python over the scores, for the cut."""
    slots = list(slots)
    if len(slots) <= count:
        return slots
    values = list(map(scores.__getitem__, slots))
    cut = heapq.nlargest(count, values)[-1]
    return list(compress(slots, map(cut.__le__, values)))
