"""The seed's own event JSON (`POST /api/v1/events`) and the answer to it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class SeedEventIn(BaseModel):
    """An error as the seed's clients send it; unknown fields are kept in the stored payload."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "project_key": "test-project",
                    "message": "Database connection failed",
                    "stack": "Error: Connection timeout",
                    "method": "GET",
                    "path": "/api/users",
                    "status_code": 500,
                    "timestamp": "2024-01-15T12:00:00Z",
                }
            ]
        },
    )

    project_key: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=100_000)
    stack: str | None = Field(default=None, max_length=1_000_000)
    method: str | None = Field(default=None, max_length=16)
    path: str | None = Field(default=None, max_length=8192)
    status_code: int | None = Field(default=None, ge=100, le=599)
    timestamp: datetime | None = None


class EventAccepted(BaseModel):
    """Returned once the event is committed; analysis, if any, happens later."""

    id: int | None = Field(description="error_events.id (null when this event_id was already stored)")
    event_id: str
    issue_id: int | None
    analysis_queued: bool = Field(description="true when this event's issue has an analysis pending or done")
    analysis_id: int | None
