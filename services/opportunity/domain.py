"""Opportunity rules as plain Python: pipelines, feasibility, the stage clock, the sweep's
decisions, supervisor decisions, closing, money and the read-model arithmetic.

Nothing here touches Nameko or the database (docs/DOMAIN.md §3); every rule is tested in
microseconds in tests/unit/test_opportunity_domain.py. Times are aware datetimes (UTC),
durations ``timedelta`` (ISO 8601 strings at the edges), money integer fen.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from common import clock
from common.errors import BusinessRuleViolated, Conflict, Forbidden, ValidationFailed
from common.money import BAD_MONEY, MAX_FEN, format_money, parse_money  # noqa: F401

# --- pipelines -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    key: str
    name: str
    time_limit: timedelta | None
    probability: int


@dataclass(frozen=True)
class Question:
    key: str
    question: str
    weight: float


@dataclass(frozen=True)
class Pipeline:
    name: str
    stages: tuple[Stage, ...]
    remind_before: timedelta = timedelta(days=2)
    followup_limit: timedelta | None = None
    decision_limit: timedelta = timedelta(days=3)
    qualification: tuple[Question, ...] = ()
    threshold: float = 0.5

    @property
    def stage_keys(self) -> list[str]:
        return [s.key for s in self.stages]

    @property
    def won_index(self) -> int:
        """The last stage is the won stage."""
        return len(self.stages) - 1

    def stage_index(self, key: str) -> int:
        for index, stage in enumerate(self.stages):
            if stage.key == key:
                return index
        raise ValidationFailed(details={"stage": [f"未知阶段 / Unknown stage: {key}"]})


DEFAULT_PIPELINE = Pipeline(
    name="默认流程 Default pipeline",
    stages=(
        Stage("contact", "初步接触 Initial contact", timedelta(days=7), 10),
        Stage("needs", "需求确认 Needs confirmed", timedelta(days=14), 20),
        Stage("demo", "方案演示 Solution demo", timedelta(days=14), 40),
        Stage("quote", "商务报价 Proposal and quote", timedelta(days=14), 60),
        Stage("negotiate", "谈判签约 Negotiation", timedelta(days=21), 80),
        Stage("payment", "回款 Payment collection", timedelta(days=30), 90),
        Stage("won", "成交 Won", None, 100),
    ),
    remind_before=timedelta(days=2),
    followup_limit=None,
    decision_limit=timedelta(days=3),
    qualification=(
        Question("budget", "客户有预算吗 / Does the customer have a budget?", 1),
        Question("authority", "联系人有决策权吗 / Does the contact have authority to decide?", 1),
        Question("need", "需求明确吗 / Is the need clear?", 1),
        Question("timeline", "有明确的采购时间吗 / Is there a purchase timeline?", 1),
    ),
    threshold=0.5,
)

KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
MAX_DURATION = timedelta(days=3660)  # ten years: keeps now + limit far from datetime overflow
MAX_TEXT = 200

REQUIRED = "必填 / Required"
NOT_TEXT = "须为非空文本（最多 200 字） / Must be non-blank text (at most 200 characters)"
BAD_KEY = (
    "键须以字母开头，仅含字母、数字、_ 和 -，最多 40 个字符 / "
    "Key must start with a letter and use letters, digits, _ and - (at most 40 characters)"
)
BAD_DURATION = (
    "须为正的 ISO 8601 时长，如 P14D 或 PT2S / "
    "Must be a positive ISO 8601 duration, e.g. P14D or PT2S"
)
BAD_PROBABILITY = "概率须为 0–100 的整数 / Probability must be an integer from 0 to 100"
DECREASING = "概率不得低于前一阶段 / Probability must not be lower than the previous stage's"
DUPLICATE_KEY = "键重复 / Duplicate key"
FEW_STAGES = "至少需要两个阶段 / At least two stages are required"
WON_STAGE = (
    "最后一个阶段是成交阶段：概率 100，无时限 / "
    "The last stage is the won stage: probability 100 and no time limit"
)
OPEN_STAGE_LIMIT = "除成交阶段外，每个阶段都须有时限 / Every stage except won needs a time limit"
BAD_WEIGHT = "权重须为正数 / Weight must be a positive number"
BAD_THRESHOLD = "门槛须为 0 到 1 之间的数 / Threshold must be a number from 0 to 1"
NOT_LIST = "须为列表 / Must be a list"
NOT_OBJECT = "须为对象 / Must be an object"


def _is_number(value: Any) -> bool:
    """A finite JSON number (an integer too large for a float is not one)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _text(value: Any, path: str, errors: dict[str, list[str]]) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_TEXT:
        errors.setdefault(path, []).append(REQUIRED if value is None else NOT_TEXT)
        return ""
    return value.strip()


