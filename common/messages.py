"""Validation messages in Chinese first, then English, for every marshmallow schema of BPC.

Applied once on import of ``common`` so the gateway's and every service's schemas answer a
Chinese corporate user in their language without repeating messages on each field.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

_FIELDS = {
    fields.Field: {
        "required": "缺少必填字段 / Missing data for required field.",
        "null": "不能为空 / Field may not be null.",
        "validator_failed": "值无效 / Invalid value.",
    },
    fields.Boolean: {"invalid": "不是有效的布尔值 / Not a valid boolean."},
    fields.Date: {"invalid": "不是有效的日期 (YYYY-MM-DD) / Not a valid date."},
    fields.DateTime: {"invalid": "不是有效的时间 (RFC 3339) / Not a valid datetime."},
    fields.Email: {"invalid": "不是有效的电子邮箱 / Not a valid email address."},
    fields.Integer: {"invalid": "不是有效的整数 / Not a valid integer."},
    fields.Number: {
        "invalid": "不是有效的数字 / Not a valid number.",
        "too_large": "数字过大 / Number too large.",
    },
    fields.List: {"invalid": "不是有效的列表 / Not a valid list."},
    fields.Mapping: {"invalid": "不是有效的对象 / Not a valid mapping type."},
    fields.Nested: {"type": "类型无效 / Invalid type."},
    fields.String: {
        "invalid": "不是有效的字符串 / Not a valid string.",
        "invalid_utf8": "不是有效的 UTF-8 字符串 / Not a valid utf-8 string.",
    },
}


def install() -> None:
    for cls, messages in _FIELDS.items():
        cls.default_error_messages = {**cls.default_error_messages, **messages}
    Schema._default_error_messages = {
        **Schema._default_error_messages,
        "type": "输入数据类型无效 / Invalid input type.",
        "unknown": "未知字段 / Unknown field.",
    }
    validate.Length.message_min = "长度不能小于 {min} / Shorter than minimum length {min}."
    validate.Length.message_max = "长度不能大于 {max} / Longer than maximum length {max}."
    validate.Length.message_all = (
        "长度须在 {min} 到 {max} 之间 / Length must be between {min} and {max}."
    )
    validate.Length.message_equal = "长度须为 {equal} / Length must be {equal}."
    validate.Range.message_min = "须{min_op} {{min}} / Must be {min_op} {{min}}."
    validate.Range.message_max = "须{max_op} {{max}} / Must be {max_op} {{max}}."
    validate.Range.message_all = (
        "须{min_op} {{min}} 且{max_op} {{max}} / Must be {min_op} {{min}} and {max_op} {{max}}."
    )
    validate.Range.message_gte = "≥"
    validate.Range.message_gt = ">"
    validate.Range.message_lte = "≤"
    validate.Range.message_lt = "<"
    validate.OneOf.default_message = "须为以下之一 / Must be one of: {choices}."
    validate.Email.default_message = "不是有效的电子邮箱 / Not a valid email address."
    validate.Regexp.default_message = "格式不正确 / String does not match expected pattern."
