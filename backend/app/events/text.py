"""Text limits and cleaning shared by everything that builds or reads an event.

What an event may hold (MAX_*), how an over-long text is cut (`truncate`, ending in TRUNCATION_MARKER),
how a text is made storable in PostgreSQL (`clean_text`), and how a logging template gets its params
(`format_params`). Normalization applies them; scrubbing and the dashboard reuse them.
"""

from __future__ import annotations

import re
from typing import Any

TRUNCATION_MARKER = "…[truncated]"
MAX_MESSAGE = 8 * 1024  # message, logentry, exception value
MAX_STACK_TEXT = 64 * 1024  # the seed's raw `stack`, kept in extra
MAX_FREE_STRING = 8 * 1024  # strings inside extra, contexts, vars, request data …
MAX_NAME = 256  # exception type, function, module, logger, release …
MAX_PATH = 1024  # filenames
MAX_URL = 2048
MAX_LINE = 1024  # context lines
MAX_CONTEXT_LINES = 10  # pre/post context kept per frame
MAX_TAG_KEY = 200
MAX_TAG_VALUE = 200
MAX_TAGS = 200
MAX_FRAMES = 250  # per stack; the middle is dropped, as Sentry does
MAX_EXCEPTIONS = 25  # per chain; the oldest causes are dropped
MAX_BREADCRUMBS = 100  # the most recent are kept
MAX_ITEMS = 500  # entries per list or mapping in free-form data
MAX_DEPTH = 8  # nesting of free-form data


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in the truncation marker when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(TRUNCATION_MARKER), 0)] + TRUNCATION_MARKER


def clean_text(text: str) -> str:
    """`text` as PostgreSQL can store it: NUL as U+FFFD, lone surrogates replaced."""
    # PostgreSQL refuses NUL in text/jsonb, and lone surrogates cannot be encoded as UTF-8.
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if text.isascii():  # O(1) in CPython; ASCII has no surrogates, so skip the trial encoding
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def capped(text: str, limit: int) -> str:
    """`text` cleaned and cut to `limit`; the usual short, clean ASCII string comes back as it is."""
    if len(text) <= limit and text.isascii() and "\x00" not in text:
        return text
    return truncate(clean_text(text), limit)


_FORMAT_TOKEN = re.compile(r"%%|%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdrifgeEGxXoc]|\{\d*\}")


def format_params(template: str, params: Any, limit: int = MAX_MESSAGE) -> str:
    """A logging template with its params in, as SDKs format it: %s, %(name)s and {0} placeholders.

    Params stop being substituted once they add up to more than `limit` characters: the text past
    that point is cut off anyway, and "{0}" repeated a thousand times must not copy a big param a
    thousand times.
    """
    # Our own substitution, not `%`: a client-supplied "%999999999d" must not allocate gigabytes.
    produced = 0

    def put(value: Any) -> str:
        nonlocal produced
        if produced > limit:
            return ""
        text = str(value)
        produced += len(text)
        return text

    if isinstance(params, dict):
        named = {str(k): v for k, v in params.items()}

        def by_name(match: re.Match[str]) -> str:
            token = match.group(0)
            name = re.match(r"%\(([^)]*)\)", token)
            if token == "%%":
                return "%"
            return put(named[name.group(1)]) if name and name.group(1) in named else token

        return _FORMAT_TOKEN.sub(by_name, template)
    if not isinstance(params, list | tuple) or not params:
        return template
    queue = list(params)
    position = iter(range(len(queue)))

    def by_position(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "%%":
            return "%"
        if token.startswith("{") and token != "{}":
            index = int(token[1:-1])
            return put(queue[index]) if index < len(queue) else token
        index = next(position, None)
        return put(queue[index]) if index is not None else token

    return _FORMAT_TOKEN.sub(by_position, template)