def _key(value: Any, path: str, errors: dict[str, list[str]]) -> str:
    if not isinstance(value, str) or not KEY_PATTERN.match(value):
        errors.setdefault(path, []).append(REQUIRED if value is None else BAD_KEY)
        return ""
    return value


def _duration(
    value: Any, path: str, errors: dict[str, list[str]], *, allow_zero: bool = False
) -> timedelta | None:
    """A positive (or, if allowed, zero) duration; records an error and returns None."""
    try:
        delta = clock.parse_duration(value) if isinstance(value, str) else None
    except (ValueError, OverflowError):
        delta = None
    if (
        delta is None
        or delta > MAX_DURATION
        or delta < timedelta(0)
        or (delta == timedelta(0) and not allow_zero)
    ):
        errors.setdefault(path, []).append(BAD_DURATION)
        return None
    return delta


def parse_pipeline(data: Any) -> Pipeline:
    """Validate API-shaped pipeline input; every problem is listed in one 422."""
    errors: dict[str, list[str]] = {}
    if not isinstance(data, Mapping):
        raise ValidationFailed(details={"_schema": [NOT_OBJECT]})

    name = _text(data.get("name"), "name", errors)

    stages: list[Stage] = []
    raw_stages = data.get("stages")
    if not isinstance(raw_stages, list):
        errors.setdefault("stages", []).append(REQUIRED if raw_stages is None else NOT_LIST)
        raw_stages = []
    elif len(raw_stages) < 2:
        errors.setdefault("stages", []).append(FEW_STAGES)
    seen: set[str] = set()
    previous_probability: int | None = None
    last = len(raw_stages) - 1
    for i, raw in enumerate(raw_stages):
        path = f"stages.{i}"
        if not isinstance(raw, Mapping):
            errors.setdefault(path, []).append(NOT_OBJECT)
            continue
        key = _key(raw.get("key"), f"{path}.key", errors)
        if key and key in seen:
            errors.setdefault(f"{path}.key", []).append(DUPLICATE_KEY)
        seen.add(key)
        stage_name = _text(raw.get("name"), f"{path}.name", errors)
        probability = raw.get("probability")
        if (
            not isinstance(probability, int)
            or isinstance(probability, bool)
            or not (0 <= probability <= 100)
        ):
            errors.setdefault(f"{path}.probability", []).append(BAD_PROBABILITY)
            probability = None
        elif previous_probability is not None and probability < previous_probability:
            errors.setdefault(f"{path}.probability", []).append(DECREASING)
        if probability is not None:
            previous_probability = probability
        raw_limit = raw.get("time_limit")
        limit: timedelta | None = None
        if i == last and last >= 1:
            if raw_limit is not None or probability != 100:
                errors.setdefault(path, []).append(WON_STAGE)
        elif raw_limit is None:
            errors.setdefault(f"{path}.time_limit", []).append(OPEN_STAGE_LIMIT)
        else:
            limit = _duration(raw_limit, f"{path}.time_limit", errors)
        stages.append(Stage(key, stage_name, limit, probability or 0))

    durations: dict[str, timedelta | None] = {}
    for field_name, default, allow_zero in (
        ("remind_before", timedelta(days=2), True),
        ("decision_limit", timedelta(days=3), False),
        ("followup_limit", None, False),
    ):
        raw = data.get(field_name)
        durations[field_name] = (
            default if raw is None else _duration(raw, field_name, errors, allow_zero=allow_zero)
        )

    questions: list[Question] = []
    raw_questions = data.get("qualification")
    if not isinstance(raw_questions, list):
        errors.setdefault("qualification", []).append(
            REQUIRED if raw_questions is None else NOT_LIST
        )
        raw_questions = []
    seen_questions: set[str] = set()
    for i, raw in enumerate(raw_questions):
        path = f"qualification.{i}"
        if not isinstance(raw, Mapping):
            errors.setdefault(path, []).append(NOT_OBJECT)
            continue
        key = _key(raw.get("key"), f"{path}.key", errors)
        if key and key in seen_questions:
            errors.setdefault(f"{path}.key", []).append(DUPLICATE_KEY)
        seen_questions.add(key)
        text = _text(raw.get("question"), f"{path}.question", errors)
        weight = raw.get("weight")
        if not _is_number(weight) or weight <= 0 or weight > 1_000_000:
            errors.setdefault(f"{path}.weight", []).append(BAD_WEIGHT)
            weight = 0
        questions.append(Question(key, text, weight))

    threshold = data.get("qualification_threshold")
    if not _is_number(threshold) or not (0 <= threshold <= 1):
        errors.setdefault("qualification_threshold", []).append(
            REQUIRED if threshold is None else BAD_THRESHOLD
        )

    if errors:
        raise ValidationFailed(details=errors)
    return Pipeline(
        name=name,
        stages=tuple(stages),
        remind_before=durations["remind_before"],
        followup_limit=durations["followup_limit"],
        decision_limit=durations["decision_limit"],
        qualification=tuple(questions),
        threshold=float(threshold),
    )


