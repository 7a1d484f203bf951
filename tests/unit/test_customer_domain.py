"""Customer rules (services/customer/domain.py): fast, no broker, no database."""

from __future__ import annotations

import pytest

from common.errors import DuplicateCustomer, QuotaExceeded, ValidationFailed
from services.customer import domain
from services.customer.schemas import RegisterIn, load

VALID_USCC = "91350100M000100Y43"


# --- unified social credit code -------------------------------------------------------------


def test_real_unified_social_credit_code_is_valid():
    assert domain.is_valid_uscc(VALID_USCC)
    assert domain.validate_uscc(VALID_USCC) == VALID_USCC


def test_lower_case_code_is_accepted_and_upper_cased():
    assert domain.validate_uscc(VALID_USCC.lower()) == VALID_USCC


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",  # wrong check character
        "91350100M000100Y4",  # 17 characters
        "91350100M000100Y433",  # 19 characters
        "91350100I000100Y43",  # I is not in the alphabet
        "",
    ],
)
def test_invalid_code_is_refused_with_a_field_message(code):
    with pytest.raises(ValidationFailed) as caught:
        domain.validate_uscc(code)
    assert caught.value.details == {"uscc": [domain.INVALID_USCC]}
    assert caught.value.status == 422


def test_check_character_is_computed_over_the_first_seventeen():
    assert domain.uscc_check_character(VALID_USCC[:17]) == "3"


# --- names ------------------------------------------------------------------------------------


def test_full_width_brackets_and_legal_form_do_not_make_a_new_company():
    spaced_variant = domain.normalise_name("华为技术 （有限公司）")
    assert domain.normalise_name("华为技术有限公司") == spaced_variant
    assert domain.normalise_name("华为技术有限公司") == "华为技术"


@pytest.mark.parametrize(
    "variant",
    [
        "Acme Co., Ltd.",
        "ACME CO.,LTD",
        "acme limited",
        "Acme Inc.",
        "Ａｃｍｅ　Corporation",
        "Acme, LLC",
        "acme GmbH",
        "Acme Company",
        "Acme Corp.",
    ],
)
def test_latin_legal_forms_are_ignored(variant):
    assert domain.normalise_name(variant) == "acme"


@pytest.mark.parametrize(
    "name, key",
    [
        ("腾讯控股集团有限公司", "腾讯控股"),
        ("中国平安保险（集团）股份有限公司", "中国平安保险"),
        ("北京字节跳动科技有限责任公司", "北京字节跳动科技"),
        ("某某公司北京分公司", "某某公司北京"),
    ],
)
def test_chinese_legal_forms_are_stripped_repeatedly_as_suffixes(name, key):
    assert domain.normalise_name(name) == key


def test_latin_legal_form_must_be_a_whole_word():
    assert domain.normalise_name("Costco") == "costco"
    assert domain.normalise_name("Zinc") == "zinc"


def test_name_made_only_of_legal_forms_keeps_its_plain_form():
    assert domain.normalise_name("有限公司") == "有限公司"
    assert domain.normalise_name("Company Ltd.") == "companyltd"


def test_whitespace_case_and_symbols_are_ignored():
    assert domain.normalise_name(" Hello\tWorld® & Sons ") == "helloworldsons"


def test_similar_names_are_near_duplicates():
    assert domain.is_near_duplicate("深圳市腾讯计算机系统有限公司", "深圳腾讯计算机系统有限公司")
    assert domain.name_similarity("华为技术有限公司", "华为技术") == 1.0


def test_different_names_are_not_near_duplicates():
    assert not domain.is_near_duplicate("华为技术有限公司", "中兴通讯股份有限公司")
    assert domain.NEAR_DUPLICATE_THRESHOLD == 0.85


# --- phones, emails, owner names --------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13800134096",
        "+86 138 0013 4096",
        "86-138-0013-4096",
        "0086 13800134096",
        "(138) 0013-4096",
        "１３８００１３４０９６",
    ],
)
def test_mobile_numbers_normalise_to_eleven_digits(raw):
    assert domain.normalise_phone(raw) == "13800134096"


def test_landline_keeps_its_area_code():
    assert domain.normalise_phone("010-6234 5678") == "01062345678"


def test_phone_is_masked_keeping_first_three_and_last_four():
    assert domain.mask_phone("13800134096") == "138****4096"
    assert domain.mask_phone("+86 138-0013-4096") == "138****4096"


def test_short_numbers_are_masked_in_the_middle():
    assert domain.mask_phone("95588") == "9***8"
    assert domain.mask_phone("110") == "1*0"
    masked = domain.mask_phone("1234567")
    assert masked[0] == "1" and masked[-1] == "7" and "*" in masked and len(masked) == 7


def test_missing_phone_stays_missing():
    assert domain.mask_phone(None) is None


def test_email_is_masked_to_first_letter_and_domain():
    assert domain.mask_email("zhang.san@example.com") == "z***@example.com"
    assert domain.mask_email(None) is None


@pytest.mark.parametrize(
    "name, masked",
    [
        ("张三", "张*"),
        ("欧阳明月", "欧**月"),
        ("王小明", "王*明"),
        ("Alice Smith", "A***"),
        ("", "***"),
        (None, "***"),
    ],
)
def test_owner_name_is_masked(name, masked):
    assert domain.mask_person_name(name) == masked


# --- unmask quota --------------------------------------------------------------------------


