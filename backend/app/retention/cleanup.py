"""One retention pass: delete expired events, the issues left without events, and dead inbox rows.

An event expires EVENT_RETENTION_DAYS (90) days after it was stored, or after its project's own
`event_retention_days` (0: never). Runs as the beat entry `delete-expired-events` every
RETENTION_INTERVAL_S, or once via `python -m app cleanup`.

Each batch is a transaction of its own deleting at most RETENTION_BATCH events, so ingest never waits
long for a lock and a pass can stop anywhere (its time budget, a crash): the next pass carries on.
An issue whose last event expired is deleted with its analyses, search rows and facets (and anything
else that references it ON DELETE CASCADE); an issue that keeps events keeps its `times_seen`, the
count of every event it ever had. Inbox rows that no digester will store (their project was deleted,
or they failed every attempt) are deleted INBOX_PRUNE_GRACE_HOURS after they were received, and
source-map upload chunks never assembled a day after they came.

Only one pass runs at a time (an advisory lock); a second one returns at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from app.config import Settings
from app.db import get_sync_engine, sync_session
from app.metrics import retention_events_deleted, retention_issues_deleted
from app.retention import repository
from app.retention.repository import ProjectCutoff

logger = logging.getLogger(__name__)

ISSUE_PAGE = 200  # issues whose expired events one round of batches deletes
# Chunks of a source-map upload are assembled within seconds; any left after a day were abandoned.
UPLOAD_CHUNK_GRACE_S = 24 * 3600


@dataclass
class CleanupReport:
    events_deleted: int = 0
    issues_deleted: int = 0
    inbox_rows_deleted: int = 0
    upload_chunks_deleted: int = 0
    batches: int = 0
    finished: bool = True  # False: stopped by its time budget; the next pass carries on
    skipped: bool = False  # another pass was running

    def __str__(self) -> str:
        if self.skipped:
            return "another cleanup pass is running; nothing done"
        state = "" if self.finished else " (time budget spent; the next pass carries on)"
        return (
            f"deleted {self.events_deleted} expired events, {self.issues_deleted} issues left without "
            f"events and {self.inbox_rows_deleted} dead inbox rows in {self.batches} batches{state}"
        )


class _Budget:
    def __init__(self, max_seconds: float | None) -> None:
        self.deadline = None if max_seconds is None else time.monotonic() + max_seconds

    def spent(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


def run_cleanup(
    settings: Settings,
    *,
    inbox_max_attempts: int,
    max_seconds: float | None = None,
    batch: int | None = None,
) -> CleanupReport:
    """One pass (see the module docstring); `inbox_max_attempts` is the inbox's MAX_ATTEMPTS."""
    report = CleanupReport()
    budget = _Budget(max_seconds)
    limit = batch or settings.retention_batch
    with repository.pass_lock(get_sync_engine()) as got:
        if not got:
            report.skipped = True
            return report
        with sync_session() as session:
            cutoffs = repository.project_cutoffs(session, settings.event_retention_days)
        for project in cutoffs:
            if not _purge_project(project, limit, budget, report):
                report.finished = False
                break
        grace_s = settings.inbox_prune_grace_hours * 3600
        while report.finished:
            with sync_session() as session:
                pruned = repository.prune_inbox(
                    session, grace_s=grace_s, max_attempts=inbox_max_attempts, limit=limit
                )
            report.inbox_rows_deleted += pruned
            report.batches += 1
            if pruned < limit:
                break
            if budget.spent():
                report.finished = False
        if report.finished:
            with sync_session() as session:
                report.upload_chunks_deleted = repository.prune_upload_chunks(
                    session, grace_s=UPLOAD_CHUNK_GRACE_S
                )
    if report.events_deleted or report.issues_deleted or report.inbox_rows_deleted:
        logger.info("retention: %s", report)
    return report


def _purge_project(project: ProjectCutoff, limit: int, budget: _Budget, report: CleanupReport) -> bool:
    """Delete the project's expired events and emptied issues; False if the budget ran out first."""
    after = 0
    while True:
        with sync_session() as session:
            issue_ids = repository.issues_seen_before(
                session, project.project_id, project.cutoff, after, ISSUE_PAGE
            )
        if not issue_ids:
            break
        after = issue_ids[-1]
        while True:
            with sync_session() as session:
                deleted = repository.delete_expired_events_of_issues(
                    session, issue_ids, project.cutoff, limit
                )
            _count_events(report, deleted)
            if deleted < limit:
                break
            if budget.spent():
                return False
        with sync_session() as session:
            removed = repository.delete_issues_without_events(session, issue_ids)
        report.issues_deleted += removed
        retention_issues_deleted.inc(removed)
        if budget.spent():
            return False
    while True:
        with sync_session() as session:
            deleted = repository.delete_expired_ungrouped_events(
                session, project.project_id, project.cutoff, limit
            )
        _count_events(report, deleted)
        if deleted < limit:
            return True
        if budget.spent():
            return False


def _count_events(report: CleanupReport, deleted: int) -> None:
    report.events_deleted += deleted
    report.batches += 1
    retention_events_deleted.inc(deleted)