def _fmt(delta: timedelta | None) -> str | None:
    return None if delta is None else clock.format_duration(delta)


def pipeline_to_dict(p: Pipeline) -> dict:
    """The API shape of a pipeline (durations as ISO 8601 strings); parse_pipeline's inverse."""
    return {
        "name": p.name,
        "stages": [
            {
                "key": s.key,
                "name": s.name,
                "time_limit": _fmt(s.time_limit),
                "probability": s.probability,
            }
            for s in p.stages
        ],
        "remind_before": _fmt(p.remind_before),
        "followup_limit": _fmt(p.followup_limit),
        "decision_limit": _fmt(p.decision_limit),
        "qualification": [
            {"key": q.key, "question": q.question, "weight": q.weight} for q in p.qualification
        ],
        "qualification_threshold": p.threshold,
    }


# --- feasibility ---------------------------------------------------------------------------

NOT_FEASIBLE = "商机可行性不足 / The opportunity is not feasible"
UNKNOWN_QUESTION = "未知的资格问题 / Unknown qualification question"
NOT_BOOL = "答案须为 true 或 false / The answer must be true or false"


def feasibility(pipeline: Pipeline, answers: Any) -> tuple[float, list[str]]:
    """The weighted share of "yes" (0..1) and the questions left unanswered (counted as no)."""
    if answers is None:
        answers = {}
    if not isinstance(answers, Mapping):
        raise ValidationFailed(details={"qualification": [NOT_OBJECT]})
    known = {q.key for q in pipeline.qualification}
    errors: dict[str, list[str]] = {}
    for key, value in answers.items():
        if key not in known:
            errors[f"qualification.{key}"] = [UNKNOWN_QUESTION]
        elif not isinstance(value, bool):
            errors[f"qualification.{key}"] = [NOT_BOOL]
    if errors:
        raise ValidationFailed(details=errors)
    total = sum(q.weight for q in pipeline.qualification)
    if total <= 0:
        return 1.0, []
    yes = sum(q.weight for q in pipeline.qualification if answers.get(q.key) is True)
    missing = [q.key for q in pipeline.qualification if q.key not in answers]
    return round(yes / total, 4), missing


def check_feasible(pipeline: Pipeline, answers: Any) -> float:
    """The score, or 422 ``not_feasible`` with score, threshold and missing answers."""
    score, missing = feasibility(pipeline, answers)
    if score < pipeline.threshold:
        raise BusinessRuleViolated(
            NOT_FEASIBLE,
            {"score": score, "threshold": pipeline.threshold, "missing": missing},
            code="not_feasible",
        )
    return score


# --- the stage clock -----------------------------------------------------------------------

OPEN = "open"
LOSS_PENDING = "loss_pending"
CONFISCATED = "confiscated"
WON = "won"
LOST = "lost"
ON_THE_CLOCK = (OPEN, LOSS_PENDING)  # a pending loss stays on the clock until approved

INVALID_TRANSITION = "invalid_transition"
LAST_OPEN_STAGE = (
    "已在最后一个进行中阶段，请使用成交 / Already at the last open stage; use win to close"
)
NOT_LAST_OPEN_STAGE = (
    "只能从最后一个进行中阶段成交 / Only an opportunity at the last open stage can be won"
)


def enter_stage(pipeline: Pipeline, stage_index: int, now: datetime) -> datetime | None:
    """The deadline of a stage entered at ``now``; None for the won stage."""
    limit = pipeline.stages[stage_index].time_limit
    return None if limit is None else now + limit


