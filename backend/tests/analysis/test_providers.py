"""OpenAIProvider and AnthropicProvider against the fake LLM server: real sockets, real httpx."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace

import pytest

from app.analysis.prompt import CHARS_PER_TOKEN, CLOSE_TAG, OPEN_TAG
from app.analysis.providers.anthropic import AnthropicProvider
from app.analysis.providers.base import (
    AnalysisInput,
    AnalysisResult,
    PermanentProviderError,
    RetryableProviderError,
)
from app.analysis.providers.factory import ProviderConfigError, build_provider
from app.analysis.providers.openai import OpenAIProvider
from app.analysis.providers.transport import HTTPProvider
from app.events.model import ExceptionInfo, Frame, NormalizedEvent
from tests.fake_llm import fixtures
from tests.fake_llm.server import DEFAULT_ANSWER, FakeLLMProcess, FakeLLMServer

# Until the suite's conftest registers them for every test, this module uses them directly.
fake_llm_server = fixtures.fake_llm_server
fake_llm = fixtures.fake_llm

API_KEY = "sk-test-7f3a9c1e5b2d4a6f8e0c"
APIS = ["openai", "anthropic"]


def make_input(value: str = "'user_id'", context_line: str = "    return row['user_id']") -> AnalysisInput:
    frames = [
        Frame(filename="flask/app.py", function="dispatch_request", lineno=880, in_app=False),
        Frame(
            filename="shop/views.py",
            function="get_user",
            lineno=42,
            in_app=True,
            pre_context=["def get_user(uid):", "    row = db.fetch(uid)"],
            context_line=context_line,
            post_context=[""],
        ),
    ]
    event = NormalizedEvent(
        event_id="0" * 32,
        timestamp=datetime(2024, 1, 15, 12, 0, tzinfo=UTC),
        platform="python",
        exceptions=[ExceptionInfo(type="KeyError", value=value, frames=frames)],
        status_code=500,
        request={"method": "GET", "url": "http://shop.local/api/users/7"},
    )
    return AnalysisInput(event=event, issue_title=f"KeyError: {value[:50]}", times_seen=3)


def make_provider(api: str, server: FakeLLMServer, **overrides: object) -> HTTPProvider:
    settings: dict = {"api_key": API_KEY, "model": "test-model", "timeout_s": 5.0, "max_tokens": 512}
    settings.update(overrides)
    if api == "openai":
        return OpenAIProvider(base_url=server.openai_base_url, **settings)
    return AnthropicProvider(base_url=server.anthropic_base_url, **settings)


def sent_messages(server: FakeLLMServer, index: int = -1) -> tuple[str, str]:
    """(system, user) text of a recorded request, whichever API it used."""
    body = server.requests[index].body
    if "system" in body:
        return body["system"], body["messages"][0]["content"]
    return body["messages"][0]["content"], body["messages"][1]["content"]


@pytest.mark.parametrize("api", APIS)
def test_good_answer_is_validated_with_server_model_and_usage(api: str, fake_llm: FakeLLMServer) -> None:
    fake_llm.script({"kind": "good", "tokens_in": 1234, "tokens_out": 56})

    answer = make_provider(api, fake_llm).analyze(make_input())

    assert answer.result == AnalysisResult(**DEFAULT_ANSWER)
    assert answer.provider == api
    assert answer.model == "test-model-fake"  # what the server reports, not what we configured
    assert (answer.tokens_in, answer.tokens_out) == (1234, 56)
    assert fake_llm.call_count == 1


def test_openai_request_shape(fake_llm: FakeLLMServer) -> None:
    make_provider("openai", fake_llm).analyze(make_input())

    request = fake_llm.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = request.body
    assert body["model"] == "test-model"
    assert body["temperature"] == 0
    assert body["max_tokens"] == 512
    assert body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_openai_without_api_key_sends_no_authorization(fake_llm: FakeLLMServer) -> None:
    make_provider("openai", fake_llm, api_key="").analyze(make_input())

    assert "authorization" not in fake_llm.requests[0].headers


def test_anthropic_request_shape(fake_llm: FakeLLMServer) -> None:
    make_provider("anthropic", fake_llm).analyze(make_input())

    request = fake_llm.requests[0]
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == API_KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    body = request.body
    assert body["model"] == "test-model"
    assert body["max_tokens"] == 512
    assert "JSON object" in body["system"]
    assert [m["role"] for m in body["messages"]] == ["user"]


def test_anthropic_base_url_with_v1_suffix_still_hits_messages(fake_llm: FakeLLMServer) -> None:
    provider = AnthropicProvider(base_url=fake_llm.url + "/v1/", api_key=API_KEY, model="m")

    provider.analyze(make_input())

    assert fake_llm.requests[0].path == "/v1/messages"


@pytest.mark.parametrize("api", APIS)
def test_event_text_reaches_the_model_only_inside_the_delimiters(api: str, fake_llm: FakeLLMServer) -> None:
    make_provider(api, fake_llm).analyze(make_input(value="'tenant_42_marker'"))

    system, user = sent_messages(fake_llm)
    start, end = user.index(OPEN_TAG), user.index(CLOSE_TAG)
    assert start < user.index("tenant_42_marker") < end
    assert "tenant_42_marker" not in system
    assert "GET /api/users/7 -> HTTP 500" in user[start:end]


@pytest.mark.parametrize("api", APIS)
def test_five_megabyte_stack_is_sent_within_the_input_budget(api: str, fake_llm: FakeLLMServer) -> None:
    huge = "frame data " * 500_000  # ~5.5 MB
    provider = make_provider(api, fake_llm, max_input_chars=6000 * CHARS_PER_TOKEN)

    provider.analyze(make_input(value="pool exhausted " + huge, context_line=huge))

    system, user = sent_messages(fake_llm)
    assert len(system) + len(user) <= 6000 * CHARS_PER_TOKEN
    assert "KeyError: pool exhausted" in user


@pytest.mark.parametrize("api", APIS)
def test_malformed_answer_is_permanent(api: str, fake_llm: FakeLLMServer) -> None:
    fake_llm.script("malformed")

    with pytest.raises(PermanentProviderError) as info:
        make_provider(api, fake_llm).analyze(make_input())

    assert info.value.reason.startswith("model returned invalid output:")


@pytest.mark.parametrize("api", APIS)
def test_fenced_answer_with_prose_is_repaired(api: str, fake_llm: FakeLLMServer) -> None:
    fake_llm.script("fenced")

    answer = make_provider(api, fake_llm).analyze(make_input())

    assert answer.result == AnalysisResult(**DEFAULT_ANSWER)


@pytest.mark.parametrize("api", APIS)
def test_extra_keys_do_not_change_the_output_schema(api: str, fake_llm: FakeLLMServer) -> None:
    fake_llm.script("extra_keys")

    answer = make_provider(api, fake_llm).analyze(make_input())

    assert set(answer.result.model_dump()) == {
        "summary",
        "root_cause",
        "suggested_fix",
        "severity",
        "category",
        "confidence",
    }
    assert answer.result == AnalysisResult(**DEFAULT_ANSWER)


@pytest.mark.parametrize("api", APIS)
def test_mild_slips_in_the_answer_are_repaired(api: str, fake_llm: FakeLLMServer) -> None:
    fake_llm.script({"kind": "good", "answer": {"severity": "Major", "confidence": "80", "category": None}})

    result = make_provider(api, fake_llm).analyze(make_input()).result

    assert (result.severity, result.confidence, result.category) == ("high", 0.8, "unknown")


@pytest.mark.parametrize("api", APIS)
def test_rate_limit_is_retryable_with_retry_after_seconds(api: str, fake_llm: FakeLLMServer) -> None:
    fake_llm.script({"kind": "rate_limit", "retry_after": "7"})

    with pytest.raises(RetryableProviderError) as info:
        make_provider(api, fake_llm).analyze(make_input())

    assert info.value.retry_after_s == 7.0
    assert "429" in info.value.reason


def test_rate_limit_retry_after_as_http_date(fake_llm: FakeLLMServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    fake_llm.script({"kind": "rate_limit", "retry_after": when})

    with pytest.raises(RetryableProviderError) as info:
        make_provider("openai", fake_llm).analyze(make_input())

    assert info.value.retry_after_s is not None
    assert 100 <= info.value.retry_after_s <= 120


def test_rate_limit_retry_after_ms_wins(fake_llm: FakeLLMServer) -> None:
    fake_llm.script({"kind": "rate_limit", "retry_after": "20", "retry_after_ms": "1500"})

    with pytest.raises(RetryableProviderError) as info:
        make_provider("openai", fake_llm).analyze(make_input())

    assert info.value.retry_after_s == 1.5


def test_rate_limit_without_header_has_no_retry_after(fake_llm: FakeLLMServer) -> None:
    fake_llm.script({"kind": "rate_limit", "retry_after": None})

    with pytest.raises(RetryableProviderError) as info:
        make_provider("anthropic", fake_llm).analyze(make_input())

    assert info.value.retry_after_s is None


@pytest.mark.parametrize("api", APIS)
def test_spend_cap_is_permanent(api: str, fake_llm: FakeLLMServer) -> None:
    fake_llm.script("quota")

    with pytest.raises(PermanentProviderError) as info:
        make_provider(api, fake_llm).analyze(make_input())

    assert "quota" in info.value.reason


@pytest.mark.parametrize("headers", [{"Retry-After": "30"}, {}])
def test_quota_429_is_final_even_with_retry_after(headers: dict, fake_llm: FakeLLMServer) -> None:
    # Retrying a quota can only add to the bill, whatever the server says about coming back.
    body = {"error": {"message": "Quota exceeded for metric: requests per minute", "code": 429}}
    fake_llm.script({"kind": "status", "status": 429, "body": body, "headers": headers})

    with pytest.raises(PermanentProviderError) as info:
        make_provider("openai", fake_llm).analyze(make_input())

    assert "quota" in info.value.reason


def test_redirect_is_permanent_and_points_at_the_base_url(fake_llm: FakeLLMServer) -> None:
    fake_llm.script(
        {"kind": "status", "status": 301, "body": {}, "headers": {"Location": "https://llm.example/v1"}}
    )

    with pytest.raises(PermanentProviderError) as info:
        make_provider("openai", fake_llm).analyze(make_input())

    assert "https://llm.example/v1" in info.value.reason and "LLM_BASE_URL" in info.value.reason


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("behaviour", "status"),
    [
        ({"kind": "server_error"}, 500),
        ({"kind": "server_error", "status": 503}, 503),
        ({"kind": "overloaded"}, 529),
    ],
)
def test_server_errors_are_retryable(api: str, behaviour: dict, status: int, fake_llm: FakeLLMServer) -> None:
    fake_llm.script(behaviour)

    with pytest.raises(RetryableProviderError) as info:
        make_provider(api, fake_llm).analyze(make_input())

    assert f"HTTP {status}" in info.value.reason


@pytest.mark.parametrize("api", APIS)
def test_hang_past_timeout_is_retryable_quickly(api: str, fake_llm: FakeLLMServer) -> None:
    fake_llm.script({"kind": "hang", "seconds": 10})  # then it would answer well: only our timeout fails it

    with pytest.raises(RetryableProviderError) as info:
        make_provider(api, fake_llm, timeout_s=0.5).analyze(make_input())

    assert "no answer within the 0.5s timeout" in info.value.reason


@pytest.mark.parametrize("api", APIS)
def test_unauthorized_is_permanent_and_never_shows_the_key(api: str, fake_llm: FakeLLMServer) -> None:
    fake_llm.script("unauthorized")  # the fake echoes the key back in its message, as OpenAI does

    with pytest.raises(PermanentProviderError) as info:
        make_provider(api, fake_llm).analyze(make_input())

    assert "401" in info.value.reason
    assert API_KEY not in info.value.reason
    assert API_KEY[:12] not in str(info.value)


@pytest.mark.parametrize("api", APIS)
def test_not_found_is_permanent(api: str, fake_llm: FakeLLMServer) -> None:
    fake_llm.script(
        {"kind": "status", "status": 404, "body": {"error": {"message": "model 'nope' not found"}}}
    )

    with pytest.raises(PermanentProviderError) as info:
        make_provider(api, fake_llm).analyze(make_input())

    assert "HTTP 404" in info.value.reason
    assert "model 'nope' not found" in info.value.reason


@pytest.mark.parametrize("api", APIS)
def test_dropped_connection_is_retryable(api: str, fake_llm: FakeLLMServer) -> None:
    fake_llm.script("disconnect")

    with pytest.raises(RetryableProviderError):
        make_provider(api, fake_llm).analyze(make_input())


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = OpenAIProvider(base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout_s=2)

    with pytest.raises(RetryableProviderError) as info:
        provider.analyze(make_input())

    assert "ConnectError" in info.value.reason


def test_server_refusing_json_mode_gets_a_request_without_it(fake_llm: FakeLLMServer) -> None:
    # LM Studio answers 400 to response_format json_object; the answer is parsed anyway.
    fake_llm.script("reject_response_format", "reject_response_format")
    provider = make_provider("openai", fake_llm)

    first = provider.analyze(make_input())
    provider.analyze(make_input())

    assert first.result == AnalysisResult(**DEFAULT_ANSWER)
    sent = [r.body for r in fake_llm.requests]
    assert "response_format" in sent[0]
    assert "response_format" not in sent[1]
    assert len(sent) == 3 and "response_format" not in sent[2]  # remembered, not rediscovered


def test_reasoning_model_parameter_rename(fake_llm: FakeLLMServer) -> None:
    message = (
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens'."
    )
    fake_llm.script(
        {"kind": "status", "status": 400, "body": {"error": {"message": message, "param": "max_tokens"}}}
    )

    make_provider("openai", fake_llm).analyze(make_input())

    retried = fake_llm.requests[1].body
    assert retried["max_completion_tokens"] == 512
    assert "max_tokens" not in retried


def test_answer_without_model_or_usage_falls_back_to_config_and_estimates(fake_llm: FakeLLMServer) -> None:
    body = {"choices": [{"message": {"role": "assistant", "content": json.dumps(DEFAULT_ANSWER)}}]}
    fake_llm.script({"kind": "status", "status": 200, "body": body})

    answer = make_provider("openai", fake_llm).analyze(make_input())

    assert answer.model == "test-model"
    assert answer.tokens_in > 100 and answer.tokens_out > 10


@pytest.mark.parametrize("api", APIS)
def test_answer_cut_off_at_max_tokens_says_so(api: str, fake_llm: FakeLLMServer) -> None:
    stop = {"finish_reason": "length"} if api == "openai" else {"stop_reason": "max_tokens"}
    fake_llm.script({"kind": "text", "content": '{"summary": "The pool is exh', **stop})

    with pytest.raises(PermanentProviderError) as info:
        make_provider(api, fake_llm).analyze(make_input())

    assert "max_tokens=512" in info.value.reason


def test_non_json_success_body_is_permanent(fake_llm: FakeLLMServer) -> None:
    fake_llm.script({"kind": "status", "status": 200, "body": "<html>LM Studio UI</html>"})

    with pytest.raises(PermanentProviderError) as info:
        make_provider("openai", fake_llm).analyze(make_input())

    assert "not JSON" in info.value.reason


def test_provider_repr_hides_the_key(fake_llm: FakeLLMServer) -> None:
    assert API_KEY not in repr(make_provider("openai", fake_llm))


def test_standalone_fake_server_is_driven_over_the_control_api() -> None:
    # What the Celery worker and the benchmark see: a separate process with a fixed latency.
    with FakeLLMProcess(latency_s=0.3) as fake:
        fake.script("overloaded")
        provider = OpenAIProvider(base_url=fake.openai_base_url, api_key=API_KEY, model="m", timeout_s=5)

        with pytest.raises(RetryableProviderError):
            provider.analyze(make_input())
        started = time.monotonic()
        answer = provider.analyze(make_input())
        elapsed = time.monotonic() - started

        assert answer.result == AnalysisResult(**DEFAULT_ANSWER)
        assert elapsed >= 0.3
        assert fake.call_count() == 2
        assert "'user_id'" in fake.requests()[1]["body"]["messages"][1]["content"]
        fake.reset()
        assert fake.call_count() == 0


# --- build_provider --------------------------------------------------------------------------


@pytest.mark.parametrize(("choice", "cls"), [("openai", OpenAIProvider), ("anthropic", AnthropicProvider)])
def test_build_provider_from_plain_settings_object(choice: str, cls: type, fake_llm: FakeLLMServer) -> None:
    settings = SimpleNamespace(
        llm_provider=choice.upper(),
        llm_base_url=fake_llm.openai_base_url if choice == "openai" else fake_llm.anthropic_base_url,
        llm_api_key=API_KEY,
        llm_model="served-model",
        llm_timeout_s=30,
        llm_max_tokens=256,
        llm_max_input_tokens=2000,
    )

    provider = build_provider(settings)
    answer = provider.analyze(make_input())

    assert isinstance(provider, cls)
    assert (provider.timeout_s, provider.max_tokens, provider.max_input_chars) == (30.0, 256, 8000)
    assert answer.provider == choice and answer.model == "served-model-fake"
    system, user = sent_messages(fake_llm)
    assert len(system) + len(user) <= 8000


def test_build_provider_defaults() -> None:
    provider = build_provider(SimpleNamespace(llm_provider="openai", llm_model="gpt-x"))

    assert isinstance(provider, OpenAIProvider)
    assert provider.base_url == "https://api.openai.com/v1"
    assert (provider.timeout_s, provider.max_tokens, provider.max_input_chars) == (60.0, 1024, 24000)


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"llm_provider": "gemini"}, "LLM_PROVIDER"),
        ({"llm_provider": "openai"}, "LLM_MODEL"),
        ({"llm_provider": "anthropic", "llm_model": "m", "llm_timeout_s": 300}, "LLM_TIMEOUT_S"),
        ({"llm_provider": "openai", "llm_model": "m", "llm_base_url": "localhost:11434"}, "http"),
        ({"llm_provider": "openai", "llm_model": "m", "llm_max_input_tokens": 10}, "LLM_MAX_INPUT_TOKENS"),
    ],
)
def test_build_provider_rejects_unworkable_settings(settings: dict, complaint: str) -> None:
    with pytest.raises(ProviderConfigError) as info:
        build_provider(SimpleNamespace(**settings))

    assert complaint in info.value.reason
