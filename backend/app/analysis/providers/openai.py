"""OpenAIProvider: any OpenAI-compatible chat server (OpenAI, Ollama, vLLM, llama.cpp, LM Studio, LiteLLM).

One `POST {base_url}/chat/completions` per analysis, with temperature 0 and a `max_tokens` cap.
We ask for `response_format: {"type": "json_object"}` but never rely on it: the answer is
parsed leniently and validated either way. Servers differ in what they accept, so a 400 that
names a parameter we can live without (LM Studio rejects `json_object`; OpenAI's reasoning models
want `max_completion_tokens` and only the default temperature) makes us resend once without it,
and remember that for later calls. That is compatibility, not a retry: the first request was
refused before any work was done.
"""

from __future__ import annotations

from typing import Any

from app.analysis.prompt import Prompt
from app.analysis.providers.base import PermanentProviderError
from app.analysis.providers.transport import (
    Completion,
    HTTPProvider,
    HTTPStatusFailure,
    as_int,
    error_message,
)


class OpenAIProvider(HTTPProvider):
    """Chat-completions client; `base_url` includes the API prefix, e.g. http://localhost:11434/v1."""

    name = "openai"
    default_base_url = "https://api.openai.com/v1"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._send_response_format = True
        self._send_temperature = True
        self._tokens_param = "max_tokens"

    def _body(self, prompt: Prompt) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
            self._tokens_param: self.max_tokens,
            "stream": False,
        }
        if self._send_temperature:
            body["temperature"] = 0
        if self._send_response_format:
            body["response_format"] = {"type": "json_object"}
        return body

    def _complete(self, prompt: Prompt, deadline: float) -> Completion:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:  # local servers (Ollama, llama.cpp) need none
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.base_url}/chat/completions"
        for _attempt in range(4):
            try:
                data = self._post(url, headers, self._body(prompt), deadline)
                break
            except HTTPStatusFailure as failure:
                if not self._downgrade(failure):
                    raise self._error(failure) from None
        else:  # pragma: no cover - each downgrade happens at most once, so the loop always breaks
            raise PermanentProviderError("openai: request refused after dropping optional parameters")
        return self._parse(data)

    def _downgrade(self, failure: HTTPStatusFailure) -> bool:
        """Drop or rename one optional parameter the server refused; False if none applies."""
        if failure.status not in (400, 422):
            return False
        message = error_message(failure).lower()
        if self._send_response_format and "response_format" in message:
            self._send_response_format = False
            return True
        if self._tokens_param == "max_tokens" and "max_completion_tokens" in message:
            self._tokens_param = "max_completion_tokens"
            return True
        if self._send_temperature and "temperature" in message:
            self._send_temperature = False
            return True
        return False

    def _parse(self, data: dict[str, Any]) -> Completion:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise PermanentProviderError("openai: answer has no choices")
        choice = choices[0]
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        finish = choice.get("finish_reason")
        text = _content_text(message.get("content"))
        if not text:
            if message.get("refusal"):
                raise PermanentProviderError(f"openai: the model refused: {str(message['refusal'])[:200]}")
            if finish == "content_filter":
                raise PermanentProviderError("openai: the answer was blocked by the content filter")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        model = data.get("model")
        return Completion(
            text=text,
            model=model if isinstance(model, str) and model else None,
            tokens_in=as_int(usage.get("prompt_tokens")),
            tokens_out=as_int(usage.get("completion_tokens")),
            cut_off=finish == "length",
        )


def _content_text(content: Any) -> str:
    """Message content as text; some servers send a list of typed parts instead of a string."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""