def next_stage_for_advance(pipeline: Pipeline, index: int) -> int:
    """One stage forward; advance never enters the won stage (win closes instead)."""
    nxt = index + 1
    if index < 0 or nxt >= pipeline.won_index:
        raise Conflict(
            LAST_OPEN_STAGE, {"stage": _key_at(pipeline, index)}, code=INVALID_TRANSITION
        )
    return nxt


def can_win(pipeline: Pipeline, index: int) -> bool:
    """Win closes from the last open stage, i.e. the stage just before won."""
    return index == pipeline.won_index - 1


def check_win(pipeline: Pipeline, index: int) -> int:
    """The won stage index, or 409 ``invalid_transition``."""
    if not can_win(pipeline, index):
        raise Conflict(
            NOT_LAST_OPEN_STAGE, {"stage": _key_at(pipeline, index)}, code=INVALID_TRANSITION
        )
    return pipeline.won_index


def _key_at(pipeline: Pipeline, index: int) -> str | None:
    return pipeline.stages[index].key if 0 <= index < len(pipeline.stages) else None


# --- the sweep -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockState:
    """What the sweep needs to know of one opportunity."""

    status: str
    stage_deadline: datetime | None
    warned: bool = False  # deadline_approaching already sent for this stage entry
    stage_entered_at: datetime | None = None
    last_followup_at: datetime | None = None  # last work-log entry on the opportunity
    decision_deadline: datetime | None = None
    holder_path: list[str] = field(default_factory=list)  # top → holder
    flagged: bool = False  # the top of the chain keeps it; nobody above to escalate to


def due_for_warning(state: ClockState, pipeline: Pipeline, now: datetime) -> bool:
    """Warn once per stage entry, from ``stage_deadline − remind_before`` on."""
    return (
        state.status in ON_THE_CLOCK
        and not state.warned
        and state.stage_deadline is not None
        and now >= state.stage_deadline - pipeline.remind_before
    )


def overdue(state: ClockState, pipeline: Pipeline, now: datetime) -> bool:
    """Past the stage deadline, or no follow-up for longer than the follow-up limit."""
    if state.status not in ON_THE_CLOCK or state.flagged:
        return False
    if state.stage_deadline is not None and now > state.stage_deadline:
        return True
    if pipeline.followup_limit is not None:
        since = state.last_followup_at or state.stage_entered_at
        if since is not None and now - since > pipeline.followup_limit:
            return True
    return False


def decision_overdue(state: ClockState, now: datetime) -> bool:
    """A confiscated opportunity whose holder let the decision deadline pass."""
    return (
        state.status == CONFISCATED
        and not state.flagged
        and state.decision_deadline is not None
        and now > state.decision_deadline
    )


def confiscation_target(holder_path: Sequence[str]) -> str | None:
    """The holder's supervisor (path is top → holder); None at the top of the chain."""
    return str(holder_path[-2]) if len(holder_path) >= 2 else None


@dataclass(frozen=True)
class Confiscation:
    holder_id: str | None  # the new holder (unchanged when flagged)
    decision_deadline: datetime | None
    flagged: bool


def plan_confiscation(
    holder_path: Sequence[str], pipeline: Pipeline, now: datetime
) -> Confiscation:
    """To the supervisor with a decision deadline; the top of the chain keeps it, flagged."""
    target = confiscation_target(holder_path)
    if target is None:
        return Confiscation(
            holder_id=str(holder_path[-1]) if holder_path else None,
            decision_deadline=None,
            flagged=True,
        )
    return Confiscation(target, now + pipeline.decision_limit, False)


# --- supervisor decisions ------------------------------------------------------------------

DECISIONS = ("keep", "return", "reassign")
BAD_ACTION = "决定须为 keep、return 或 reassign / Action must be keep, return or reassign"
NOT_CONFISCATED = "该商机不在待决定状态 / This opportunity is not awaiting a decision"
NOT_HOLDER = "只有持有该商机的主管可以决定 / Only the supervisor holding it may decide"
ASSIGNEE_REQUIRED = "改派须指定下属 / Reassigning needs an assignee"
ASSIGNEE_SELF = "不能改派给自己，请用 keep / Cannot reassign to yourself; use keep"
ASSIGNEE_UNKNOWN = "未知用户 / Unknown user"
NOT_SUBORDINATE = "只能改派给自己的下属 / Can only reassign to a subordinate"
NO_OWNER = "没有可退回的原负责人 / There is no original owner to return it to"


@dataclass(frozen=True)
class DecisionOutcome:
    action: str
    holder_id: str
    status: str
    stage_entered_at: datetime
    stage_deadline: datetime | None


