"""The Jinja2 environment (autoescape on, always) and the filters templates use.

Nothing here marks untrusted text safe: `rich_text` escapes every piece of text it emits and only
adds its own tags (paragraphs, lists, code), so an analysis or event field can never inject markup.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.responses import Response

from app.models import short_id
from app.web.issue_view import jinja_helpers

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"

# Pages are personal: never kept by a shared cache. (The security headers every answer carries are
# added by app/web/security_headers.py.)
PAGE_HEADERS = {"Cache-Control": "no-store"}

_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_LIST_ITEM = re.compile(r"^(?:(?P<bullet>[-*•])|(?P<number>\d{1,3})[.)])\s+(?P<text>.*)$")


def _inline(text: str) -> Markup:
    """Escaped text in which `backtick spans` become <code>."""
    out = Markup()
    position = 0
    for match in _CODE_SPAN.finditer(text):
        out += escape(text[position : match.start()])
        out += Markup("<code>%s</code>") % match.group(1)
        position = match.end()
    return out + escape(text[position:])


def rich_text(value: str | None) -> Markup:
    """Plain analysis text as paragraphs, bullet/numbered lists and code spans; everything escaped."""
    if not value:
        return Markup()
    html: list[Markup] = []
    paragraph: list[Markup] = []
    list_tag: str | None = None
    items: list[Markup] = []

    def flush_paragraph() -> None:
        if paragraph:
            html.append(Markup("<p>%s</p>") % Markup("<br>").join(paragraph))
            paragraph.clear()

    def flush_list() -> None:
        nonlocal list_tag
        if list_tag:
            body = Markup("").join(Markup("<li>%s</li>") % item for item in items)
            wrapper = Markup("<ol>%s</ol>") if list_tag == "ol" else Markup("<ul>%s</ul>")
            html.append(wrapper % body)
            items.clear()
            list_tag = None

    for raw in value.replace("\r", "").split("\n"):
        line = raw.strip()
        item = _LIST_ITEM.match(line)
        if not line:
            flush_paragraph()
            flush_list()
        elif item:
            flush_paragraph()
            tag = "ol" if item.group("number") else "ul"
            if list_tag != tag:
                flush_list()
                list_tag = tag
            items.append(_inline(item.group("text")))
        else:
            flush_list()
            paragraph.append(_inline(line))
    flush_paragraph()
    flush_list()
    return Markup("").join(html)


Timestamp = datetime | str | float | int | None


def _as_datetime(value: Timestamp) -> datetime | None:
    """A datetime from a datetime, an ISO 8601 string or epoch seconds (breadcrumbs use both)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def reltime(raw: Timestamp, now: datetime | None = None) -> str:
    """ "3 min ago"-style age of a timestamp."""
    value = _as_datetime(raw)
    if value is None:
        return "—" if raw is None else str(raw)
    seconds = int(((now or datetime.now(UTC)) - value).total_seconds())
    if seconds < 0:
        return "in the future"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def abstime(raw: Timestamp) -> str:
    """UTC timestamp to the second, for title attributes and detail tables."""
    value = _as_datetime(raw)
    if value is None:
        return "" if raw is None else str(raw)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def pretty_json(value: Any) -> str:
    """Indented JSON for <pre> blocks (escaped by autoescape like everything else)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def omit(mapping: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The mapping without `keys` (for templates)."""
    return {k: v for k, v in mapping.items() if k not in keys}


def is_scalar(value: Any) -> bool:
    """True for values shown as text rather than JSON."""
    return value is None or isinstance(value, str | int | float | bool)


def sparkline_bars(counts: list[int], width: int = 96, height: int = 20) -> list[dict[str, float]]:
    """Bar geometry for the 24-hour sparkline (numbers only; the template draws the SVG)."""
    if not counts:
        return []
    top = max(counts) or 1
    step = width / len(counts)
    bars = []
    for i, n in enumerate(counts):
        h = 0.0 if n == 0 else max(1.5, height * n / top)
        bars.append(
            {
                "x": round(i * step, 2),
                "y": round(height - h, 2),
                "w": round(step - 1, 2),
                "h": round(h, 2),
                "n": n,
            }
        )
    return bars


def context_lines(frame: Any) -> list[tuple[int | None, str, bool]]:
    """A frame's source around the failing line as (line number, text, is the failing line)."""
    pre = list(getattr(frame, "pre_context", None) or [])
    post = list(getattr(frame, "post_context", None) or [])
    current = getattr(frame, "context_line", None)
    lineno = getattr(frame, "lineno", None)
    if current is None:
        return []
    start = lineno - len(pre) if isinstance(lineno, int) else None

    def number(offset: int) -> int | None:
        return start + offset if start is not None else None

    lines = [(number(i), text, False) for i, text in enumerate(pre)]
    lines.append((lineno, current, True))
    lines += [(number(len(pre) + 1 + i), text, False) for i, text in enumerate(post)]
    return lines


def around_current(
    lines: list[tuple[int | None, str, bool]], before: int = 3, after: int = 3
) -> list[tuple[int | None, str, bool]]:
    """The failing line of `context_lines` with at most `before`/`after` lines either side."""
    current = next((i for i, line in enumerate(lines) if line[2]), None)
    if current is None:
        return lines
    return lines[max(current - before, 0) : current + after + 1]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(WEB_DIR / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        rich_text=rich_text,
        inline_code=_inline,
        reltime=reltime,
        abstime=abstime,
        pretty_json=pretty_json,
        spark=sparkline_bars,
        omit=omit,
    )
    env.tests["scalar"] = is_scalar
    env.globals["context_lines"] = context_lines
    env.globals["around_current"] = around_current
    env.globals["short_id"] = short_id
    helpers = jinja_helpers()
    env.filters.update(helpers["filters"])
    env.globals.update(helpers["globals"])
    return env


templates = Jinja2Templates(env=_environment())


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """A page (never cached), with the logged-in user and their CSRF token in its context."""
    user = getattr(request.state, "user", None)
    response = templates.TemplateResponse(
        request, name, {"user": user, "csrf_token": user.csrf_token if user else "", **context}, status_code
    )
    response.headers.update(PAGE_HEADERS)
    return response
