"""The seed's own event JSON (`POST /api/v1/events`) and the answer to it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

# 1e14 ms is the year 5138; past that a number is no timestamp.
MAX_EPOCH_NUMBER = 1e14


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

    # The project's key: its DSN public key, or the key the seed endpoint auto-created it with. It may
    # come instead as Sentry credentials (`X-Sentry-Auth`, `?sentry_key=`).
    project_key: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"^[^\x00]+$"
    )  # PostgreSQL text has no NUL
    # The client's id for this event: a resend with the same id is stored once (so is one with the same
    # `Idempotency-Key` header). Sentry's form: a UUID, with or without dashes.
    event_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$",
        description="a UUID; a retry with the same id is stored once",
    )
    # Long texts are not refused (the 1 MiB body limit bounds them): like Sentry, the event keeps them
    # truncated with a marker for grouping and analysis, while `payload` stores what was sent.
    message: str = Field(min_length=1)
    stack: str | None = None
    method: str | None = Field(default=None, max_length=16)
    path: str | None = None
    status_code: int | None = Field(default=None, ge=100, le=599)
    # An RFC 3339 string, or seconds (or milliseconds) since the epoch as clients also send it.
    timestamp: Annotated[
        datetime | None,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "format": "date-time"},
                    {"type": "number", "minimum": 0, "maximum": MAX_EPOCH_NUMBER},
                    {"type": "null"},
                ]
            }
        ),
    ] = None

    @field_validator("timestamp", mode="before")
    @classmethod
    def _epoch_in_range(cls, value: object) -> object:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and not 0 <= value <= MAX_EPOCH_NUMBER:  # type: ignore[operator]
            raise ValueError(
                f"a numeric timestamp counts seconds or ms since 1970, 0 to {MAX_EPOCH_NUMBER:g}"
            )
        return value


class EventAccepted(BaseModel):
    """Returned once the event is committed; analysis, if any, happens later."""

    id: int | None = Field(
        description="error_events.id (of the event stored first, for a resend of the same event_id); null "
        "when no digester stored the event within SEED_ANSWER_WAIT_S: it is accepted all the same and "
        "stored later"
    )
    event_id: str = Field(description="the event's id: a retry that sends it again is stored once")
    issue_id: int | None
    analysis_queued: bool = Field(description="true when this event's issue has an analysis pending or done")
    analysis_id: int | None
