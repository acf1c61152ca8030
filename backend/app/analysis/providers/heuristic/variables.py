"""What the crash frame's local variables say: `prices = []` under a ZeroDivisionError, `config` holding
only `host` and `port` under a KeyError 'password', `user = None` under a null dereference.

SDKs send locals in their own forms: sentry-python as JSON with strings in repr (`"'abc'"`) and None as
null, @sentry/node with `"<undefined>"`, sentry-ruby as `inspect` strings (`"nil"`); all are read here.
Each explainer returns a markdown sentence (every event value in a code span) or None when the locals
do not explain the error; rules name theirs in `Rule.explain_locals`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from app.analysis.markdown import code_span
from app.events.model import Frame

# Given the crash frame and the raw facts of the rule, a sentence about its locals, or None.
Explain = Callable[[Frame, dict[str, str]], str | None]

_NULLISH = {"none", "null", "nil", "undefined", "<undefined>", "<null>", "nullptr"}
_ZERO = re.compile(r"^(?:-?0+(?:\.0+)?|Decimal\('-?0+(?:\.0+)?'\)|0[lLfFdDmM])$")
_EMPTY = {"[]", "{}", "()", "''", '""', "set()", "frozenset()", "array(0) {}", "[Array(0)]", "Array(0)"}
MAX_SHOWN = 4
VALUE_CHARS = 60


# JSON's null in the words of the languages that do not say null.
NULL_WORDS = {"Python": "None", "Ruby": "nil", "Go": "nil"}


def shown(name: str, value: Any, null: str = "null") -> str:
    """`name = value` as a code span, the value cut to a readable length; a JSON null as `null`."""
    if value is None:
        text = null
    else:
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    if len(text) > VALUE_CHARS:
        text = text[: VALUE_CHARS - 1] + "…"
    return code_span(f"{name} = {text}")


def is_nullish(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in _NULLISH)


def is_zero(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return value == 0
    return isinstance(value, str) and bool(_ZERO.match(value.strip()))


def is_empty(value: Any) -> bool:
    if isinstance(value, list | dict):
        return not value
    return isinstance(value, str) and value.strip() in _EMPTY


def keys_of(value: Any) -> list[str] | None:
    """The keys of a mapping sent as an object, or None when the value is not one."""
    if isinstance(value, dict):
        return [str(key) for key in value]
    return None


def used_on_the_line(frame: Frame) -> list[tuple[str, Any]]:
    """The frame's locals the crash line names, in the order it names them."""
    line = frame.context_line or ""
    used = [
        (match.start(), name, value)
        for name, value in frame.vars.items()
        if (match := re.search(rf"(?<![\w.$]){re.escape(str(name))}(?![\w$])", line))
    ]
    return [(name, value) for _, name, value in sorted(used, key=lambda item: item[0])]


def on_the_line(frame: Frame) -> list[tuple[str, Any]]:
    """The locals the crash line names; all of them when it names none."""
    return used_on_the_line(frame) or list(frame.vars.items())


def _first(frame: Frame, test: Callable[[Any], bool]) -> tuple[str, Any] | None:
    return next(((name, value) for name, value in on_the_line(frame) if test(value)), None)


def explain_zero(frame: Frame, facts: dict[str, str]) -> str | None:
    """A divisor of 0: a local that is 0, or an empty sequence whose length was taken."""
    found = _first(frame, is_zero)
    if found:
        return f"In the crash frame {shown(*found)}: that is the divisor."
    found = _first(frame, is_empty)
    if found:
        return (
            f"In the crash frame {shown(*found)}: it is empty, so its length (or sum) is 0 — that is the "
            "divisor."
        )
    return None


def explain_nullish(frame: Frame, facts: dict[str, str]) -> str | None:
    found = _first(frame, is_nullish)
    if not found:
        return None
    null = NULL_WORDS.get(facts.get("runtime", ""), "null")
    return f"In the crash frame {shown(*found, null=null)}: that is the value that was dereferenced."


def explain_missing_key(frame: Frame, facts: dict[str, str]) -> str | None:
    """The mapping that lacked the key: empty, or holding only other keys."""
    key = facts.get("key", "").strip("'\"")
    for name, value in on_the_line(frame):
        keys = keys_of(value)
        if keys is None or (key and key in keys):
            continue
        if not keys:
            return f"In the crash frame {code_span(str(name))} is empty, so no key can be found in it."
        listed = ", ".join(code_span(k) for k in keys[:8]) + (", …" if len(keys) > 8 else "")
        missing = f", not {code_span(key)}" if key else ""
        return f"In the crash frame {code_span(str(name))} holds only {listed}{missing}."
    return None


def explain_empty_sequence(frame: Frame, facts: dict[str, str]) -> str | None:
    found = _first(frame, is_empty)
    return f"In the crash frame {shown(*found)}: it is empty." if found else None


def line_variables(frame: Frame) -> str | None:
    """The generic sentence: the locals the crash line uses, for a reader to check."""
    used = used_on_the_line(frame)
    if not used:
        return None
    listed = ", ".join(shown(name, value) for name, value in used[:MAX_SHOWN])
    return f"Local variables on that line: {listed}."
