"""Advice in the terms of the platform: the phrases rule templates use where the right words depend on
where the code ran (`platform.Runtime`).

Each phrase is looked up from the most specific key to the least (`python+request`, `python`, `request`,
`*`), so a rule says "answer 400/422" to a server handling a request, "reject the record" to a job and
"show a message" to a page, and names each language's own idiom. Every phrase is our own text (trusted
markdown); templates use them as `{advice_name}`.
"""

from __future__ import annotations

from app.analysis.providers.heuristic.platform import Runtime

ADVICE: dict[str, dict[str, str]] = {
    # What to do with input that is wrong (a missing field, a bad number, unparsable JSON).
    "reject_input": {
        "request": "answer 400/422 naming the offending field instead of a 500",
        "job": (
            "reject the record with a clear error (log it and skip it, or move it to a dead-letter queue) "
            "instead of failing the whole job"
        ),
        "browser": (
            "show the user what is wrong next to the field (or an error state) instead of throwing, and "
            "validate the form before it is sent"
        ),
        "*": "reject it with a clear error message",
    },
    # What to do when a lookup legitimately finds nothing.
    "missing_answer": {
        "request": "a 404 or validation error when a record is missing, or a default — instead of a 500",
        "job": "skip or report the missing record explicitly, or use a default",
        "browser": (
            "render a loading or empty state while the data has not arrived or lacks the field, check the "
            "shape of the API response before using it, and that a DOM element exists before touching it"
        ),
        "*": "handle the missing value explicitly, or use a default",
    },
    # The language's own guard against null/None/nil.
    "null_guards": {
        "python": "`Optional` type hints checked by mypy or pyright",
        "javascript": "optional chaining (`?.`) and TypeScript's strict null checks",
        "java": "`Optional<T>` and `@Nullable` annotations checked by NullAway or the IDE",
        "dotnet": "nullable reference types (`<Nullable>enable</Nullable>`) with warnings as errors",
        "go": "checking the `err` and `ok` results before using a pointer, and `staticcheck` (nilness)",
        "ruby": "the safe navigation operator (`&.`) and Sorbet or RBS types",
        "php": "the nullsafe operator (`?->`) and PHPStan or Psalm at a strict level",
        "*": "strict null checks",
    },
    # Reading a key that may be absent.
    "safe_lookup": {
        "python": "`.get(key, default)`",
        "javascript": "`obj[key] ?? fallback` (or `key in obj`)",
        "java": "`getOrDefault()` or `containsKey()`",
        "dotnet": "`TryGetValue()`",
        "go": "the `value, ok := m[key]` form",
        "ruby": "`fetch(key, default)` or `dig`",
        "php": "`$array[$key] ?? $default` or `array_key_exists()`",
        "*": "a lookup with a default",
    },
    # Indexing a sequence that may be short.
    "safe_index": {
        "python": "`next(iter(items), None)` or a length check",
        "javascript": "`items.at(0)` or `items[0] ?? fallback` after a length check",
        "java": "an `isEmpty()`/`size()` check (or `stream().findFirst()`)",
        "dotnet": "`FirstOrDefault()` or a `Count` check",
        "go": "a `len()` check before indexing",
        "ruby": "`first` (nil when empty) or a `size` check",
        "php": "`$items[0] ?? null` or a `count()` check",
        "*": "a length check",
    },
    # Where a wrong type is usually caught before production.
    "type_check": {
        "python": "type hints checked by mypy or pyright in CI",
        "javascript": "TypeScript in strict mode in CI",
        "browser": (
            "TypeScript in strict mode and a schema check (zod, valibot) of API responses at the fetch"
        ),
        "java": (
            "the compiler's unchecked/rawtypes warnings as errors and a static analyser (Error Prone, "
            "SpotBugs)"
        ),
        "dotnet": "nullable reference types and the analyzers with warnings as errors",
        "go": "`go vet` and staticcheck in CI",
        "ruby": "Sorbet or RBS with Steep in CI",
        "php": "PHPStan or Psalm at a strict level in CI",
        "*": "a static type checker in CI",
    },
    # Where a wrong type usually comes from.
    "type_source": {
        "browser": (
            "the shape of data or the DOM: an API response whose shape differs from what the code expects "
            "(an object where an array was expected, a field renamed or missing), a value read before it "
            "was loaded, a third-party script that changed, or a DOM query that returned another kind of "
            "element or none"
        ),
        "*": (
            "data from outside (JSON, form fields, query params and env vars are strings), a database "
            "column or API field that can be null or changed type, or a function whose return type "
            "differs across branches"
        ),
    },
    # Unparsable JSON from a client or an upstream.
    "bad_json_answer": {
        "request": "For client input, answer 400 on invalid JSON instead of a 500.",
        "job": "Treat an unparsable message as a poison message: log it, move it aside and go on.",
        "browser": (
            "Check `response.ok` and the `Content-Type` before `response.json()`, and show an error state "
            "instead of breaking the page."
        ),
        "*": "Reject unparsable input with a clear error.",
    },
    # A dependency is down: what the failing code should do meanwhile.
    "degrade": {
        "request": "Answer a clear 502/503 (or serve cached/degraded data) instead of a 500.",
        "job": "Fail the job with a retryable error and retry it later with backoff, instead of dropping it.",
        "browser": "Show an error state with a retry button (or cached data) instead of a broken page.",
        "*": "Degrade gracefully while the dependency is out.",
    },
    # An input the code does not handle.
    "reject_early": {
        "request": "reject that input earlier with a clear 4xx error",
        "*": "reject that input earlier with a clear error",
    },
    # An expired or invalid token.
    "token_answer": {
        "request": (
            "Catch token verification errors in the auth layer and answer 401 (with `WWW-Authenticate`) "
            "instead of 500."
        ),
        "browser": (
            "Refresh the token before it expires, and send the user to log in again when the refresh fails."
        ),
        "*": (
            "Catch token verification errors where the token is read, and renew or reject the token "
            "explicitly."
        ),
    },
    # A record that was looked up by id is gone.
    "not_found_answer": {
        "python+request": (
            "If the record can legitimately be missing, answer 404 (`get_object_or_404`, `one_or_none()` "
            "plus an explicit 404)."
        ),
        "request": "If the record can legitimately be missing, answer 404 with a clear message.",
        "job": (
            "If the record can legitimately be missing (deleted since the job was queued), skip it and "
            "log it."
        ),
        "*": "If the record can legitimately be missing, handle the miss explicitly.",
    },
    # A duplicate that slipped past the checks.
    "duplicate_answer": {
        "request": "Turn a remaining duplicate into a 409 Conflict with a clear message instead of a 500.",
        "*": "Treat a remaining duplicate as already done (make the write idempotent) instead of failing.",
    },
    # How to send the exception with a log line, so the next event has the stack and the cause.
    "log_with_exception": {
        "python": "`log.exception(...)` in the `except` block, or `exc_info=True` on the call",
        "java": 'the exception as the last argument: `log.error("…", e)`',
        "javascript": "the `Error` object itself (`Sentry.captureException(err)`), not only its message",
        "go": "`sentry.CaptureException(err)`, or the `err` as an attribute of the log record",
        "ruby": "`Sentry.capture_exception(e)` in the `rescue`, or the exception passed to the logger",
        "php": "the exception in the log context (`['exception' => $e]`), which the Monolog handler sends",
        "dotnet": 'the exception as the first argument: `logger.LogError(ex, "…")`',
        "*": "the exception object, not only a message",
    },
}

ADVICE_NAMES = frozenset(ADVICE)


def advice_for(runtime: Runtime) -> dict[str, str]:
    """Every phrase of ADVICE in the words that fit `runtime`."""
    keys = runtime.keys()
    return {name: next(texts[key] for key in keys if key in texts) for name, texts in ADVICE.items()}
