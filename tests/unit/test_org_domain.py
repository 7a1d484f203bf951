"""Hierarchy rules (services/org/domain.py and argument schemas): fast, no broker, no database."""

from __future__ import annotations

import pytest

from common.errors import ValidationFailed
from services.org import domain, schemas
from services.org.domain import Placement


def boss(level: int, path: str = "/1/", id_: int = 1, active: bool = True) -> Placement:
    return Placement(id=id_, level=level, path=path, active=active)


# --- levels and supervisors ------------------------------------------------------------------


def test_supervisor_with_a_higher_level_is_accepted():
    assert domain.placement_errors(user_id=None, level=5, supervisor=boss(6)) == {}


@pytest.mark.parametrize("supervisor_level", [5, 4, 1])
def test_supervisor_of_equal_or_lower_level_is_refused(supervisor_level):
    errors = domain.placement_errors(user_id=None, level=5, supervisor=boss(supervisor_level))
    assert list(errors) == ["supervisor_id"]


@pytest.mark.parametrize("level", [0, 10, -1, "5", 5.0, True, None])
def test_level_must_be_an_integer_from_1_to_9(level):
    errors = domain.placement_errors(user_id=None, level=level, supervisor=boss(9))
    assert "level" in errors


def test_only_level_9_may_be_without_a_supervisor():
    assert domain.placement_errors(user_id=None, level=9, supervisor=None) == {}
    errors = domain.placement_errors(user_id=None, level=8, supervisor=None)
    assert list(errors) == ["supervisor_id"]


def test_the_first_administrator_needs_no_supervisor():
    assert domain.placement_errors(user_id=None, level=9, supervisor=None, bootstrap=True) == {}


def test_inactive_supervisor_is_refused():
    errors = domain.placement_errors(user_id=None, level=3, supervisor=boss(5, active=False))
    assert "supervisor_id" in errors


def test_user_cannot_report_to_themselves():
    errors = domain.placement_errors(user_id=7, level=5, supervisor=boss(9, "/1/7/", id_=7))
    assert "supervisor_id" in errors


def test_user_cannot_report_to_their_own_subordinate():
    # 7 sits at /1/7/; 12 is below 7 at /1/7/12/: 7 may not move under 12
    errors = domain.placement_errors(user_id=7, level=3, supervisor=boss(6, "/1/7/12/", id_=12))
    assert "supervisor_id" in errors


def test_id_that_only_looks_like_a_prefix_is_no_cycle():
    # user 1 is not in /11/17/ even though "1" is a textual prefix of "11"
    errors = domain.placement_errors(user_id=1, level=3, supervisor=boss(6, "/11/17/", id_=17))
    assert errors == {}


def test_level_must_stay_above_every_direct_report():
    errors = domain.placement_errors(user_id=5, level=4, supervisor=boss(9), report_levels=[2, 4])
    assert list(errors) == ["level"]
    assert (
        domain.placement_errors(user_id=5, level=5, supervisor=boss(9), report_levels=[2, 4]) == {}
    )


def test_level_must_stay_below_the_supervisor_when_promoted():
    errors = domain.placement_errors(user_id=5, level=6, supervisor=boss(6), report_levels=[2])
    assert list(errors) == ["supervisor_id"]


def test_top_user_cannot_be_deactivated():
    assert domain.may_be_deactivated(None)
    assert domain.may_be_deactivated(3) == []


# --- paths -----------------------------------------------------------------------------------


def test_path_ends_with_the_users_own_id():
    assert domain.compute_path("/1/5/", 9) == "/1/5/9/"
    assert domain.compute_path(None, 1) == "/1/"


def test_path_lists_the_chain_top_first():
    assert domain.path_ids("/1/5/9/") == ["1", "5", "9"]


def test_descendant_path_is_rebased_when_its_subtree_moves():
    assert domain.rebase_path("/1/5/9/12/", "/1/5/9/", "/1/3/9/") == "/1/3/9/12/"
    with pytest.raises(ValueError):
        domain.rebase_path("/1/6/", "/1/5/", "/1/3/5/")


# --- visibility ------------------------------------------------------------------------------


def sees(level: int, viewer_path: str, target_path: str) -> bool:
    viewer_id = domain.path_ids(viewer_path)[-1]
    return domain.may_see_user(
        viewer_id=viewer_id,
        viewer_level=level,
        viewer_path=viewer_path,
        target_id=domain.path_ids(target_path)[-1],
        target_path=target_path,
    )


def test_everyone_sees_themselves():
    assert sees(1, "/1/5/9/", "/1/5/9/")


def test_salesperson_does_not_see_a_peer_or_a_subordinate():
    assert not sees(3, "/1/5/9/", "/1/5/10/")
    assert not sees(3, "/1/5/9/", "/1/5/9/20/")


def test_supervisor_from_level_4_sees_the_whole_subtree_but_not_peers():
    assert sees(4, "/1/5/", "/1/5/9/20/")
    assert not sees(4, "/1/5/", "/1/6/")
    assert not sees(8, "/1/5/", "/1/")


def test_level_9_sees_everyone():
    assert sees(9, "/2/", "/1/5/9/")


# --- names sort the Chinese way --------------------------------------------------------------


def test_names_sort_by_pinyin():
    names = ["张伟", "李娜", "王芳", "阿强"]
    assert sorted(names, key=domain.name_sort_key) == ["阿强", "李娜", "王芳", "张伟"]


# --- arguments from the gateway --------------------------------------------------------------


def test_bad_user_arguments_become_field_messages():
    with pytest.raises(ValidationFailed) as caught:
        schemas.load(
            schemas.CreateUserArgs,
            {"login": "a b", "password": "x", "name": " ", "level": 12, "supervisor_id": "abc"},
        )
    assert set(caught.value.details) == {"login", "password", "name", "level", "supervisor_id"}
    assert caught.value.status == 422


def test_unknown_change_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        schemas.load(schemas.UpdateUserArgs, {"user_id": "3", "changes": {"password": "x"}})
    assert "changes" in caught.value.details


def test_ids_arrive_as_strings_and_load_as_numbers():
    args = schemas.load(
        schemas.UpdateUserArgs, {"user_id": "3", "changes": {"supervisor_id": "7", "active": False}}
    )
    assert args == {"user_id": 3, "changes": {"supervisor_id": 7, "active": False}}


def test_a_forged_cursor_is_a_validation_failure():
    with pytest.raises(ValidationFailed):
        schemas.decode_cursor("not*a*cursor")
    assert schemas.decode_cursor(schemas.encode_cursor(["li na", 4])) == ["li na", 4]
