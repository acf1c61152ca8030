"""Where an event's code ran: its language (from the event's `platform` and SDK name) and its setting —
a browser, a server handling a request, or server code outside a request (a job, a consumer, a script).

Advice depends on both (issue 19): a browser has no HTTP status to answer with; a background job has no
client to answer 400; only Python has `Optional` hints and `.get()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.events.model import NormalizedEvent

# (language, the event `platform` values, the SDK name prefix), as the official Sentry SDKs send them.
LANGUAGES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("javascript", ("javascript", "node"), "sentry.javascript"),
    ("python", ("python",), "sentry.python"),
    ("java", ("java",), "sentry.java"),
    ("go", ("go",), "sentry.go"),
    ("ruby", ("ruby",), "sentry.ruby"),
    ("php", ("php",), "sentry.php"),
    ("dotnet", ("csharp",), "sentry.dotnet"),
)

LABELS = {
    "browser": "browser JavaScript",
    "javascript": "Node.js",
    "python": "Python",
    "java": "Java",
    "go": "Go",
    "ruby": "Ruby",
    "php": "PHP",
    "dotnet": ".NET",
}

# JavaScript SDKs (and Next.js/Remix server events) that run on a server, not in a page.
_SERVER_JS_SDK = re.compile(
    r"\bnode\b|serverless|\bbun\b|\bdeno\b|aws|gcp|google-cloud|cloudflare|vercel-edge"
)


@dataclass(frozen=True)
class Runtime:
    """language: javascript, python, java, go, ruby, php, dotnet or "" (unknown);
    setting: browser, request (server code answering an HTTP request) or job (server code outside one)."""

    language: str
    setting: str

    @property
    def label(self) -> str:
        key = "browser" if self.setting == "browser" else self.language
        return LABELS.get(key, "server")

    def keys(self) -> tuple[str, ...]:
        """Advice keys from the most to the least specific: `python+request`, `python`, `request`, `*`.
        A browser is more telling than its language: `javascript+browser`, `browser`, `javascript`, `*`."""
        if not self.language:
            return (self.setting, "*")
        if self.setting == "browser":
            return (f"{self.language}+browser", "browser", self.language, "*")
        return (f"{self.language}+{self.setting}", self.language, self.setting, "*")


def _language(event: NormalizedEvent) -> str:
    sdk = str(event.sdk.get("name") or "")
    for language, platforms, prefix in LANGUAGES:
        if event.platform in platforms or sdk.startswith(prefix):
            return language
    return ""


def _in_browser(event: NormalizedEvent) -> bool:
    sdk = str(event.sdk.get("name") or "")
    if event.platform == "node" or _SERVER_JS_SDK.search(sdk):
        return False
    contexts = event.contexts if isinstance(event.contexts, dict) else {}
    runtime = contexts.get("runtime")
    if isinstance(runtime, dict) and str(runtime.get("name") or "").lower() in ("node", "bun", "deno"):
        return False
    return event.platform == "javascript"


def _serving_request(event: NormalizedEvent) -> bool:
    request = event.request or {}
    return event.status_code is not None or bool(
        request.get("method") or request.get("url") or request.get("path")
    )


def runtime_of(event: NormalizedEvent) -> Runtime:
    """The event's language and setting."""
    language = _language(event)
    if language == "javascript" and _in_browser(event):
        return Runtime(language, "browser")
    return Runtime(language, "request" if _serving_request(event) else "job")
