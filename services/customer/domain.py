"""Customer rules as plain Python: codes, names, phones, masking, quotas, duplicates.

Nothing here touches Nameko or the database; every rule is tested in microseconds
(tests/unit/test_customer_domain.py).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz

from common.errors import DuplicateCustomer, QuotaExceeded, ValidationFailed

# --- unified social credit code (GB 32100-2015) -------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
INVALID_USCC = "统一社会信用代码无效 / Invalid unified social credit code"


def uscc_check_character(first17: str) -> str:
    """The 18th character of a code whose first 17 characters are given (upper case)."""
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    code = (code or "").strip().upper()
    if len(code) != 18 or any(ch not in USCC_ALPHABET for ch in code):
        return False
    return uscc_check_character(code[:17]) == code[17]


def validate_uscc(code: str) -> str:
    """The code in canonical (upper-case) form; a bad code is a 422 on field ``uscc``."""
    if not isinstance(code, str) or not is_valid_uscc(code):
        raise ValidationFailed(details={"uscc": [INVALID_USCC]})
    return code.strip().upper()


# --- company names -------------------------------------------------------------------------

# Legal-form words, compared against the punctuation-free, case-folded name, longest first.
CJK_LEGAL_FORMS = ("股份有限公司", "有限责任公司", "有限公司", "分公司", "集团", "公司")
LATIN_LEGAL_FORMS = (
    "corporation",
    "limited",
    "company",
    "co ltd",
    "coltd",
    "gmbh",
    "corp",
    "ltd",
    "inc",
    "llc",
    "co",
)
NEAR_DUPLICATE_THRESHOLD = 0.85


def _spaced(text: str) -> str:
    """NFKC + casefold, with punctuation, symbols and separators turned into single spaces."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    out = []
    for ch in text:
        out.append(" " if unicodedata.category(ch)[0] in "PSZC" else ch)
    return re.sub(r"\s+", " ", "".join(out)).strip()


def _strip_legal_form(spaced: str) -> str | None:
    """The name without one trailing legal-form word, or None if it has none.

    Latin words must stand as words ("Costco" keeps its "co"); Chinese ones are plain suffixes.
    """
    candidates = [(w, False) for w in CJK_LEGAL_FORMS] + [(w, True) for w in LATIN_LEGAL_FORMS]
    for word, latin in sorted(candidates, key=lambda c: len(c[0].replace(" ", "")), reverse=True):
        if not spaced.endswith(word):
            continue
        head = spaced[: -len(word)]
        if latin and head and head[-1].isascii() and head[-1].isalnum():
            continue
        return head.rstrip()
    return None


def normalise_name(name: str) -> str:
    """The comparison key of a company name (docs/DOMAIN.md §2).

    ``华为技术有限公司`` and ``华为技术 （有限公司）`` give the same key; ``Acme Co., Ltd.`` and
    ``ACME`` too. A name made only of legal-form words keeps its punctuation-free form.
    """
    spaced = _spaced(name)
    plain = spaced.replace(" ", "")
    while True:
        stripped = _strip_legal_form(spaced)
        if stripped is None:
            break
        spaced = stripped
    return spaced.replace(" ", "") or plain


def name_similarity(a: str, b: str) -> float:
    """Fuzzy similarity 0..1 of two names, compared by their keys."""
    return similarity_of_keys(normalise_name(a), normalise_name(b))


def similarity_of_keys(key_a: str, key_b: str) -> float:
    return round(fuzz.ratio(key_a, key_b) / 100.0, 4)


def is_near_duplicate(a: str, b: str) -> bool:
    return name_similarity(a, b) >= NEAR_DUPLICATE_THRESHOLD


# --- phones, emails, names: normalising and masking -----------------------------------------


def normalise_phone(phone: str | None) -> str:
    """Digits only; a Chinese mobile number loses its +86 / 86 / 0086 country prefix."""
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", phone or ""))
    if len(digits) == 15 and digits.startswith("0086") and digits[4] == "1":
        return digits[4:]
    if len(digits) == 13 and digits.startswith("86") and digits[2] == "1":
        return digits[2:]
    return digits


