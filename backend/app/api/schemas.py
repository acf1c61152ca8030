"""Response and request bodies of the read API, with the examples the OpenAPI schema shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.issues.schemas import EventSummary
from app.models import ErrorEvent, Issue, IssueAnalysis, Project, short_id

AnalysisStatus = Literal["pending", "running", "done", "failed", "skipped"]
IssueStatus = Literal["unresolved", "resolved", "ignored"]

_WHEN = "2026-11-30T10:15:00Z"


class ProjectOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "name": "default",
                    "dsn": "http://0123456789abcdef0123456789abcdef@localhost:8000/1",
                    "created_at": _WHEN,
                }
            ]
        }
    )

    id: int
    name: str
    dsn: str = Field(description="What Sentry SDKs are configured with")
    created_at: datetime

    @classmethod
    def of(cls, project: Project, dsn: str) -> ProjectOut:
        """The response shape of the stored row."""
        return cls(id=project.id, name=project.name, dsn=dsn, created_at=project.created_at)


class AnalysisBrief(BaseModel):
    """The issue's latest analysis, as the issues list shows it."""

    id: int
    status: AnalysisStatus
    status_reason: str | None = Field(description="Why it failed or was skipped")
    summary: str | None
    severity: str | None
    confidence: float | None

    @classmethod
    def of(cls, a: IssueAnalysis) -> AnalysisBrief:
        """The response shape of the stored row."""
        return cls(
            id=a.id,
            status=a.status,  # type: ignore[arg-type]
            status_reason=a.status_reason,
            summary=a.summary,
            severity=a.severity,
            confidence=a.confidence,
        )


class AnalysisOut(AnalysisBrief):
    """An AI (or heuristic) root-cause analysis of an issue. Text fields are untrusted: escape them."""

    trigger: str = Field(description="first | regression | manual")
    root_cause: str | None
    suggested_fix: str | None
    category: str | None
    analysis_text: str | None = Field(description="Readable markdown with HTML neutralised")
    provider: str | None
    model: str | None
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: int | None
    attempts: int
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, a: IssueAnalysis) -> AnalysisOut:  # type: ignore[override]
        """The response shape of the stored row."""
        return cls(
            **AnalysisBrief.of(a).model_dump(),
            trigger=a.trigger,
            root_cause=a.root_cause,
            suggested_fix=a.suggested_fix,
            category=a.category,
            analysis_text=a.analysis_text,
            provider=a.provider,
            model=a.model,
            tokens_in=a.tokens_in,
            tokens_out=a.tokens_out,
            latency_ms=a.latency_ms,
            attempts=a.attempts,
            created_at=a.created_at,
            finished_at=a.finished_at,
        )


_ISSUE_EXAMPLE: dict[str, Any] = {
    "id": 42,
    "short_id": "SHOP-12",
    "project_id": 1,
    "title": "OperationalError: connection to server at db:5432 failed: timeout expired",
    "culprit": "app.db in get_connection",
    "level": "error",
    "status": "unresolved",
    "is_regressed": False,
    "times_seen": 17,
    "events_24h": 5,
    "first_seen": "2026-11-29T08:00:00Z",
    "last_seen": _WHEN,
    "resolved_at": None,
    "analysis": {
        "id": 7,
        "status": "done",
        "status_reason": None,
        "summary": "The database refused connections: the pool timed out reaching `db:5432`.",
        "severity": "high",
        "confidence": 0.72,
    },
}


class IssueOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ISSUE_EXAMPLE]})

    id: int
    short_id: str = Field(description="The issue's id within its project, as the dashboard shows it: SHOP-12")
    project_id: int
    title: str
    culprit: str
    level: str
    status: IssueStatus
    is_regressed: bool = Field(description="Seen again after it was resolved")
    times_seen: int
    events_24h: int = Field(description="Events received in the last 24 hours")
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    analysis: AnalysisBrief | None = Field(description="The latest analysis; null when none was wanted")

    @classmethod
    def of(cls, issue: Issue, project: Project, analysis: IssueAnalysis | None, events_24h: int) -> IssueOut:
        """The response shape of the stored row."""
        return cls(
            id=issue.id,
            short_id=short_id(project, issue),
            project_id=issue.project_id,
            title=issue.title,
            culprit=issue.culprit,
            level=issue.level,
            status=issue.status,  # type: ignore[arg-type]
            is_regressed=issue.is_regressed,
            times_seen=issue.times_seen,
            events_24h=events_24h,
            first_seen=issue.first_seen,
            last_seen=issue.last_seen,
            resolved_at=issue.resolved_at,
            analysis=AnalysisBrief.of(analysis) if analysis else None,
        )


class IssuePageOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"items": [_ISSUE_EXAMPLE], "next_cursor": "WyJsYXN0X3NlZW4iLC...", "prev_cursor": None}
            ]
        }
    )

    items: list[IssueOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(description="Pass as `cursor` for the previous page")


class IssueDetailOut(IssueOut):
    """One issue with its full latest analysis and the id of its latest event."""

    analysis: AnalysisOut | None  # type: ignore[assignment]
    latest_event_id: int | None
    first_release: str | None = Field(description="The release of the issue's first event, if it named one")


class EventSummaryOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1001,
                    "event_id": "9f1c2a7e0b5d4c3f8e6a1b2c3d4e5f60",
                    "project_id": 1,
                    "issue_id": 42,
                    "level": "error",
                    "status_code": 500,
                    "environment": "production",
                    "release": "shop@2.4.1",
                    "timestamp": _WHEN,
                    "created_at": _WHEN,
                    "message": "Database connection failed",
                }
            ]
        }
    )

    id: int = Field(description="error_events.id")
    event_id: str = Field(description="The client's event id (32 hex characters)")
    project_id: int
    issue_id: int | None
    level: str
    status_code: int | None
    environment: str | None
    release: str | None
    timestamp: datetime = Field(description="When the client says it happened")
    created_at: datetime = Field(description="When it was stored")
    message: str | None

    @classmethod
    def of(cls, e: EventSummary | ErrorEvent) -> EventSummaryOut:
        """The response shape of the stored row."""
        message = e.message if isinstance(e, EventSummary) else (e.data or {}).get("message")
        return cls(
            id=e.id,
            event_id=e.event_id,
            project_id=e.project_id,
            issue_id=e.issue_id,
            level=e.level,
            status_code=e.status_code,
            environment=e.environment,
            release=e.release,
            timestamp=e.timestamp,
            created_at=e.created_at,
            message=message,
        )


class EventPageOut(BaseModel):
    items: list[EventSummaryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for older events")


class EventOut(EventSummaryOut):
    """One event: the normalized form (exceptions, frames, request, breadcrumbs…) and the payload as sent."""

    data: dict[str, Any] = Field(description="The normalized event (secrets and PII already scrubbed)")
    payload: dict[str, Any] = Field(description="What the client sent, scrubbed")
    analysis_id: int | None

    @classmethod
    def of(cls, e: ErrorEvent) -> EventOut:  # type: ignore[override]
        """The response shape of the stored row."""
        return cls(
            **EventSummaryOut.of(e).model_dump(), data=e.data, payload=e.payload, analysis_id=e.analysis_id
        )


class StatusIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "resolved"}]})

    status: IssueStatus


class ReanalysisOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"analysis_id": 8, "error_event_id": 1001, "status": "pending"}]}
    )

    analysis_id: int
    error_event_id: int = Field(description="The event the new analysis reads (the issue's latest)")
    status: AnalysisStatus = "pending"


class ReleaseOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "version": "shop@2.4.1",
                    "first_seen": "2026-12-06T21:04:11Z",
                    "last_seen": "2026-12-06T23:40:02Z",
                    "events": 1843,
                    "new_issues": 2,
                }
            ]
        },
    )

    version: str
    first_seen: datetime = Field(description="When its first event was stored")
    last_seen: datetime = Field(description="When its latest event was stored")
    events: int = Field(description="Events stored with this release (retention deletes old ones)")
    new_issues: int = Field(description="Issues whose first event came from this release")


class ReleasePageOut(BaseModel):
    items: list[ReleaseOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for older releases")


class ErrorOut(BaseModel):
    detail: str
