"""Store normalized events: scrub and group each one, then write a batch of them in one transaction.

`prepare_event` is the per-event CPU work (redaction, grouping, JSON for the two JSONB columns) and
runs in the request. `store_batch` is the database work for many prepared events at once, in the
caller's transaction: every event's issue upserted and the event inserted (one statement), then a
pending analysis for each issue that now needs one (only when there is such an issue). The caller
commits and only then answers the requests and hands new analyses to the dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from app.analysis import repository as analysis_repository
from app.db import dumps_jsonb
from app.grouping.fingerprint import compute_grouping
from app.ingest import repository as event_repository
from app.ingest.event import NormalizedEvent
from app.models import Project
from app.privacy.redact import redact_event, redact_payload


@dataclass(frozen=True)
class StoredEvent:
    id: int | None  # error_events.id; None for a duplicate event_id
    event_id: str
    issue_id: int | None
    analysis_id: int | None
    analysis_created: bool  # a new pending analysis: the dispatcher must enqueue it

    @property
    def duplicate(self) -> bool:
        return self.id is None


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


def prepare_event(project: Project, event: NormalizedEvent, payload: dict[str, Any]) -> PreparedEvent:
    """Scrub the event and its payload, group it, and serialise both for the JSONB columns."""
    event = redact_event(event)
    grouping = compute_grouping(event)
    return PreparedEvent(
        project_id=project.id,
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


class AlreadyStored(Exception):
    """Some events of the batch are resends of stored ones; the caller must roll back."""

    def __init__(self, keys: set[tuple[int, str]]) -> None:
        super().__init__(f"{len(keys)} event(s) already stored")
        self.keys = keys


async def store_batch(conn: AsyncConnection[Any], events: list[PreparedEvent]) -> list[StoredEvent]:
    """Write distinct events (by `key`) in the caller's transaction; one StoredEvent per event, in order.

    Raises AlreadyStored when some of them are stored already (a client resend): the caller rolls
    back, answers those as duplicates and writes the rest again, so a resent event never counts
    twice in its issue's `times_seen`.
    """
    rows = await event_repository.insert_events_with_issues(conn, events)
    by_key = {(r.project_id, r.event_id): r for r in rows}
    if len(by_key) < len(events):
        raise AlreadyStored({e.key for e in events} - by_key.keys())
    inserted = [by_key[e.key] for e in events]

    # An event that needs analysis shows its issue's current analysis; an issue without one gets a
    # pending analysis of its first such event, which the dispatcher enqueues after the commit.
    wanted: dict[int, analysis_repository.WantedAnalysis] = {}
    for event, row in zip(events, inserted, strict=True):
        if not event.needs_analysis or row.issue_analysis_id is not None:
            continue
        if row.issue_id not in wanted:
            wanted[row.issue_id] = analysis_repository.WantedAnalysis(
                project_id=row.project_id,
                issue_id=row.issue_id,
                generation=row.issue_generation,
                error_event_id=row.id,
                trigger="regression" if row.issue_generation > 1 else "first",
            )
        wanted[row.issue_id].linked_event_ids.append(row.id)
    created = await analysis_repository.create_pending_for_events(conn, list(wanted.values()))

    stored = []
    for event, row in zip(events, inserted, strict=True):
        analysis_id = created.get(row.issue_id, row.issue_analysis_id) if event.needs_analysis else None
        is_new = row.issue_id in wanted and wanted[row.issue_id].error_event_id == row.id
        stored.append(StoredEvent(row.id, event.event_id, row.issue_id, analysis_id, analysis_created=is_new))
    return stored