def mask_phone(phone: str | None) -> str | None:
    """``13800134096`` → ``138****4096``; short numbers keep only their ends."""
    if not phone:
        return phone
    digits = normalise_phone(phone) or phone
    n = len(digits)
    if n >= 8:
        return digits[:3] + "*" * (n - 7) + digits[-4:]
    if n <= 2:
        return "*" * n if n == 1 else digits[0] + "*"
    keep = max(1, n // 4)
    return digits[:keep] + "*" * (n - 2 * keep) + digits[-keep:]


def mask_email(email: str | None) -> str | None:
    """``zhang.san@example.com`` → ``z***@example.com``."""
    if not email:
        return email
    local, at, domain = email.partition("@")
    if not at:
        return (local[:1] or "") + "***"
    return (local[:1] or "") + "***@" + domain


def mask_person_name(name: str | None) -> str:
    """``张三`` → ``张*``; ``欧阳明月`` → ``欧**月``; ``Alice Smith`` → ``A***``.

    A name with a space (``管理员 Administrator``) is masked by its first word, and a long
    name shows no more than two stars, so the mask does not give away the name's length.
    """
    name = (name or "").strip().split()[0] if (name or "").strip() else ""
    if not name:
        return "***"
    if name[0].isascii():
        return name[0] + "***"
    if len(name) == 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * min(len(name) - 2, 2) + name[-1]


# --- unmask quota --------------------------------------------------------------------------


def unmask_quota(level: int) -> int | None:
    """Daily unmask quota by level; None means unlimited (docs/DOMAIN.md §1)."""
    if level <= 1:
        return 20
    if level <= 3:
        return 100
    return None


def check_unmask_quota(level: int, used_today: int) -> None:
    """Raise QuotaExceeded when one more unmask today would pass the level's quota."""
    limit = unmask_quota(level)
    if limit is not None and used_today >= limit:
        raise QuotaExceeded(details={"limit": limit, "used": used_today})


# --- duplicates ----------------------------------------------------------------------------

MATCH_PRIORITY = ("uscc", "name", "phone")


@dataclass(frozen=True)
class ExistingCustomer:
    """What a duplicate answer may reveal about the customer already registered."""

    customer_id: str
    owner_id: str
    owner_level: int | None
    owner_name: str | None


def owner_summary(level: int | None, name: str | None) -> dict:
    return {"level": level, "masked_name": mask_person_name(name)}


def duplicate_refusal(
    existing: ExistingCustomer, matched_on: str, actor_id: str
) -> DuplicateCustomer:
    """The 409 for registering a customer that exists: its id and masked owner, no more."""
    yours = existing.owner_id == actor_id
    message = "该客户已是您的客户 / This customer is already yours" if yours else None
    return DuplicateCustomer(
        message,
        {
            "customer_id": existing.customer_id,
            "owner": owner_summary(existing.owner_level, existing.owner_name),
            "matched_on": matched_on,
            "yours": yours,
        },
    )


# --- owner paths ---------------------------------------------------------------------------


def moved_path(path: str, old_prefix: str, new_prefix: str) -> str:
    """A materialised path after the subtree at ``old_prefix`` moved to ``new_prefix``."""
    if path.startswith(old_prefix):
        return new_prefix + path[len(old_prefix) :]
    return path


# --- export --------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "customer_id",
    "name",
    "uscc",
    "industry",
    "region",
    "founded_on",
    "referred_by",
    "owner_id",
    "status",
    "created_at",
    "contact_name",
    "contact_title",
    "contact_phone",
    "contact_email",
    "contact_birthday",
    "decision_maker",
)


def _safe_cell(value) -> str:
    """Text for a spreadsheet cell; formulas are defused (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def customers_csv(customers: list[dict]) -> str:
    """UTF-8 CSV with BOM (Excel opens Chinese correctly), one row per contact.

    ``customers`` are customer dicts as the API shows them, contacts already masked.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for customer in customers:
        head = [
            customer["id"],
            customer["name"],
            customer["uscc"],
            customer["industry"],
            customer["region"],
            customer["founded_on"],
            customer["referred_by"],
            customer["owner_id"],
            customer["status"],
            customer["created_at"],
        ]
        contacts = customer.get("contacts") or [None]
        for contact in contacts:
            tail = (
                [
                    contact["name"],
                    contact["title"],
                    contact["phone"],
                    contact["email"],
                    contact["birthday"],
                    contact["decision_maker"],
                ]
                if contact
                else [None] * 6
            )
            writer.writerow([_safe_cell(v) for v in head + tail])
    return "\ufeff" + buffer.getvalue()
