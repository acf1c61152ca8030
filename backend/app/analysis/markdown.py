"""render_markdown: an AnalysisResult as the readable, injection-safe markdown stored in `analysis_text`.

Result fields are plain text in which a span between single backticks is code; both the heuristic
(which puts event text into code spans via `code_span`) and LLM providers (whose output is
untrusted) follow that convention. Rendering keeps code spans and simple "- " / "1. " list items,
and neutralises everything else a markdown or HTML renderer would interpret: raw HTML, links and
images, headings, block quotes, tables, fences, emphasis. So whatever renders `analysis_text`
later shows the event's text, never its markup.
"""

from __future__ import annotations

import re

from app.analysis.providers.base import AnalysisResult

CODE_SPAN_LIMIT = 160

_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_ENTITY_LIKE = re.compile(r"&(?=#\d+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_LIST_ITEM = re.compile(r"^(- |\d{1,3}\. )(?=\S)")
# Characters that open a block construct (heading, quote, list, table, fence, setext/thematic break).
_BLOCK_START = re.compile(r"^[#>+=\-*|~`]")
_ORDERED_MARKER = re.compile(r"^(\d{1,9})([.)])")
_WHITESPACE = re.compile(r"\s+")
_BLANK_RUNS = re.compile(r"\n{3,}")


def code_span(value: object, limit: int = CODE_SPAN_LIMIT) -> str:
    """Event text as an inline code span: backticks removed, whitespace collapsed, truncated."""
    text = _WHITESPACE.sub(" ", str(value).replace("`", "")).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return f"`{text}`" if text else "`(empty)`"


def escape_text(text: str) -> str:
    """Plain text with HTML and inline markdown neutralised (line starts are handled per line)."""
    text = _ENTITY_LIKE.sub("&amp;", text)
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _render_code(content: str) -> str:
    # A code span shows `<script>` literally in CommonMark, but not every renderer (or reader of the
    # raw column) is CommonMark: spans holding HTML-ish characters are rendered as escaped text.
    if any(ch in content for ch in "<>&"):
        return escape_text(content)
    return f"`{content}`"


def _inline_code(value: str) -> str:
    return _render_code(code_span(value)[1:-1])


def _render_inline(text: str) -> str:
    parts: list[str] = []
    position = 0
    for match in _CODE_SPAN.finditer(text):
        parts.append(escape_text(text[position : match.start()]))
        parts.append(_render_code(match.group(1)))
        position = match.end()
    parts.append(escape_text(text[position:]))
    return "".join(parts)


def _neutralise_block_start(line: str) -> str:
    if line.startswith("`"):
        return line  # an inline code span; a stray backtick was already escaped as \`
    ordered = _ORDERED_MARKER.match(line)
    if ordered:
        return f"{ordered.group(1)}\\{ordered.group(2)}{line[ordered.end() :]}"
    if _BLOCK_START.match(line):
        return "\\" + line
    return line


def _render_line(raw: str) -> str:
    line = raw.strip()  # leading blanks would make an indented code block or a nested list
    marker = ""
    item = _LIST_ITEM.match(line)
    if item:
        marker, line = item.group(1), line[item.end() :]
    return marker + _neutralise_block_start(_render_inline(line))


def render_field(text: str) -> str:
    """One result field as safe markdown paragraphs; list items starting "- " or "1. " are kept."""
    lines = [_render_line(raw) if raw.strip() else "" for raw in text.replace("\r", "").split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def render_markdown(result: AnalysisResult, *, provider: str, model: str) -> str:
    """The readable markdown `analysis_text`: summary, root cause, fix, then severity/category/confidence."""
    if provider == "heuristic":
        credit = f"Analysed by {escape_text(model)} (rule-based, not an LLM)."
    else:
        credit = f"Analysed by {_inline_code(model)} via {escape_text(provider)}."
    sections = [
        "## Summary",
        render_field(result.summary),
        "## Root cause",
        render_field(result.root_cause),
        "## Suggested fix",
        render_field(result.suggested_fix),
        "\n".join(
            [
                f"- **Severity:** {escape_text(result.severity)}",
                f"- **Category:** {_inline_code(result.category)}",
                f"- **Confidence:** {result.confidence:.2f}",
            ]
        ),
        f"_{credit}_",
    ]
    return "\n\n".join(sections) + "\n"
