"""The bodies of alerts, built from plain values: the webhook JSON (the field names README documents),
its signature, Slack's blocks, the email's text and HTML, and the rate limit's summary. No I/O here.

Everything that came from an event (title, culprit, the analysis's words) is scrubbed with the rules
the LLM prompt is scrubbed with (app/privacy) as the body is built.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.models.issue import short_id
from app.privacy import redact_text

TRIGGER_TITLES = {
    "analysis_done": "New issue, analysed",
    "new_issue": "New issue",
    "regression": "Regression",
    "frequency": "Frequent issue",
    "test": "Test alert",
    "summary": "Alerts held back by the rate limit",
}


@dataclass(frozen=True)
class ProjectFacts:
    id: int
    name: str


@dataclass(frozen=True)
class IssueFacts:
    id: int
    title: str
    culprit: str
    level: str
    count: int
    first_seen: datetime
    last_seen: datetime
    short_number: int | None = None  # its number in the project (SHOP-12), app/models/issue.py


@dataclass(frozen=True)
class AnalysisFacts:
    status: str
    summary: str | None = None
    root_cause: str | None = None
    suggested_fix: str | None = None
    severity: str | None = None
    category: str | None = None
    confidence: float | None = None
    model: str | None = None


@dataclass(frozen=True)
class FoldedAlert:
    """One alert the rate limit held back, as the summary lists it."""

    trigger: str
    issue: IssueFacts | None


@dataclass(frozen=True)
class AlertFacts:
    """Everything one message says."""

    trigger: str
    project: ProjectFacts
    issue: IssueFacts | None
    analysis: AnalysisFacts | None
    base_url: str
    folded: list[FoldedAlert] = field(default_factory=list)  # a summary's held-back alerts
    rate_limit_per_hour: int | None = None


def issue_url(base_url: str, issue_id: int) -> str:
    return f"{base_url.rstrip('/')}/issues/{issue_id}"


def _scrub(value: str | None) -> str | None:
    return redact_text(value) if value else value


def _issue_json(facts: AlertFacts, issue: IssueFacts) -> dict[str, Any]:
    return {
        "id": issue.id,
        "short_id": short_id(facts.project, issue),
        "title": _scrub(issue.title) or "",
        "culprit": _scrub(issue.culprit) or "",
        "level": issue.level,
        "count": issue.count,
        "first_seen": issue.first_seen.isoformat(),
        "last_seen": issue.last_seen.isoformat(),
        "url": issue_url(facts.base_url, issue.id),
    }


def webhook_body(facts: AlertFacts) -> dict[str, Any]:
    """The generic webhook's JSON, with exactly the documented names (README "Alerts")."""
    analysis = facts.analysis
    body: dict[str, Any] = {
        "trigger": facts.trigger,
        "project": {"id": facts.project.id, "name": facts.project.name},
        "issue": _issue_json(facts, facts.issue) if facts.issue else None,
        "analysis": (
            {
                "status": analysis.status,
                "summary": _scrub(analysis.summary),
                "root_cause": _scrub(analysis.root_cause),
                "suggested_fix": _scrub(analysis.suggested_fix),
                "severity": analysis.severity,
                "category": analysis.category,
                "confidence": analysis.confidence,
                "model": analysis.model,
            }
            if analysis
            else None
        ),
    }
    if facts.trigger == "summary":
        body["folded"] = {
            "count": len(facts.folded),
            "rate_limit_per_hour": facts.rate_limit_per_hour,
            "alerts": [
                {"trigger": f.trigger, "issue": _issue_json(facts, f.issue) if f.issue else None}
                for f in facts.folded
            ],
        }
    return body


