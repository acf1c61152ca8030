"""The steps of sending one delivery: claim it (and apply the rule's rate limit), gather what the
message says, and record the outcome. They take a session and never commit (app/alerts/runner.py
runs them, the claim and the record each in a short transaction, the sending between them in none).

Exactly one successful send per row: the claim is a conditional UPDATE with a lease (as analyses
have), so a redelivered or duplicate task finds the row sent (or held) and does nothing. A worker
killed mid-send leaves the row `sending`; once its lease runs out the sweeper sends it again. The
receiver never acknowledged the first (or the row would say `sent`), except in the one window no
outbox closes: a 2xx received and the worker killed before recording it. Each message carries
`X-Faultline-Delivery: <row id>` so a receiver can drop that duplicate.

The rate limit: a rule sends at most `rate_limit_per_hour` alerts in any hour (tests and summaries
do not count). An alert over it is `folded` into the rule's open summary, which goes once the hour
frees up and lists every alert it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.alerts import repository
from app.alerts.channels import SendResult, Target
from app.alerts.payload import (
    AlertFacts,
    AnalysisFacts,
    FoldedAlert,
    IssueFacts,
    ProjectFacts,
    backoff_s,
    slots_free,
    summary_due,
)
from app.config import Settings
from app.models import AlertDelivery, Issue, IssueAnalysis

UNLIMITED_TRIGGERS = ("test", "summary")
# A retry's countdown stays well inside the broker's visibility timeout (app/celery_app.py).
MAX_COUNTDOWN_S = 3000.0


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    attempts: int  # this one included
    target: Target
    facts: AlertFacts


@dataclass(frozen=True)
class Skipped:
    reason: str  # noop (finished, not due, held elsewhere) or folded


@dataclass(frozen=True)
class Recorded:
    status: str  # sent | failed | retry | lost (another task took it over)
    retry_in_s: float | None = None


def claim(session: Session, delivery_id: int, *, task_id: str, settings: Settings) -> Claimed | Skipped:
    """Claim the delivery and read what its message says, or say why there is nothing to send."""
    delivery = repository.claim(session, delivery_id, task_id=task_id, lease_s=settings.alert_lease_s)
    if delivery is None:
        return Skipped("noop")
    rule = repository.lock_rule(session, delivery.rule_id)
    project = repository.sync_get_project(session, delivery.project_id)
    if rule is None or project is None:  # deleted meanwhile (the cascade will remove the row too)
        return Skipped("noop")
    if delivery.trigger not in UNLIMITED_TRIGGERS and delivery.slot_at is None:
        use = repository.window_use(session, rule.id)
        if not slots_free(use.used, rule.rate_limit_per_hour):
            now = datetime.now(UTC)
            oldest = use.oldest.timestamp() if use.oldest else None
            due = datetime.fromtimestamp(summary_due(oldest, now.timestamp()), UTC)
            repository.fold(session, delivery, summary_due=due)
            return Skipped("folded")
        repository.take_slot(session, delivery.id)
    facts = gather(session, delivery, ProjectFacts(project.id, project.name), settings)
    facts = AlertFacts(**{**facts.__dict__, "rate_limit_per_hour": rule.rate_limit_per_hour})
    return Claimed(delivery.id, delivery.attempts, Target(rule.channel, rule.target, rule.secret), facts)


def _issue_facts(issue: Issue) -> IssueFacts:
    return IssueFacts(
        id=issue.id,
        title=issue.title,
        culprit=issue.culprit or "",
        level=issue.level,
        count=int(issue.times_seen),
        first_seen=issue.first_seen,
        last_seen=issue.last_seen,
        short_number=issue.short_number,
    )


def _analysis_facts(analysis: IssueAnalysis | None) -> AnalysisFacts | None:
    if analysis is None:
        return None
    return AnalysisFacts(
        status=analysis.status,
        summary=analysis.summary,
        root_cause=analysis.root_cause,
        suggested_fix=analysis.suggested_fix,
        severity=analysis.severity,
        category=analysis.category,
        confidence=analysis.confidence,
        model=analysis.model,
    )


def gather(
    session: Session, delivery: AlertDelivery, project: ProjectFacts, settings: Settings
) -> AlertFacts:
    """What the message says, read now: the issue as it is, and its analysis when the trigger
    carries one (analysis_done, and any trigger once the issue has an analysis)."""
    issue = repository.get_issue(session, delivery.issue_id) if delivery.issue_id else None
    analysis: IssueAnalysis | None = None
    if delivery.analysis_id is not None:
        analysis = repository.get_analysis(session, delivery.analysis_id)
    elif issue is not None and delivery.trigger not in ("new_issue",):
        analysis = repository.latest_analysis(session, issue.id)
    folded: list[FoldedAlert] = []
    if delivery.trigger == "summary":
        for held in repository.folded_into(session, delivery.id):
            held_issue = repository.get_issue(session, held.issue_id) if held.issue_id else None
            folded.append(FoldedAlert(held.trigger, _issue_facts(held_issue) if held_issue else None))
    return AlertFacts(
        trigger=delivery.trigger,
        project=project,
        issue=_issue_facts(issue) if issue else None,
        analysis=_analysis_facts(analysis),
        base_url=settings.public_url,
        folded=folded,
    )


def record(
    session: Session, delivery_id: int, task_id: str, result: SendResult, *, attempts: int, settings: Settings
) -> Recorded:
    """Store how the send went: sent, failed for good, or pending again for a retry with backoff."""
    if result.ok:
        sent = repository.record_sent(session, delivery_id, task_id, result.response_code)
        return Recorded("sent" if sent else "lost")
    error = result.error or "failed"
    if not result.retryable or attempts >= settings.alert_max_attempts:
        if result.retryable:
            error = f"gave up after {attempts} attempts: {error}"
        done = repository.record_failed(session, delivery_id, task_id, result.response_code, error)
        return Recorded("failed" if done else "lost")
    delay = min(
        MAX_COUNTDOWN_S,
        backoff_s(attempts, settings.alert_retry_base_s, settings.alert_retry_cap_s, result.retry_after_s),
    )
    released = repository.release_for_retry(
        session, delivery_id, task_id, result.response_code, error, retry_in_s=delay
    )
    return Recorded("retry", delay) if released else Recorded("lost")
