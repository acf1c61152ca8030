"""The LLM and redaction settings: provider fallback, empty LLM_PROVIDER, REDACT_EXTRA_* wiring."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from app.analysis.providers.factory import ProviderConfigError, build_provider_or_fallback
from app.analysis.providers.heuristic import HeuristicProvider
from app.analysis.providers.openai import OpenAIProvider
from app.config import Settings, get_settings
from app.events.model import NormalizedEvent
from app.privacy import redact_event, redact_text, redact_value
from app.privacy.redact import get_redactor


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({"llm_provider": "openai"}, "LLM_MODEL and LLM_BASE_URL or LLM_API_KEY"),
        ({"llm_provider": "openai", "llm_api_key": "sk-x1"}, "LLM_MODEL"),
        ({"llm_provider": "anthropic", "llm_model": "claude-x"}, "LLM_BASE_URL or LLM_API_KEY"),
    ],
)
def test_an_unconfigured_llm_provider_falls_back_to_the_heuristic_with_a_note(
    settings: dict, missing: str
) -> None:
    provider, note = build_provider_or_fallback(SimpleNamespace(**settings))

    assert isinstance(provider, HeuristicProvider)
    assert note == (
        f"LLM_PROVIDER={settings['llm_provider']} is not configured (missing {missing}); "
        "analyses use the offline heuristic instead"
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"llm_provider": "openai", "llm_model": "llama3", "llm_base_url": "http://127.0.0.1:11434/v1"},
        {"llm_provider": "openai", "llm_model": "gpt-x", "llm_api_key": "sk-x1"},
    ],
)
def test_a_configured_llm_provider_is_used_without_a_note(settings: dict) -> None:
    provider, note = build_provider_or_fallback(SimpleNamespace(**settings))

    assert isinstance(provider, OpenAIProvider) and note is None


def test_present_but_unusable_settings_are_an_error_not_a_fallback() -> None:
    settings = SimpleNamespace(llm_provider="openai", llm_model="m", llm_api_key="k", llm_timeout_s=240)

    with pytest.raises(ProviderConfigError, match="LLM_TIMEOUT_S"):
        build_provider_or_fallback(settings)


@pytest.mark.parametrize(
    ("value", "expected"), [("", "heuristic"), ("  ", "heuristic"), (" Anthropic ", "anthropic")]
)
def test_llm_provider_setting_is_trimmed_and_empty_means_heuristic(
    value: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_PROVIDER", value)

    assert Settings().llm_provider == expected


def test_llm_provider_setting_refuses_unknown_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "gemini")

    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("patterns", "fields"),
    [
        (r"ACME-\d{6},TKT#\d+", "tenant_code, shard-key"),
        (r'["ACME-\\d{6}", "TKT#\\d+"]', '["tenant_code", "shard-key"]'),
    ],
)
def test_redact_extra_settings_reach_the_default_redactor(
    patterns: str, fields: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert redact_text("order ACME-123456") == "order ACME-123456"  # built-in rules only
    monkeypatch.setenv("REDACT_EXTRA_PATTERNS", patterns)
    monkeypatch.setenv("REDACT_EXTRA_FIELDS", fields)
    get_settings.cache_clear()

    assert redact_text("order ACME-123456 via TKT#77") == "order [Filtered] via [Filtered]"
    assert redact_value({"tenant_code": "north-7", "Shard_Key": "s1", "plan": "pro"}) == {
        "tenant_code": "[Filtered]",
        "Shard_Key": "[Filtered]",
        "plan": "pro",
    }
    assert get_redactor() is get_redactor()  # built once per settings, not per call


def test_redact_extra_settings_apply_to_whole_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDACT_EXTRA_PATTERNS", r"ACME-\d{6}")
    get_settings.cache_clear()
    event = NormalizedEvent(
        event_id="0" * 32, timestamp=datetime(2024, 1, 1, tzinfo=UTC), message="refund ACME-654321 failed"
    )

    assert redact_event(event).message == "refund [Filtered] failed"


def test_an_invalid_extra_pattern_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDACT_EXTRA_PATTERNS", "ACME-(")

    with pytest.raises(ValidationError, match="REDACT_EXTRA_PATTERNS"):
        Settings()
