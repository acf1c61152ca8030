"""parse_model_output: what a model's text answer becomes, and what is refused."""

from __future__ import annotations

import json

import pytest

from app.analysis.output import parse_model_output
from app.analysis.providers.base import PermanentProviderError

GOOD = {
    "summary": "Checkout fails when the payment gateway times out.",
    "root_cause": "charge_card in shop/payments.py has no timeout on the gateway call.",
    "suggested_fix": "Pass timeout=10 to gateway.charge and retry idempotently.",
    "severity": "high",
    "category": "timeout",
    "confidence": 0.7,
}


def answer(**changes: object) -> str:
    data = {**GOOD, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not ...})


def test_plain_json_answer() -> None:
    result = parse_model_output(answer())

    assert result.model_dump() == GOOD


@pytest.mark.parametrize(
    "text",
    [
        f"```json\n{answer()}\n```",
        f"Sure! Here is the analysis:\n```\n{answer()}\n```\nHope that helps.",
        f"Here you go: {answer()} -- let me know if you need more.",
        f"<think>The user wants {{json}}. Maybe {{'a': 1}}?</think>\n{answer()}",
        json.dumps({"analysis": GOOD}),
    ],
)
def test_answer_wrapped_in_fences_prose_or_reasoning_is_extracted(text: str) -> None:
    assert parse_model_output(text).model_dump() == GOOD


@pytest.mark.parametrize(
    ("confidence", "expected"), [("0.8", 0.8), (80, 0.8), ("80%", 0.8), (1, 1.0), ("high", 0.8), (0, 0.0)]
)
def test_confidence_is_normalised(confidence: object, expected: float) -> None:
    assert parse_model_output(answer(confidence=confidence)).confidence == pytest.approx(expected)


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("HIGH", "high"),
        ("Critical", "critical"),
        ("error", "high"),
        ("major", "high"),
        ("warning", "medium"),
        ("minor", "low"),
        (" fatal ", "critical"),
    ],
)
def test_severity_synonyms_are_mapped(severity: str, expected: str) -> None:
    assert parse_model_output(answer(severity=severity)).severity == expected


def test_missing_category_becomes_unknown() -> None:
    assert parse_model_output(answer(category=...)).category == "unknown"


def test_overlong_fields_are_truncated() -> None:
    result = parse_model_output(answer(summary="s" * 5000, category="c" * 100))

    assert len(result.summary) == 2000 and result.summary.endswith("…")
    assert len(result.category) == 64


def test_camel_case_keys_and_a_list_of_steps_are_accepted() -> None:
    text = json.dumps(
        {
            "summary": GOOD["summary"],
            "rootCause": GOOD["root_cause"],
            "suggestedFix": ["Add a timeout", "Retry idempotently"],
            "severity": "high",
            "category": "timeout",
            "confidence": 0.7,
        }
    )

    result = parse_model_output(text)

    assert result.root_cause == GOOD["root_cause"]
    assert result.suggested_fix == "- Add a timeout\n- Retry idempotently"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("The database is down, restart it.", "no JSON object"),
        ('{"summary": "x", "severity": ', "no JSON object"),
        (answer(severity="banana"), "severity"),
        (answer(confidence=250), "confidence"),
        (answer(confidence=-0.1), "confidence"),
        (answer(confidence=True), "confidence"),
        (answer(summary=...), "missing summary"),
        (answer(root_cause="   "), "missing root_cause"),
        (answer(suggested_fix={"step": 1}), "missing suggested_fix"),
        ("[1, 2, 3]", "no JSON object"),
    ],
)
def test_invalid_answers_are_refused(text: str, why: str) -> None:
    with pytest.raises(PermanentProviderError) as info:
        parse_model_output(text)

    assert info.value.reason.startswith("model returned invalid output:")
    assert why in info.value.reason
