"""AnthropicProvider: the Anthropic Messages API (`POST {base_url}/v1/messages`), called with httpx.

Authentication is the `x-api-key` header with `anthropic-version: 2023-06-01`; the system prompt
goes in `system`, the event in one user message, temperature 0, `max_tokens` capped. Anthropic
answers 529 when overloaded (retryable) and 400/403 with a billing message when the credit balance
is gone (permanent); `transport.error_for_status` knows both.
"""

from __future__ import annotations

from typing import Any

from app.analysis.prompt import Prompt
from app.analysis.providers.base import PermanentProviderError, RetryableProviderError
from app.analysis.providers.transport import Completion, HTTPProvider, HTTPStatusFailure, as_int

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicProvider(HTTPProvider):
    """Messages API client; `base_url` is the host, e.g. https://api.anthropic.com (/v1 is dropped)."""

    name = "anthropic"
    default_base_url = "https://api.anthropic.com"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.base_url.endswith("/v1"):
            self.base_url = self.base_url[: -len("/v1")]

    def _complete(self, prompt: Prompt, deadline: float) -> Completion:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "x-api-key": self.api_key,
            "anthropic-version": ANTHROPIC_VERSION,
        }
        body = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "temperature": 0,
            "system": prompt.system,
            "messages": [{"role": "user", "content": prompt.user}],
        }
        try:
            data = self._post(f"{self.base_url}/v1/messages", headers, body, deadline)
        except HTTPStatusFailure as failure:
            raise self._error(failure) from None
        return self._parse(data)

    def _parse(self, data: dict[str, Any]) -> Completion:
        if data.get("type") == "error":
            err = data.get("error") if isinstance(data.get("error"), dict) else {}
            reason = f"anthropic: {err.get('type', 'error')}: {str(err.get('message', ''))[:200]}"
            if err.get("type") in ("overloaded_error", "api_error", "rate_limit_error"):
                raise RetryableProviderError(reason)
            raise PermanentProviderError(reason)
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise PermanentProviderError("anthropic: answer has no content")
        text = "".join(
            b["text"]
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        )
        stop = data.get("stop_reason")
        if not text and stop == "refusal":
            raise PermanentProviderError("anthropic: the model refused to answer")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        tokens_in = as_int(usage.get("input_tokens"))
        if tokens_in is not None:
            # Cached prompt tokens are billed too; count them as input.
            for key in ("cache_creation_input_tokens", "cache_read_input_tokens"):
                tokens_in += as_int(usage.get(key)) or 0
        model = data.get("model")
        return Completion(
            text=text,
            model=model if isinstance(model, str) and model else None,
            tokens_in=tokens_in,
            tokens_out=as_int(usage.get("output_tokens")),
            cut_off=stop == "max_tokens",
        )
