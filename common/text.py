"""Chinese text as its readers expect it: names in pinyin order (docs/DOMAIN.md §1 — 李 before
王 before 张), whatever service lists them."""

from __future__ import annotations

from pypinyin import lazy_pinyin


def pinyin_key(name: str) -> str:
    """The pinyin of a name (tone-less, lower case), so 李四 (li si) sorts before 王五 (wang wu)
    before 张三 (zhang san); non-Chinese text is kept as it is."""
    return " ".join(part.strip() for part in lazy_pinyin(name)).casefold()
