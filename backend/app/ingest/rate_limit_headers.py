"""Building the headers of a 429 answer: `Retry-After` and Sentry's `X-Sentry-Rate-Limits`.

`X-Sentry-Rate-Limits` is a comma-separated list of `{seconds}:{categories}:{scope}[:{reason}]`, where
categories are `;`-separated data categories (`error`, `transaction`, …) and empty means all of them.
SDKs stop sending those categories for that many seconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

# Categories, scopes and reason codes are plain identifiers; anything with a separator would corrupt
# the header for every SDK that parses it.
_TOKEN_RE = re.compile(r"[a-z0-9_.-]+")


def rate_limit_value(
    seconds: float, categories: Iterable[str] = (), scope: str = "project", reason: str | None = None
) -> str:
    """Return one `X-Sentry-Rate-Limits` entry, e.g. `60:error;transaction:project:quota_exceeded`."""
    names = [_token(category, "category") for category in categories]
    parts = [str(_whole_seconds(seconds)), ";".join(names), _token(scope, "scope")]
    if reason:
        parts.append(_token(reason, "reason"))
    return ":".join(parts)


def rate_limited_headers(
    seconds: float, categories: Iterable[str] = (), scope: str = "project", reason: str | None = None
) -> dict[str, str]:
    """Return the headers of a 429 answer: `Retry-After` and a one-entry `X-Sentry-Rate-Limits`."""
    return {
        "Retry-After": str(_whole_seconds(seconds)),
        "X-Sentry-Rate-Limits": rate_limit_value(seconds, categories, scope, reason),
    }


def _whole_seconds(seconds: float) -> int:
    # Round up, never to 0: an SDK told "0" would retry at once, defeating the limit.
    return max(1, math.ceil(seconds))


def _token(value: str, what: str) -> str:
    if not _TOKEN_RE.fullmatch(value):
        raise ValueError(f"invalid rate-limit {what}: {value!r}")
    return value
