"""The rules of the hierarchy (docs/DOMAIN.md §1), as plain functions.

- Levels run 1–9; a supervisor's level is strictly higher than each of their direct reports'.
- Only level 9 may stand at the top of a chain (no supervisor).
- The supervisor chain has no cycles: nobody reports to themselves or to a subordinate.
- ``path`` is the chain from the top down to the user, materialised as ``/1/5/9/``.
- Visibility: oneself; subordinates from level 4; everyone for level 9.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.text import pinyin_key

MIN_LEVEL = 1
MAX_LEVEL = 9
TOP_LEVEL = 9
SEES_SUBORDINATES_FROM = 4

Errors = dict[str, list[str]]


@dataclass(frozen=True)
class Placement:
    """What the rules need to know about a (would-be) supervisor."""

    id: int
    level: int
    path: str
    active: bool = True


# --- paths -------------------------------------------------------------------------------


def compute_path(supervisor_path: str | None, user_id: int) -> str:
    """The user's path: the supervisor's path followed by the user's own id."""
    return f"{supervisor_path or '/'}{user_id}/"


def path_ids(path: str) -> list[str]:
    """``/1/5/9/`` → ``["1", "5", "9"]`` (top first, the user last)."""
    return [part for part in path.split("/") if part]


def is_within(path: str, subtree_path: str) -> bool:
    """True if ``path`` lies in the subtree rooted at ``subtree_path`` (itself included)."""
    return path.startswith(subtree_path)


def rebase_path(path: str, old_prefix: str, new_prefix: str) -> str:
    """A descendant's path after the root of its subtree moved from old to new prefix."""
    if not path.startswith(old_prefix):
        raise ValueError(f"{path!r} is not under {old_prefix!r}")
    return new_prefix + path[len(old_prefix) :]


# --- levels and the chain ----------------------------------------------------------------


def level_errors(level: object) -> list[str]:
    if (
        not isinstance(level, int)
        or isinstance(level, bool)
        or not (MIN_LEVEL <= level <= MAX_LEVEL)
    ):
        return [
            f"级别必须在 {MIN_LEVEL} 到 {MAX_LEVEL} 之间 / Level must be {MIN_LEVEL}–{MAX_LEVEL}"
        ]
    return []


def placement_errors(
    *,
    user_id: int | None,
    level: int,
    supervisor: Placement | None,
    report_levels: list[int] = (),  # type: ignore[assignment]
    bootstrap: bool = False,
) -> Errors:
    """Why a user of ``level`` may not sit under ``supervisor`` above ``report_levels``.

    ``user_id`` is None for a user not created yet (who cannot be part of a cycle).
    ``bootstrap`` is the creation of the first administrator, who has nobody above.
    Returns ``{field: [messages]}``; empty when the placement is allowed.
    """
    errors: Errors = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    for message in level_errors(level):
        add("level", message)
    if errors:
        return errors
    if supervisor is None:
        if level != TOP_LEVEL and not bootstrap:
            add(
                "supervisor_id",
                "只有 9 级用户可以没有上级 / Only a level 9 user may be without a supervisor",
            )
    else:
        if user_id is not None and (supervisor.id == user_id or f"/{user_id}/" in supervisor.path):
            add(
                "supervisor_id",
                "不能汇报给自己或自己的下属 / A user cannot report to themselves or a subordinate",
            )
        if not supervisor.active:
            add("supervisor_id", "上级已停用 / The supervisor is inactive")
        if supervisor.level <= level:
            add(
                "supervisor_id",
                "上级的级别必须高于下属 / The supervisor's level must be higher than the user's",
            )
    if any(report >= level for report in report_levels):
        add(
            "level",
            "级别必须高于所有直接下属 / The level must stay above every direct report's",
        )
    return errors


def may_be_deactivated(supervisor_id: int | None) -> list[str]:
    """The top of a chain has nobody to hand their people and records to."""
    if supervisor_id is None:
        return [
            (
                "最高层用户没有上级可以接手，不能停用 / "
                "A user without a supervisor cannot be deactivated: nobody would take over"
            )
        ]
    return []


# --- visibility --------------------------------------------------------------------------


def sees_everyone(level: int) -> bool:
    return level >= TOP_LEVEL


def sees_subordinates(level: int) -> bool:
    return level >= SEES_SUBORDINATES_FROM


def may_see_user(
    *, viewer_id: str, viewer_level: int, viewer_path: str, target_id: str, target_path: str
) -> bool:
    """Oneself always; subordinates from level 4; everyone for level 9."""
    if str(viewer_id) == str(target_id) or sees_everyone(viewer_level):
        return True
    return sees_subordinates(viewer_level) and is_within(target_path, viewer_path)


# --- ordering ----------------------------------------------------------------------------


def name_sort_key(name: str) -> str:
    """Pinyin of a name, so that lists read in the order a Chinese reader expects (as stored:
    at most 600 characters)."""
    return pinyin_key(name)[:600]
