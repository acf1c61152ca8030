"""Turning a model's text answer into a validated `AnalysisResult`, shared by every LLM provider.

Models asked for "only JSON" still wrap it in ```json fences, open with a sentence, append a
remark, emit a `<think>` block first, say "80" for a confidence or "Major" for a severity. We
accept those mild deviations and repair them; anything that still does not fit the schema raises
`PermanentProviderError` so that garbage is never stored. Keys the schema does not know are
dropped.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import ValidationError

from app.analysis.providers.base import AnalysisResult, PermanentProviderError

MAX_SCANNED_CHARS = 64_000
MAX_CANDIDATES = 200

_ALIASES = {
    "summary": "summary",
    "root_cause": "root_cause",
    "probable_root_cause": "root_cause",
    "rootcause": "root_cause",
    "cause": "root_cause",
    "suggested_fix": "suggested_fix",
    "fix": "suggested_fix",
    "suggestion": "suggested_fix",
    "recommended_fix": "suggested_fix",
    "remediation": "suggested_fix",
    "severity": "severity",
    "category": "category",
    "error_category": "category",
    "confidence": "confidence",
    "confidence_score": "confidence",
}
_SEVERITY_SYNONYMS = {
    "critical": "critical",
    "fatal": "critical",
    "blocker": "critical",
    "severe": "critical",
    "emergency": "critical",
    "high": "high",
    "major": "high",
    "error": "high",
    "urgent": "high",
    "important": "high",
    "medium": "medium",
    "moderate": "medium",
    "warning": "medium",
    "warn": "medium",
    "normal": "medium",
    "low": "low",
    "minor": "low",
    "info": "low",
    "informational": "low",
    "trivial": "low",
    "debug": "low",
}
_CONFIDENCE_WORDS = {
    "very high": 0.9,
    "high": 0.8,
    "medium": 0.5,
    "moderate": 0.5,
    "low": 0.3,
    "very low": 0.1,
}
_TEXT_LIMITS = {"summary": 2000, "root_cause": 4000, "suggested_fix": 4000, "category": 64}

_THINK_BLOCK = re.compile(r"<think(?:ing)?>.*?</think(?:ing)?>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[a-zA-Z]*\s*(.*?)```", re.DOTALL)


def parse_model_output(text: str | None) -> AnalysisResult:
    """Extract, repair and validate the JSON answer in `text`; raise PermanentProviderError if impossible."""
    data = extract_json_object(text or "")
    return coerce_result(data)


def extract_json_object(text: str) -> dict[str, Any]:
    """The answer object in a model's text: tolerates fences, prose around it and reasoning blocks."""
    text = _THINK_BLOCK.sub("", text[:MAX_SCANNED_CHARS]).strip().lstrip("\ufeff")
    if not text:
        raise _invalid("empty answer")
    candidates: list[dict[str, Any]] = []
    for chunk in [*_FENCE.findall(text), text]:
        candidates.extend(_objects_in(chunk.strip()))
    if not candidates:
        raise _invalid(f"no JSON object in the answer: {_snippet(text)}")
    # Prefer the object that looks most like an answer; earliest wins a tie.
    best = max(candidates, key=lambda obj: len(_known_keys(_unwrap(obj))))
    return _unwrap(best)


def coerce_result(data: dict[str, Any]) -> AnalysisResult:
    """Map aliases, repair mild type and vocabulary slips, and validate against AnalysisResult."""
    fields = _canonical_fields(data)
    problems: list[str] = []
    repaired: dict[str, Any] = {}

    for name in ("summary", "root_cause", "suggested_fix", "category"):
        value = _as_text(fields.get(name))
        if value is None:
            if name == "category":
                value = "unknown"
            else:
                problems.append(f"missing {name}")
                continue
        repaired[name] = _fit(value, _TEXT_LIMITS[name])

    severity = fields.get("severity")
    normalized = _SEVERITY_SYNONYMS.get(str(severity).strip().lower()) if isinstance(severity, str) else None
    if normalized is None:
        problems.append(f"severity {_snippet(severity, 40)!s} is not critical/high/medium/low")
    else:
        repaired["severity"] = normalized

    confidence = _as_confidence(fields.get("confidence"))
    if confidence is None:
        problems.append(f"confidence {_snippet(fields.get('confidence'), 40)!s} is not a number in 0..1")
    else:
        repaired["confidence"] = confidence

    if problems:
        raise _invalid("; ".join(problems))
    try:
        return AnalysisResult.model_validate(repaired)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise _invalid(reasons) from None


def _objects_in(text: str) -> list[dict[str, Any]]:
    """Every JSON object that parses starting at a `{` in `text` (bounded work)."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    start = text.find("{")
    tried = 0
    while start != -1 and tried < MAX_CANDIDATES:
        tried += 1
        try:
            obj, end = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        if isinstance(obj, dict):
            found.append(obj)
        start = text.find("{", end)
    return found


def _normal_key(key: str) -> str:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key.strip())
    return re.sub(r"[\s\-]+", "_", snake).lower()


def _known_keys(obj: dict[str, Any]) -> set[str]:
    return {_ALIASES[k] for k in (_normal_key(str(key)) for key in obj) if k in _ALIASES}


def _unwrap(obj: dict[str, Any]) -> dict[str, Any]:
    """`{"analysis": {...}}` and similar single-key wrappers around the real answer."""
    if not _known_keys(obj) and len(obj) == 1:
        inner = next(iter(obj.values()))
        if isinstance(inner, dict):
            return inner
    return obj


def _canonical_fields(data: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in data.items():
        normal = _normal_key(str(key))
        canonical = _ALIASES.get(normal)
        # An exact field name beats an alias for the same field.
        if canonical and (canonical not in fields or normal == canonical):
            fields[canonical] = value
    return fields


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and value and all(isinstance(v, str | int | float) for v in value):
        # Models like to answer a fix as a list of steps.
        return "\n".join(f"- {str(v).strip()}" for v in value if str(v).strip()) or None
    return None


def _as_confidence(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    number: float | None = None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in _CONFIDENCE_WORDS:
            return _CONFIDENCE_WORDS[text]
        percent = text.endswith("%")
        try:
            number = float(text.rstrip("%").strip())
        except ValueError:
            return None
        if percent:
            number /= 100
    if number is None or math.isnan(number) or number < 0:
        return None
    if number <= 1:
        return number
    if number <= 100:  # "80" meaning 80 %
        return number / 100
    return None


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _snippet(value: Any, limit: int = 120) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _invalid(reason: str) -> PermanentProviderError:
    return PermanentProviderError(f"model returned invalid output: {_snippet(reason, 300)}")


__all__ = ["coerce_result", "extract_json_object", "parse_model_output"]