def is_in_subtree(path: Sequence[str], root_path: Sequence[str]) -> bool:
    """Strictly below ``root_path`` (both paths top → user)."""
    return len(path) > len(root_path) and list(path[: len(root_path)]) == list(root_path)


def apply_decision(
    action: Any,
    *,
    pipeline: Pipeline,
    stage_index: int,
    status: str,
    holder_id: str,
    decider_id: str,
    decider_path: Sequence[str],
    original_owner_id: str | None,
    now: datetime,
    assignee_id: str | None = None,
    assignee_path: Sequence[str] | None = None,
) -> DecisionOutcome:
    """keep / return / reassign a confiscated opportunity; each starts a fresh stage clock."""
    if action not in DECISIONS:
        raise ValidationFailed(details={"action": [BAD_ACTION]})
    if status != CONFISCATED:
        raise Conflict(NOT_CONFISCATED, {"status": status}, code=INVALID_TRANSITION)
    if str(decider_id) != str(holder_id):
        raise Forbidden(NOT_HOLDER)
    if action == "keep":
        new_holder = str(decider_id)
    elif action == "return":
        if not original_owner_id:
            raise Conflict(NO_OWNER, code=INVALID_TRANSITION)
        new_holder = str(original_owner_id)
    else:
        if assignee_id is None or assignee_id == "":
            raise ValidationFailed(details={"assignee_id": [ASSIGNEE_REQUIRED]})
        if str(assignee_id) == str(decider_id):
            raise ValidationFailed(details={"assignee_id": [ASSIGNEE_SELF]})
        if assignee_path is None:
            raise ValidationFailed(details={"assignee_id": [ASSIGNEE_UNKNOWN]})
        if not is_in_subtree(assignee_path, decider_path):
            raise Forbidden(NOT_SUBORDINATE, {"assignee_id": str(assignee_id)})
        new_holder = str(assignee_id)
    return DecisionOutcome(
        action=action,
        holder_id=new_holder,
        status=OPEN,
        stage_entered_at=now,
        stage_deadline=enter_stage(pipeline, stage_index, now),
    )


# --- closing -------------------------------------------------------------------------------

ALARM_CATEGORIES = (
    "price",
    "competitor",
    "technical",
    "decision_chain",
    "payment",
    "relationship",
    "service",
    "other",
)
LOSS_REASONS = ALARM_CATEGORIES + ("no_budget", "no_need")
MAX_ANALYSIS = 10_000
BAD_REASON = "请选择丢单原因类别 / Choose a loss reason category"
NO_ANALYSIS = "丢单须填写剖析 / A loss needs an analysis"


def validate_loss(
    reason: Any, analysis: Any, categories: Iterable[str] = ALARM_CATEGORIES
) -> tuple[str, str]:
    """死要剖尸: a reason category (alarm categories + no_budget, no_need) and an analysis."""
    allowed = set(categories) | {"no_budget", "no_need"}
    errors: dict[str, list[str]] = {}
    if not isinstance(reason, str) or reason not in allowed:
        errors["reason"] = [BAD_REASON]
    if not isinstance(analysis, str) or not analysis.strip() or len(analysis) > MAX_ANALYSIS:
        errors["analysis"] = [NO_ANALYSIS]
    if errors:
        raise ValidationFailed(details=errors)
    return reason, analysis.strip()


def may_approve_loss(approver_level: int, approver_id: str, holder_path: Sequence[str]) -> bool:
    """A supervisor (level ≥ 4) in the holder's chain above the holder."""
    above = [str(p) for p in holder_path[:-1]]
    return approver_level >= 4 and str(approver_id) in above


# --- money ---------------------------------------------------------------------------------

# --- read models ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelRow:
    """One opportunity as the funnel sees it."""

    max_stage_index: int  # the furthest stage it ever reached
    amount: int  # fen
    stage_index: int  # where it is now
    time_in_stage: Mapping[str, float] = field(default_factory=dict)  # stage key → seconds