@pytest.mark.parametrize("level, quota", [(1, 20), (2, 100), (3, 100), (4, None), (9, None)])
def test_unmask_quota_by_level(level, quota):
    assert domain.unmask_quota(level) == quota


def test_trainee_twenty_first_unmask_of_the_day_is_refused():
    domain.check_unmask_quota(1, 19)
    with pytest.raises(QuotaExceeded) as caught:
        domain.check_unmask_quota(1, 20)
    assert caught.value.details == {"limit": 20, "used": 20}
    assert caught.value.status == 429


def test_supervisor_has_no_unmask_quota():
    domain.check_unmask_quota(4, 10_000)


# --- duplicates ----------------------------------------------------------------------------


def test_duplicate_answer_names_customer_and_masked_owner_only():
    existing = domain.ExistingCustomer("7", owner_id="42", owner_level=2, owner_name="张三")
    error = domain.duplicate_refusal(existing, "uscc", actor_id="43")
    assert isinstance(error, DuplicateCustomer)
    assert error.code == "duplicate_customer" and error.status == 409
    assert error.details == {
        "customer_id": "7",
        "owner": {"level": 2, "masked_name": "张*"},
        "matched_on": "uscc",
        "yours": False,
    }


def test_owner_is_told_the_customer_is_already_theirs():
    existing = domain.ExistingCustomer("7", owner_id="42", owner_level=2, owner_name="张三")
    error = domain.duplicate_refusal(existing, "name", actor_id="42")
    assert error.details["yours"] is True
    assert error.message == "该客户已是您的客户 / This customer is already yours"


# --- paths and export ------------------------------------------------------------------------


def test_moved_subtree_keeps_its_tail():
    assert domain.moved_path("/1/5/9/12/", "/1/5/9/", "/1/6/9/") == "/1/6/9/12/"
    assert domain.moved_path("/1/5/10/", "/1/5/9/", "/1/6/9/") == "/1/5/10/"


def _customer(**overrides):
    customer = {
        "id": "1",
        "name": "华为技术有限公司",
        "uscc": VALID_USCC,
        "industry": "通信",
        "region": "深圳",
        "founded_on": "1987-09-15",
        "referred_by": None,
        "owner_id": "9",
        "status": "prospect",
        "created_at": "2026-01-01T09:00:00+08:00",
        "contacts": [
            {
                "id": "3",
                "name": "李四",
                "title": "采购经理",
                "phone": "138****4096",
                "email": "l***@example.com",
                "birthday": None,
                "birthday_calendar": "solar",
                "decision_maker": True,
            }
        ],
    }
    customer.update(overrides)
    return customer


def test_export_is_utf8_csv_with_bom_one_row_per_contact():
    text = domain.customers_csv([_customer(), _customer(id="2", name="Acme", contacts=[])])
    assert text.startswith("\ufeff")
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("customer_id,name,uscc")
    assert len(lines) == 3
    assert "华为技术有限公司" in lines[1] and "138****4096" in lines[1]
    assert lines[2].startswith("2,Acme,")


def test_export_defuses_spreadsheet_formulas():
    text = domain.customers_csv([_customer(name='=HYPERLINK("x")')])
    assert "'=HYPERLINK" in text


# --- argument validation -------------------------------------------------------------------


def test_registration_with_unknown_field_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        load(RegisterIn, {"name": "Acme", "colour": "red"})
    assert "colour" in caught.value.details


def test_registration_with_bad_uscc_names_the_field():
    with pytest.raises(ValidationFailed) as caught:
        load(RegisterIn, {"name": "Acme", "uscc": "123"})
    assert caught.value.details == {"uscc": [domain.INVALID_USCC]}


def test_registration_with_same_phone_twice_is_refused():
    contacts = [{"name": "甲", "phone": "13800134096"}, {"name": "乙", "phone": "+8613800134096"}]
    with pytest.raises(ValidationFailed) as caught:
        load(RegisterIn, {"name": "Acme", "contacts": contacts})
    assert "contacts" in caught.value.details


def test_contact_nulls_from_the_gateway_take_their_defaults():
    args = load(
        RegisterIn,
        {
            "name": "Acme",
            "contacts": [{"name": "甲", "birthday_calendar": None, "decision_maker": None}],
        },
    )
    assert args["contacts"][0]["birthday_calendar"] == "solar"
    assert args["contacts"][0]["decision_maker"] is False


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"name": ""},
        {"name": 5},
        {"name": "a\x00b"},
        {"name": "Acme", "contacts": "x"},
        {"name": "Acme", "contacts": [{"name": "甲", "email": "not-an-email"}]},
        {"name": "Acme", "contacts": [{"name": "甲", "birthday_calendar": "martian"}]},
        {"name": "Acme", "founded_on": "2999-01-01"},
        {"name": "Acme", "referred_by": "abc"},
    ],
)
def test_bad_registration_arguments_are_validation_failures(fields):
    with pytest.raises(ValidationFailed) as caught:
        load(RegisterIn, fields)
    assert all(isinstance(v, (list, dict)) for v in caught.value.details.values())


def test_normalised_key_of_a_compatibility_character_may_be_longer_than_the_name():
    # why registration checks the key's length, not only the name's
    assert len(domain.normalise_name("ﷺ")) > 1


def test_owner_mask_hides_the_length_of_long_names_and_masks_the_first_word():
    from services.customer.domain import mask_person_name

    assert mask_person_name("爱新觉罗溥仪") == "爱**仪"
    assert mask_person_name("管理员 Administrator") == "管*员"