def encode_body(body: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON, UTF-8."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`X-Faultline-Signature`: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does (README shows it): recompute and compare in constant time."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def headline(facts: AlertFacts) -> str:
    """One line: what happened, to which issue."""
    title = TRIGGER_TITLES.get(facts.trigger, facts.trigger)
    if facts.trigger == "summary":
        return f"[{facts.project.name}] {len(facts.folded)} alerts held back by the rate limit"
    if facts.issue is None:
        return f"[{facts.project.name}] {title}"
    issue = facts.issue
    return f"[{facts.project.name}] {title}: {short_id(facts.project, issue)} {_scrub(issue.title)}"


def _analysis_lines(analysis: AnalysisFacts | None) -> list[tuple[str, str]]:
    if analysis is None:
        return []
    if analysis.status != "done":
        return [("Analysis", analysis.status)]
    pairs = [
        ("Summary", _scrub(analysis.summary)),
        ("Root cause", _scrub(analysis.root_cause)),
        ("Suggested fix", _scrub(analysis.suggested_fix)),
        ("Severity", analysis.severity),
    ]
    return [(k, v) for k, v in pairs if v]


def _slack_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(facts: AlertFacts) -> dict[str, Any]:
    """A Slack incoming webhook's body: `text` (the notification) and blocks for the title, a link,
    and the summary, root cause, fix and severity."""
    text = headline(facts)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": False}}
    ]
    if facts.issue is not None:
        issue = facts.issue
        url = issue_url(facts.base_url, issue.id)
        link = f"<{url}|{_slack_escape(short_id(facts.project, issue))}>"
        where = f" in `{_slack_escape(_scrub(issue.culprit) or '')}`" if issue.culprit else ""
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"{link}{where} · {issue.level} · seen {issue.count} times",
                },
            }
        )
    for name, value in _analysis_lines(facts.analysis):
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{name}*\n{_slack_escape(value)[:2900]}"},
            }
        )
    if facts.trigger == "summary":
        lines = [_folded_line(facts, f) for f in facts.folded[:20]]
        more = len(facts.folded) - len(lines)
        if more > 0:
            lines.append(f"… and {more} more")
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape("\n".join(lines))[:2900]}}
        )
    return {"text": text, "blocks": blocks}


def _folded_line(facts: AlertFacts, folded: FoldedAlert) -> str:
    name = TRIGGER_TITLES.get(folded.trigger, folded.trigger)
    if folded.issue is None:
        return f"• {name}"
    issue = folded.issue
    return f"• {name}: {short_id(facts.project, issue)} {_scrub(issue.title)}"


def email_parts(facts: AlertFacts) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the email."""
    subject = headline(facts)[:200]
    lines = [subject, ""]
    if facts.issue is not None:
        issue = facts.issue
        lines += [
            f"Issue: {short_id(facts.project, issue)} {_scrub(issue.title)}",
            f"Where: {_scrub(issue.culprit) or '-'}",
            f"Level: {issue.level} · seen {issue.count} times",
            f"Link: {issue_url(facts.base_url, issue.id)}",
            "",
        ]
    analysis = _analysis_lines(facts.analysis)
    for name, value in analysis:
        lines += [f"{name}:", value, ""]
    if facts.trigger == "summary":
        lines += [_folded_line(facts, f) for f in facts.folded]
    text = "\n".join(lines).rstrip() + "\n"

    parts = [f"<h2>{html.escape(subject)}</h2>"]
    if facts.issue is not None:
        issue = facts.issue
        url = html.escape(issue_url(facts.base_url, issue.id))
        parts.append(
            f'<p><a href="{url}">{html.escape(short_id(facts.project, issue))}</a> '
            f"{html.escape(_scrub(issue.title) or '')}<br>"
            f"<code>{html.escape(_scrub(issue.culprit) or '')}</code> · {html.escape(issue.level)}"
            f" · seen {issue.count} times</p>"
        )
    for name, value in analysis:
        parts.append(f"<h3>{html.escape(name)}</h3><p>{html.escape(value)}</p>")
    if facts.trigger == "summary":
        items = "".join(f"<li>{html.escape(_folded_line(facts, f)[2:])}</li>" for f in facts.folded)
        parts.append(f"<ul>{items}</ul>")
    return subject, text, "\n".join(parts)


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def backoff_s(attempt: int, base_s: float, cap_s: float, retry_after: float | None = None) -> float:
    """Seconds before retry after `attempt` failed attempts: exponential, capped, never before
    Retry-After (which may exceed the cap: the receiver said when)."""
    delay = min(cap_s, base_s * 2 ** max(0, attempt - 1))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def slots_free(sent_in_window: int, limit: int) -> bool:
    """Whether one more alert fits the rule's hourly limit (0 or less: unlimited)."""
    return limit <= 0 or sent_in_window < limit


def summary_due(oldest_slot_epoch_s: float | None, now_epoch_s: float, window_s: float = 3600.0) -> float:
    """When the summary of held-back alerts goes (epoch seconds): once the oldest alert counted in the
    window leaves it, i.e. when the rule could send again, so the summary lists the whole hour."""
    if oldest_slot_epoch_s is None:
        return now_epoch_s
    return max(now_epoch_s, oldest_slot_epoch_s + window_s)