def funnel(stage_keys: Sequence[str], rows: Iterable[FunnelRow]) -> list[dict]:
    """Per stage: opportunities now in it (count, amount), how many ever reached it,
    conversion to the next stage (reached next / reached this) and the median time spent."""
    rows = list(rows)
    result = []
    for i, key in enumerate(stage_keys):
        here = [r for r in rows if r.stage_index == i]
        reached = sum(1 for r in rows if r.max_stage_index >= i)
        conversion = None
        if i + 1 < len(stage_keys) and reached:
            conversion = round(sum(1 for r in rows if r.max_stage_index >= i + 1) / reached, 4)
        times = [r.time_in_stage[key] for r in rows if key in r.time_in_stage]
        median = None
        if times:
            median = clock.format_duration(timedelta(seconds=statistics.median(times)))
        result.append(
            {
                "key": key,
                "count": len(here),
                "amount": format_money(sum(r.amount for r in here)),
                "reached": reached,
                "conversion": conversion,
                "median_time_in_stage": median,
            }
        )
    return result


MIN_CLOSED_SAMPLES = 30


def learned_probabilities(
    pipeline: Pipeline, closed: Sequence[tuple[int, bool]]
) -> dict[str, float]:
    """p(stage) = (won among those that reached it + 1) / (reached + 2), the won stage 1;
    the configured probabilities while fewer than 30 opportunities have closed. ``closed``:
    (the furthest stage index reached, won?) of each closed opportunity."""
    return learned_from_counts(pipeline, Counter(closed).items())


def learned_from_counts(
    pipeline: Pipeline, counts: Iterable[tuple[tuple[int, bool], int]]
) -> dict[str, float]:
    """``learned_probabilities`` from ((stage index, won?), how many) pairs: what a GROUP BY
    gives, instead of one row per closed opportunity."""
    counts = list(counts)
    if sum(n for _, n in counts) < MIN_CLOSED_SAMPLES:
        return {s.key: s.probability / 100 for s in pipeline.stages}
    result = {}
    for i, stage in enumerate(pipeline.stages):
        if i == pipeline.won_index:
            result[stage.key] = 1.0
            continue
        reached = sum(n for (index, _), n in counts if index >= i)
        won = sum(n for (index, w), n in counts if index >= i and w)
        result[stage.key] = round((won + 1) / (reached + 2), 4)
    return result


def expected_close(pipeline: Pipeline, stage_index: int, stage_entered_at: datetime) -> datetime:
    """Stage entry + the limits of the current stage and every later open stage."""
    remaining = sum(
        (s.time_limit for s in pipeline.stages[stage_index:] if s.time_limit is not None),
        timedelta(0),
    )
    return stage_entered_at + remaining


@dataclass(frozen=True)
class ForecastItem:
    stage: str
    amount: int  # fen
    expected_close: datetime


def _month(moment: datetime, tz: ZoneInfo) -> tuple[int, int]:
    local = clock.as_utc(moment).astimezone(tz)
    return local.year, local.month


def forecast_by_month(
    items: Iterable[ForecastItem],
    probabilities: Mapping[str, float],
    months: int,
    now: datetime,
    tz: ZoneInfo | None = None,
) -> list[dict]:
    """Weighted pipeline (Σ amount × p(stage)) per month for ``months`` months from now.

    Opportunities already past their expected close date count in the current month; those
    beyond the horizon are left out.
    """
    tz = tz or clock.org_tz()
    year, month = _month(now, tz)
    keys = []
    for _ in range(max(0, months)):
        keys.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    totals = {k: [0.0, 0] for k in keys}
    for item in items:
        key = max(_month(item.expected_close, tz), keys[0]) if keys else None
        if key in totals:
            totals[key][0] += item.amount * probabilities.get(item.stage, 0.0)
            totals[key][1] += 1
    return [
        {"month": f"{y:04d}-{m:02d}", "weighted": format_money(round(w)), "count": c}
        for (y, m), (w, c) in totals.items()
    ]


def mape(pairs: Iterable[tuple[float, float]]) -> float | None:
    """Mean absolute percentage error (in percent) of (forecast, actual) pairs; pairs whose
    actual is zero are skipped; None when nothing is left."""
    errors = [abs(f - a) / abs(a) for f, a in pairs if a]
    return round(100 * sum(errors) / len(errors), 2) if errors else None


_FAR = datetime.max.replace(tzinfo=UTC)


def work_list_key(probability: float | None, deadline: datetime | None) -> tuple[float, datetime]:
    """Where an opportunity stands in the work list: 100%→0%, highest stage probability first,
    then the nearest deadline (none last)."""
    return (-(probability or 0), clock.as_utc(deadline) if deadline else _FAR)


def work_list_order(items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``items`` (with ``probability`` and ``stage_deadline``) in work-list order."""
    return sorted(items, key=lambda i: work_list_key(i["probability"], i.get("stage_deadline")))
