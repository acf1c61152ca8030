"""Folding the variable parts of messages (ids, numbers, addresses …) into placeholders for grouping.

"order 4711 for bob@example.com failed at 0x7f3a" and "order 9001 for eve@example.org failed at
0x55e1" must group together, so both become "order <int> for <email> failed at <hex>".

Rule lists are versioned like the grouping itself: a released list (FOLD_RULES_V1) is never
edited, since changing it would move existing events to new issues. A new grouping version gets
a new list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

Replacement = str | Callable[[re.Match[str]], str]
FoldRule = tuple[str, re.Pattern[str], Replacement]

# A token boundary that, unlike \b, treats "_" and "-" as separators: "order_123" holds a number.
_B = r"(?<![A-Za-z0-9])"
_E = r"(?![A-Za-z0-9])"


def _mixed_id(match: re.Match[str]) -> str:
    token = match.group(0)
    # "user1234" is a word with a counter, left to the number rule ("user<int>") so that
    # "user999" and "user1000" agree; only tokens that interleave letters and digits are ids.
    if re.fullmatch(r"[A-Za-z]+\d+", token):
        return token
    return "<id>"


# Order matters: the wider shapes (UUIDs, timestamps, emails) must be folded before the numbers
# inside them are.
FOLD_RULES_V1: Sequence[FoldRule] = (
    (
        "quoted",
        # an opening quote not preceded by a letter, so "can't" is no quote
        re.compile(r"""(?<![A-Za-z0-9])'[^'\n]{0,256}'(?![A-Za-z0-9])|"[^"\n]{0,256}"|`[^`\n]{0,256}`"""),
        # one placeholder for any quote: Python's repr picks " or ' depending on the content
        "'<str>'",
    ),
    ("uuid", re.compile(_B + r"[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}" + _E), "<uuid>"),
    # starts only where a token starts, so a long run of word characters is scanned once
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (
        "timestamp",
        re.compile(
            _B + r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?" + _E,
            re.IGNORECASE,
        ),
        "<timestamp>",
    ),
    ("time", re.compile(_B + r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?" + _E), "<time>"),
    ("ipv4", re.compile(_B + r"(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?" + _E), "<ip>"),
    (
        "ipv6",
        # full form, or a compressed form with "::"; must hold a digit so "Foo::bar" stays
        re.compile(
            r"(?<![\w:])(?=[0-9a-fA-F:]*\d)(?:(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}"
            r"|(?:[0-9a-fA-F]{1,4}:){0,6}[0-9a-fA-F]{0,4}::(?:[0-9a-fA-F]{1,4}:){0,6}[0-9a-fA-F]{0,4})(?![\w:])"
        ),
        "<ip>",
    ),
    ("address", re.compile(_B + r"0[xX][0-9a-fA-F]+" + _E), "<hex>"),
    # Long tokens of letters and digits: hashes, object ids, API ids like "cus_3Jd9KpW20vTa".
    ("id", re.compile(_B + r"(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]{8,}" + _E), _mixed_id),
    # Any run of digits, also one glued to a word: "worker3" and "worker12" agree as "worker<int>".
    # Words like "utf8" fold too, the same way in every event, so no two events are split by it.
    ("number", re.compile(r"(?<![0-9])\d+(?:\.\d+)*"), "<int>"),
)

_SPACES = re.compile(r"\s+")


def fold_variables(text: str, rules: Sequence[FoldRule] = FOLD_RULES_V1, *, limit: int = 1024) -> str:
    """`text` with its variable parts replaced by placeholders and whitespace collapsed."""
    text = _SPACES.sub(" ", text[: limit * 4]).strip()
    for _name, pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    return text[:limit]
