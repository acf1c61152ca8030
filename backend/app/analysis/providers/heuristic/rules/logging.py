"""The rule for errors reported through logging: no exception, a logger, a level, a message (often from
a template such as `Failed to sync store %s after %d retries`) and the breadcrumbs before it.

It is tried last: a log line that names a known failure (a refused connection, a timeout) is read by
that failure's rule. What is left is explained from what the log call says about itself — the logger
(where the call is), the template (what every event of the issue shares), the level, what the wording
suggests and the last breadcrumbs — rather than answered "not recognised".
"""

from __future__ import annotations

import re
from typing import Any

from app.analysis.markdown import code_span
from app.analysis.providers.heuristic.registry import register
from app.analysis.providers.heuristic.rule import Evidence, Rule, Sig

LAST_CRUMBS = 3

# What the wording of a log template suggests, first match wins (searched case-insensitively).
HINTS: tuple[tuple[str, str], ...] = (
    (
        r"\bretr(?:y|ies|ied)\b|\battempts?\b|\bgave up\b|\bgiving up\b",
        "A retry loop gave up: the failure it kept retrying is the real error, and it was logged (if at "
        "all) before this line.",
    ),
    (
        r"\bfailed to\b|\bfailure\b|\bcould not\b|\bcouldn't\b|\bunable to\b|\bcannot\b|\berror while\b",
        "The code caught a failure and logged a message instead of raising it, so the original exception "
        "— and its stack trace — never reached Faultline.",
    ),
    (
        r"\bunexpected\b|\binvalid\b|\bunknown\b|\bmismatch\b|\bmissing\b|\bnot found\b",
        "The code met data it did not expect and logged it instead of rejecting it at the boundary.",
    ),
    (
        r"\bthreshold\b|\bexceed(?:s|ed)?\b|\bbacklog\b|\btoo (?:many|slow|large)\b|\busage\b",
        "A limit or health check the code watches was crossed: the message reports a state, not a crash.",
    ),
)

_PYTHON_MODULE = re.compile(r"^[a-z_][\w]*(?:\.[a-z_][\w]*)+$")
_JAVA_CLASS = re.compile(r"^(?:[a-z_]\w*\.)+(?P<cls>[A-Z]\w*)$")


def _crumb_line(crumb: dict[str, Any]) -> str:
    data = crumb.get("data") if isinstance(crumb.get("data"), dict) else {}
    text = crumb.get("message") or " ".join(
        str(part)
        for part in (data.get("method") or data.get("http.method"), data.get("url"), data.get("status_code"))
        if part
    )
    category = crumb.get("category") or crumb.get("type") or "default"
    return f"{category}: {text}" if text else str(category)


def _where_logged(ev: Evidence, logger: str) -> str | None:
    """The source file a logger name points at: Python's `__name__` loggers and Java's class loggers."""
    if ev.event.platform == "python" and _PYTHON_MODULE.match(logger):
        return logger.replace(".", "/") + ".py"
    match = _JAVA_CLASS.match(logger)
    if ev.event.platform == "java" and match:
        return match.group("cls") + ".java"
    return None


def _log_facts(ev: Evidence, facts: dict[str, str]) -> dict[str, str]:
    """The log call's own facts: level, template, where it is, what its wording suggests, the last
    breadcrumbs (newest first)."""
    event = ev.event
    template = (event.message_template or "").strip()
    derived = {
        "logger": event.logger or "",
        "level_word": {"fatal": "a fatal error", "warning": "a warning"}.get(event.level, "an error"),
    }
    if template and template != (event.message or "").strip():
        derived["template"] = template
    wording = template or event.message or ""
    derived["hint"] = next((hint for pattern, hint in HINTS if re.search(pattern, wording, re.I)), "")
    where = _where_logged(ev, event.logger or "")
    if where:
        derived["look_in"] = where
    crumbs = [c for c in event.breadcrumbs if isinstance(c, dict)][-LAST_CRUMBS:]
    if crumbs:
        listed = "; ".join(code_span(_crumb_line(c), 120) for c in reversed(crumbs))
        derived["crumbs_note"] = f"The last breadcrumbs before it, newest first: {listed}."
    derived["search_for"] = template or _first_words(event.message or "")
    return {name: value for name, value in derived.items() if value}


def _first_words(message: str) -> str:
    """The start of a formatted message, before its first number or quoted value (what a search for
    the log call can use)."""
    head = re.split(r"[\d'\"]", message.strip(), maxsplit=1)[0].strip()
    return head if len(head) >= 8 else message.strip()[:80]


register(
    Rule(
        id="logged-error",
        category="logged_error",
        severity="medium",
        confidence=0.4,
        match=(Sig(logger=r".", exception=False),),
        summary="Logger {logger} logged {level_word} (no exception was sent): {error}",
        root_cause=(
            "No exception reached Faultline: the application itself logged this message as "
            "{level_word} through the logger {logger}[[, from the template {template}, so every event of "
            "this issue is that one log call with different values]]. [[{hint} ]][[{crumbs_note} ]]The "
            "rule-based analyser cannot see why the code logged it; the code around the log call can."
        ),
        fix=(
            "1. Find the log call[[ in {look_in}]]: search the code for {search_for}, and read the branch "
            "that leads to it.\n"
            "2. If it logs a caught exception, log {log_with_exception}, so the next event carries the stack "
            "trace and the cause.\n"
            "3. If the message reports an expected condition, log it below error level (or count it as a "
            "metric) so it does not page anyone; otherwise fix the condition it reports."
        ),
        defaults={"logger": "the logger"},
        derive=_log_facts,
        trusted=frozenset({"level_word", "hint", "crumbs_note"}),
    ),
)
