"""What the issue page and the issue list compute for display: runs of library frames, the crash
frame, an analysis's state in words, clipped values, and the issue as Markdown for a ticket.

Pure functions of the rows and the normalized event; the templates call them as filters and globals
(app/web/rendering.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.analysis.markdown import code_span
from app.events.model import ExceptionInfo, Frame, NormalizedEvent
from app.models import Issue, IssueAnalysis, Project, short_id

# A shortened reason, by what it starts with: the gist a badge has room for.
_REASON_GISTS = (
    ("daily LLM budget", "daily budget"),
    ("global daily LLM ceiling", "daily budget (all projects)"),
    ("LLM settings are unusable", "LLM settings unusable"),
)


def clip(value: object, limit: int = 240) -> str:
    """The value's text, cut at `limit` characters with an ellipsis."""
    text = str(value)
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def clocktime(raw: object) -> str:
    """A breadcrumb's time of day (UTC, to the second): the date is the event's."""
    if isinstance(raw, int | float):
        value = datetime.fromtimestamp(raw, UTC)
    elif isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return raw
    elif isinstance(raw, datetime):
        value = raw
    else:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%H:%M:%S")


def reason_gist(reason: str | None) -> str:
    """The gist of a skip or failure reason, short enough for a badge."""
    if not reason:
        return ""
    for start, gist in _REASON_GISTS:
        if reason.startswith(start):
            return gist
    return clip(reason.split(":")[0], 40)


def analysis_state(analysis: IssueAnalysis, now: datetime | None = None) -> str:
    """An analysis's state in words: "analysed", "analysing…", "failed, retrying at 14:05" (UTC),
    "failed", "skipped: daily budget"."""
    now = now or datetime.now(UTC)
    if analysis.status == "done":
        return "analysed"
    if analysis.status == "running":
        return "analysing…"
    if analysis.status == "pending":
        retry_at = analysis.next_attempt_at
        if analysis.status_reason and retry_at is not None and retry_at > now:
            return f"failed, retrying at {retry_at.astimezone(UTC):%H:%M}"
        return "analysing…"
    if analysis.status == "skipped":
        gist = reason_gist(analysis.status_reason)
        return f"skipped: {gist}" if gist else "skipped"
    if analysis.status == "failed":
        gist = reason_gist(analysis.status_reason)
        return f"failed: {gist}" if gist else "failed"
    return analysis.status


@dataclass(frozen=True)
class FrameGroup:
    """Consecutive frames shown together: the app's one by one; a run of library frames, or of frames
    the exception shown above has too (a chained error's cause), folded."""

    kind: str  # app | library | shared
    frames: list[Frame]

    @property
    def library(self) -> bool:
        return self.kind == "library"

    @property
    def shared(self) -> bool:
        return self.kind == "shared"


def _frame_key(frame: Frame) -> tuple[object, ...]:
    return (frame.filename or frame.abs_path or frame.module, frame.function, frame.lineno, frame.colno)


def frame_groups(frames: list[Frame], shown_above: list[Frame] | None = None) -> list[FrameGroup]:
    """Frames in order, with consecutive library frames grouped into runs, and frames that the
    exception shown above also has (the same call) grouped apart. The crash frame, the app's last,
    is never folded. When no frame is the app's (an SDK that sends no in_app), every frame is shown:
    there is nothing to fold them in favour of."""
    crash = crash_frame(frames)
    above = {_frame_key(f) for f in shown_above or []}
    no_app = not any(f.in_app for f in frames)
    groups: list[FrameGroup] = []
    for frame in frames:
        if frame is crash:
            kind = "app"
        elif _frame_key(frame) in above:
            kind = "shared"
        elif frame.in_app or no_app:
            kind = "app"
        else:
            kind = "library"
        if groups and groups[-1].kind == kind and kind != "app":
            groups[-1].frames.append(frame)
        else:
            groups.append(FrameGroup(kind, [frame]))
    return groups


