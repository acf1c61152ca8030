"""build_provider: the analysis provider the settings ask for (heuristic, openai or anthropic).

Reads LLM_PROVIDER, LLM_BASE_URL, LLM_API_KEY, LLM_MODEL, LLM_TIMEOUT_S, LLM_MAX_TOKENS and
LLM_MAX_INPUT_TOKENS from any object with those attributes in lower case (the app's pydantic
Settings, or a SimpleNamespace in tests) or from a mapping.

`build_provider_or_fallback` is what the worker uses: an LLM provider that is chosen but not
configured (no model, or nothing to call: neither a base URL nor an API key) falls back to the
heuristic with a note saying why; settings that are present but unusable still raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.analysis.prompt import CHARS_PER_TOKEN, DEFAULT_MAX_INPUT_TOKENS, MIN_INPUT_CHARS
from app.analysis.providers.anthropic import AnthropicProvider
from app.analysis.providers.base import AnalysisProvider, PermanentProviderError
from app.analysis.providers.heuristic import HeuristicProvider
from app.analysis.providers.openai import OpenAIProvider

PROVIDERS = ("heuristic", "openai", "anthropic")
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_TOKENS = 1024
# Celery's soft time limit is 240 s; the LLM call must give up well before it.
MAX_TIMEOUT_S = 200.0


class ProviderConfigError(PermanentProviderError, ValueError):
    """The LLM settings cannot work (unknown provider, missing model, absurd limits)."""


def build_provider(settings: Any) -> AnalysisProvider:
    """The provider named by `llm_provider` (default heuristic), configured from the other llm_* settings."""
    choice = (_setting(settings, "llm_provider") or "heuristic").strip().lower()
    if choice == "heuristic":
        return HeuristicProvider()
    if choice not in PROVIDERS:
        raise ProviderConfigError(f"LLM_PROVIDER={choice!r} is not one of {', '.join(PROVIDERS)}")

    model = (_setting(settings, "llm_model") or "").strip()
    if not model:
        raise ProviderConfigError(f"LLM_PROVIDER={choice} needs LLM_MODEL (the model name the server serves)")
    timeout_s = _number(settings, "llm_timeout_s", DEFAULT_TIMEOUT_S)
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise ProviderConfigError(f"LLM_TIMEOUT_S must be in (0, {MAX_TIMEOUT_S:g}], got {timeout_s:g}")
    max_tokens = int(_number(settings, "llm_max_tokens", DEFAULT_MAX_TOKENS))
    max_input_chars = int(
        _number(settings, "llm_max_input_tokens", DEFAULT_MAX_INPUT_TOKENS) * CHARS_PER_TOKEN
    )
    if max_tokens <= 0:
        raise ProviderConfigError(f"LLM_MAX_TOKENS must be positive, got {max_tokens}")
    if max_input_chars < MIN_INPUT_CHARS:
        raise ProviderConfigError(
            f"LLM_MAX_INPUT_TOKENS must be at least {MIN_INPUT_CHARS // CHARS_PER_TOKEN}"
        )

    kwargs: dict[str, Any] = {
        "base_url": (_setting(settings, "llm_base_url") or "").strip() or None,
        "api_key": _secret(_setting(settings, "llm_api_key")),
        "model": model,
        "timeout_s": timeout_s,
        "max_tokens": max_tokens,
        "max_input_chars": max_input_chars,
    }
    try:
        if choice == "openai":
            return OpenAIProvider(**kwargs)
        return AnthropicProvider(**kwargs)
    except ValueError as exc:
        raise ProviderConfigError(str(exc)) from None


def missing_llm_settings(settings: Any) -> list[str]:
    """The settings a chosen LLM provider still lacks; empty for the heuristic or a complete setup."""
    choice = (_setting(settings, "llm_provider") or "heuristic").strip().lower()
    if choice not in ("openai", "anthropic"):
        return []
    missing = []
    if not str(_setting(settings, "llm_model") or "").strip():
        missing.append("LLM_MODEL")
    # Without a base URL the vendor's own API is called, which needs a key.
    if not str(_setting(settings, "llm_base_url") or "").strip() and not _secret(
        _setting(settings, "llm_api_key")
    ):
        missing.append("LLM_BASE_URL or LLM_API_KEY")
    return missing


def build_provider_or_fallback(settings: Any) -> tuple[AnalysisProvider, str | None]:
    """build_provider, or the heuristic plus a note when the chosen LLM provider is not configured."""
    missing = missing_llm_settings(settings)
    if not missing:
        return build_provider(settings), None
    choice = str(_setting(settings, "llm_provider")).strip().lower()
    note = (
        f"LLM_PROVIDER={choice} is not configured (missing {' and '.join(missing)}); "
        "analyses use the offline heuristic instead"
    )
    return HeuristicProvider(), note


def _setting(settings: Any, name: str) -> Any:
    if isinstance(settings, Mapping):
        return settings.get(name, settings.get(name.upper()))
    value = getattr(settings, name, None)
    return value if value is not None else getattr(settings, name.upper(), None)


def _number(settings: Any, name: str, default: float) -> float:
    value = _setting(settings, name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ProviderConfigError(f"{name.upper()} must be a number, got {value!r}") from None


def _secret(value: Any) -> str:
    """Plain strings and pydantic SecretStr alike."""
    if value is None:
        return ""
    getter = getattr(value, "get_secret_value", None)
    return str(getter() if callable(getter) else value)
