"""Store one normalized event: scrub it, group it into its issue, and mark its analysis pending.

Everything here runs in the caller's transaction; the caller commits and only then hands
`StoredEvent.dispatch_event_id` to the analysis dispatcher (enqueue after commit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.analysis import repository as analysis_repository
from app.grouping.fingerprint import compute_grouping
from app.ingest import repository as event_repository
from app.ingest.event import NormalizedEvent
from app.issues import repository as issue_repository
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


class DuplicateEvent(Exception):
    """The (project, event_id) is already stored; the caller rolls back and answers 200 anyway."""


async def store_event(
    session: AsyncSession, project: Project, event: NormalizedEvent, payload: dict[str, Any]
) -> StoredEvent:
    """Insert the event and its issue (and a pending analysis when one is wanted)."""
    event = redact_event(event)
    payload = redact_payload(payload)
    grouping = compute_grouping(event)
    issue = await issue_repository.upsert_for_event(
        session,
        project_id=project.id,
        fingerprint=grouping.fingerprint,
        grouping_version=grouping.version,
        title=grouping.title,
        culprit=grouping.culprit,
        level=event.level,
        seen_at=datetime.now(UTC),
    )
    needs_analysis = event.needs_analysis
    reuse_analysis_id = issue.current_analysis_id if needs_analysis else None
    event_pk = await event_repository.insert_event(
        session,
        project_id=project.id,
        issue_id=issue.id,
        event_id=event.event_id,
        status_code=event.status_code,
        level=event.level,
        environment=event.environment,
        release=event.release,
        timestamp=event.timestamp,
        payload=payload,
        data=event.to_dict(),
        analysis_id=reuse_analysis_id,
    )
    if event_pk is None:
        raise DuplicateEvent(event.event_id)

    if not needs_analysis or reuse_analysis_id is not None:
        return StoredEvent(event_pk, event.event_id, issue.id, reuse_analysis_id, analysis_created=False)

    analysis_id = await analysis_repository.create_pending(
        session,
        project_id=project.id,
        issue_id=issue.id,
        generation=issue.analysis_generation,
        error_event_id=event_pk,
        trigger="regression" if issue.analysis_generation > 1 else "first",
    )
    # The issue row is locked by our upsert until commit, so no one else can have created
    # this generation's analysis; the guard is the unique constraint all the same.
    assert analysis_id is not None
    await issue_repository.set_current_analysis(session, issue.id, analysis_id)
    await event_repository.link_analysis(session, event_pk, analysis_id)
    return StoredEvent(event_pk, event.event_id, issue.id, analysis_id, analysis_created=True)