def crumb_text(crumb: dict[str, Any]) -> str:
    """A breadcrumb's line: its message, else what its data says (an HTTP call: method, URL, status)."""
    message = crumb.get("message")
    if message:
        return str(message)
    data = crumb.get("data")
    if not isinstance(data, dict):
        return ""
    url = data.get("url")
    if url:
        method = data.get("method") or data.get("http.method") or ""
        status = data.get("status_code") or data.get("http.response.status_code")
        return " ".join(str(part) for part in (method, url, f"→ {status}" if status else "") if part)
    return ""


def crash_frame(frames: list[Frame]) -> Frame | None:
    """Where the exception was raised, as far as the app goes: its last in-app frame (the innermost
    call of the app), else the last frame."""
    for frame in reversed(frames):
        if frame.in_app:
            return frame
    return frames[-1] if frames else None


def frame_where(frame: Frame) -> str:
    """`file in function` for a folded run's summary."""
    where = frame.filename or frame.abs_path or frame.module or "?"
    return f"{where} in {frame.function}" if frame.function else where


def _exception_markdown(exc: ExceptionInfo) -> list[str]:
    lines = [f"**{code_span(exc.type or 'Error')}**" + (f": {code_span(exc.value)}" if exc.value else "")]
    app_frames = [f for f in exc.frames if f.in_app] or exc.frames[-3:]
    for frame in reversed(app_frames):  # most recent first, as a ticket reader wants it
        place = f"{frame.filename or frame.abs_path or frame.module or '?'}:{frame.lineno or '?'}"
        lines.append(f"- {code_span(place)}" + (f" in {code_span(frame.function)}" if frame.function else ""))
        if frame.context_line:
            lines.append(f"  {code_span(frame.context_line.strip())}")
    return lines


def issue_markdown(
    project: Project,
    issue: Issue,
    analysis: IssueAnalysis | None,
    event: NormalizedEvent | None,
    url: str,
) -> str:
    """The issue, its latest event's exception and its analysis as Markdown to paste into a ticket.
    Event text goes in code spans (app/analysis/markdown.py), so it never turns into markup."""
    out = [
        f"## {short_id(project, issue)}: {code_span(issue.title)}",
        "",
        f"- Project: {code_span(project.name)}; level {issue.level}; status {issue.status}"
        + ("; regressed" if issue.is_regressed else ""),
        f"- Events: {issue.times_seen:,}; first seen {issue.first_seen:%Y-%m-%d %H:%M} UTC;"
        f" last seen {issue.last_seen:%Y-%m-%d %H:%M} UTC",
    ]
    if issue.culprit:
        out.append(f"- Culprit: {code_span(issue.culprit)}")
    if event is not None:
        facts = [
            f"{name} {code_span(value)}"
            for name, value in (
                ("platform", event.platform),
                ("release", event.release),
                ("environment", event.environment),
            )
            if value
        ]
        if facts:
            out.append("- " + "; ".join(facts))
    out.append(f"- Link: {url}")
    if event is not None and event.exceptions:
        out += ["", "### Exception", ""]
        for n, exc in enumerate(reversed(event.exceptions)):
            if n:
                out += ["", "…which was caused by:", ""]
            out += _exception_markdown(exc)
    elif event is not None and event.message:
        out += ["", "### Message", "", code_span(event.message, 400)]
    if analysis is not None and analysis.status == "done" and analysis.analysis_text:
        model = f" ({analysis.model})" if analysis.model else ""
        out += ["", f"### Analysis{model}", "", analysis.analysis_text.strip()]
    elif analysis is not None:
        out += ["", f"Analysis: {analysis_state(analysis)}"]
    return "\n".join(out) + "\n"


def jinja_helpers() -> dict[str, dict[str, Any]]:
    """The filters and globals the templates use from this module."""
    return {
        "filters": {
            "clip": clip,
            "clocktime": clocktime,
            "analysis_state": analysis_state,
            "frame_groups": frame_groups,
            "frame_where": frame_where,
            "crumb_text": crumb_text,
        },
        "globals": {"crash_frame": crash_frame, "frame_groups": frame_groups},
    }
