"""What the HTTP-based LLM providers share: the base class, one POST with a deadline, error mapping.

Providers never retry on their own (httpx does not either); they classify. Timeouts, connection
errors, 408, 429 and 5xx (with Anthropic's 529 "overloaded") become `RetryableProviderError`,
carrying the server's `Retry-After` when it sent one. A spend cap or exhausted quota (even one
sent with `Retry-After`), an invalid key, a wrong model name and every other 4xx become
`PermanentProviderError`: retrying them only costs money or time. Reasons are short, shown to
users, and never contain the API key.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from app.analysis.output import parse_model_output
from app.analysis.prompt import (
    DEFAULT_MAX_INPUT_CHARS,
    MIN_INPUT_CHARS,
    Prompt,
    build_prompt,
    estimate_tokens,
)
from app.analysis.providers.base import (
    AnalysisInput,
    PermanentProviderError,
    ProviderAnswer,
    ProviderError,
    RetryableProviderError,
)

USER_AGENT = "faultline/0.1 (+self-hosted error tracking)"
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
MAX_CONNECT_TIMEOUT_S = 10.0
_NOT_RETRYABLE_5XX = (501, 505)
# Words that mean "you are out of money or quota", not "slow down".
_SPEND_CAP_CODES = ("insufficient_quota", "billing_hard_limit_reached", "billing_not_active")
_SPEND_CAP_WORDS = ("billing", "credit", "quota", "spend limit", "spending limit")
_KEYLIKE = re.compile(r"\b(?:sk|pk|key|sess)-[A-Za-z0-9_\-*.]{4,}|Bearer\s+\S+", re.IGNORECASE)


class HTTPStatusFailure(Exception):
    """A non-2xx answer, kept whole so a provider can inspect it before it is mapped."""

    def __init__(self, status: int, headers: httpx.Headers, body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def post_json(
    url: str,
    *,
    headers: dict[str, str],
    body: dict[str, Any],
    deadline: float,
    label: str,
    secrets: tuple[str, ...] = (),
) -> dict[str, Any]:
    """POST `body` as JSON and return the parsed JSON answer.

    Raises RetryableProviderError / PermanentProviderError for transport failures and bad
    bodies, and HTTPStatusFailure for non-2xx answers (see `error_for_status`).
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise RetryableProviderError(f"{label}: timed out before the request was sent")
    timeout = httpx.Timeout(remaining, connect=min(remaining, MAX_CONNECT_TIMEOUT_S))
    try:
        with (
            httpx.Client(
                timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=False
            ) as client,
            client.stream("POST", url, json=body, headers=headers) as response,
        ):
            content = _read_bounded(response, deadline, label)
    except httpx.TimeoutException:
        raise RetryableProviderError(f"{label}: no answer within the {_fmt_s(remaining)} timeout") from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise PermanentProviderError(f"{label}: invalid base URL: {scrub(str(exc), secrets)}") from None
    except httpx.TransportError as exc:
        # ConnectError, ReadError, WriteError, RemoteProtocolError (server hung up), proxy errors.
        kind = type(exc).__name__
        raise RetryableProviderError(f"{label}: {kind}: {scrub(_short(str(exc)), secrets)}") from None
    except httpx.HTTPError as exc:  # e.g. DecodingError: a garbled body, likely from a proxy
        raise RetryableProviderError(
            f"{label}: {type(exc).__name__}: {scrub(_short(str(exc)), secrets)}"
        ) from None
    if not 200 <= response.status_code < 300:
        raise HTTPStatusFailure(response.status_code, response.headers, content)
    try:
        data = json.loads(content)
    except ValueError:
        raise PermanentProviderError(
            f"{label}: HTTP {response.status_code} answer is not JSON (is the base URL right?)"
        ) from None
    if not isinstance(data, dict):
        raise PermanentProviderError(f"{label}: HTTP {response.status_code} answer is not a JSON object")
    return data


