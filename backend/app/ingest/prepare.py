"""The per-event CPU work of ingest: scrub an event and its payload, group it, serialise both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.db import dumps_jsonb
from app.grouping.fingerprint import compute_grouping
from app.ingest.event import NormalizedEvent
from app.privacy.redact import redact_event, redact_payload


@dataclass(frozen=True)
class PreparedEvent:
    """One event ready to be written: scrubbed, grouped and serialised."""

    project_id: int
    event_id: str
    fingerprint: str
    grouping_version: str
    title: str
    culprit: str
    level: str
    status_code: int | None
    environment: str | None
    release: str | None
    timestamp: datetime
    received_at: datetime
    needs_analysis: bool
    payload_json: str  # the client's payload, scrubbed
    data_json: str  # the NormalizedEvent, scrubbed

    @property
    def key(self) -> tuple[int, str]:
        """What makes two events the same event (a client resend)."""
        return (self.project_id, self.event_id)


def prepare_event(project_id: int, event: NormalizedEvent, payload: dict[str, Any]) -> PreparedEvent:
    """Scrub the event and its payload, group it, and serialise both for the JSONB columns."""
    event = redact_event(event)
    grouping = compute_grouping(event)
    return PreparedEvent(
        project_id=project_id,
        event_id=event.event_id,
        fingerprint=grouping.fingerprint,
        grouping_version=grouping.version,
        title=grouping.title,
        culprit=grouping.culprit,
        level=event.level,
        status_code=event.status_code,
        environment=event.environment,
        release=event.release,
        timestamp=event.timestamp,
        received_at=datetime.now(UTC),
        needs_analysis=event.needs_analysis,
        payload_json=dumps_jsonb(redact_payload(payload)),
        # orjson writes the dataclass itself: the JSON of event.to_dict() without asdict's deep copy.
        data_json=dumps_jsonb(event),
    )