def _read_bounded(response: httpx.Response, deadline: float, label: str) -> bytes:
    """The whole body, failing if it trickles past the deadline or grows absurdly large."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise PermanentProviderError(f"{label}: answer larger than {MAX_RESPONSE_BYTES} bytes")
        if time.monotonic() > deadline:
            raise RetryableProviderError(f"{label}: answer still arriving at the timeout")
        chunks.append(chunk)
    return b"".join(chunks)


def error_for_status(
    failure: HTTPStatusFailure, *, label: str, secrets: tuple[str, ...] = ()
) -> ProviderError:
    """Classify a non-2xx answer as retryable or permanent, with a short reason."""
    status = failure.status
    message = _short(scrub(error_message(failure), secrets))
    retry_after = parse_retry_after(failure.headers)
    detail = f": {message}" if message else ""

    if _is_spend_cap(failure):
        return PermanentProviderError(f"{label}: spend cap or quota exhausted (HTTP {status}){detail}")
    if status == 429:
        wait = f", retry after {_fmt_s(retry_after)}" if retry_after is not None else ""
        return RetryableProviderError(f"{label}: rate limited (HTTP 429){wait}{detail}", retry_after)
    if status == 408 or (status >= 500 and status not in _NOT_RETRYABLE_5XX):
        what = "overloaded" if status == 529 else "server error"
        return RetryableProviderError(f"{label}: {what} (HTTP {status}){detail}", retry_after)
    if 300 <= status < 400:
        where = scrub(_short(failure.headers.get("location", "?"), 120), secrets)
        return PermanentProviderError(f"{label}: redirected (HTTP {status}) to {where}, check LLM_BASE_URL")
    what = {
        400: "bad request",
        401: "authentication failed, check LLM_API_KEY",
        403: "permission denied",
        404: "not found, check LLM_BASE_URL and LLM_MODEL",
        413: "request too large",
        422: "request rejected",
    }.get(status, "request failed")
    return PermanentProviderError(f"{label}: {what} (HTTP {status}){detail}")


def error_message(failure: HTTPStatusFailure) -> str:
    """The human part of an error body (OpenAI and Anthropic nest it in `error.message`), unshortened."""
    data = failure.json()
    message: Any = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            message = err.get("message") or err.get("type") or err.get("code")
        elif isinstance(err, str):
            message = err
        message = message or data.get("message") or data.get("detail")
    if not isinstance(message, str):
        message = failure.text() if data is None else ""
        if message.lstrip().startswith("<"):
            message = ""  # an HTML error page says nothing useful in one line
    return message[:20_000]


def _error_codes(failure: HTTPStatusFailure) -> set[str]:
    data = failure.json()
    codes: set[str] = set()
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            codes.update(str(err.get(k)).lower() for k in ("code", "type") if err.get(k))
    return codes


def _is_spend_cap(failure: HTTPStatusFailure) -> bool:
    if not 400 <= failure.status < 500:
        return False
    if failure.status == 402 or _error_codes(failure) & set(_SPEND_CAP_CODES):
        return True
    text = failure.text()[:20_000].lower()
    # A quota is final even when the server sends Retry-After with it: retrying an exhausted
    # quota or spend limit can only add to the bill, and a wrongly worded per-minute limit
    # costs one failed analysis, which `reanalyse` recovers.
    return any(word in text for word in _SPEND_CAP_WORDS)


def parse_retry_after(headers: httpx.Headers, now: datetime | None = None) -> float | None:
    """Seconds to wait, from `retry-after-ms` (OpenAI) or `Retry-After` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove the API key (and anything shaped like a key or bearer token) from a reason."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _KEYLIKE.sub("[redacted]", text)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt_s(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds:.3g}s"


@dataclass(frozen=True)
class Completion:
    """The model's raw text answer and the accounting the server reported (None if it did not)."""

    text: str
    model: str | None
    tokens_in: int | None
    tokens_out: int | None
    cut_off: bool = False  # the server stopped at max_tokens


class HTTPProvider:
    """Common shape of the HTTP providers: explicit settings, prompt, one call, validated output."""

    name = "http"
    default_base_url = ""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str = "",
        model: str,
        timeout_s: float = 60.0,
        max_tokens: int = 1024,
        max_input_chars: int = DEFAULT_MAX_INPUT_CHARS,
    ) -> None:
        base_url = (base_url or self.default_base_url).strip()
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"{self.name}: base_url must start with http:// or https://, got {base_url!r}")
        if not model or not model.strip():
            raise ValueError(f"{self.name}: a model name is required")
        if timeout_s <= 0 or max_tokens <= 0:
            raise ValueError(f"{self.name}: timeout_s and max_tokens must be positive")
        if max_input_chars < MIN_INPUT_CHARS:
            raise ValueError(f"{self.name}: max_input_chars must be at least {MIN_INPUT_CHARS}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or ""
        self.model = model.strip()
        self.timeout_s = float(timeout_s)
        self.max_tokens = int(max_tokens)
        self.max_input_chars = int(max_input_chars)

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(base_url={self.base_url!r}, model={self.model!r})"

    @property
    def _secrets(self) -> tuple[str, ...]:
        return (self.api_key,) if self.api_key else ()

    def analyze(self, analysis_input: AnalysisInput) -> ProviderAnswer:
        """Build the prompt, call the model once (within `timeout_s`), validate its answer."""
        prompt = build_prompt(analysis_input, max_input_chars=self.max_input_chars)
        deadline = time.monotonic() + self.timeout_s
        completion = self._complete(prompt, deadline)
        try:
            result = parse_model_output(completion.text)
        except PermanentProviderError as exc:
            if completion.cut_off:
                raise PermanentProviderError(
                    f"{exc.reason} (the answer was cut off at max_tokens={self.max_tokens})"
                ) from None
            raise
        return ProviderAnswer(
            result=result,
            provider=self.name,
            model=completion.model or self.model,
            # Some local servers omit usage; an estimate beats a zero for per-project budgets.
            tokens_in=completion.tokens_in if completion.tokens_in is not None else prompt.approx_tokens,
            tokens_out=(
                completion.tokens_out
                if completion.tokens_out is not None
                else estimate_tokens(completion.text)
            ),
        )

    def _complete(self, prompt: Prompt, deadline: float) -> Completion:
        raise NotImplementedError

    def _post(
        self, url: str, headers: dict[str, str], body: dict[str, Any], deadline: float
    ) -> dict[str, Any]:
        """post_json with this provider's label and secrets; non-2xx raise HTTPStatusFailure."""
        return post_json(
            url, headers=headers, body=body, deadline=deadline, label=self.name, secrets=self._secrets
        )

    def _error(self, failure: HTTPStatusFailure) -> ProviderError:
        return error_for_status(failure, label=self.name, secrets=self._secrets)


def as_int(value: Any) -> int | None:
    """A usage counter from a JSON answer, or None when absent or not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)
