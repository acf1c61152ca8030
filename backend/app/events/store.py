"""Store prepared events (scrubbed and grouped, app/events/prepare.py), many in one transaction.

`store_batch` is the database work for a batch, in the caller's transaction: every event's issue
upserted and the event inserted (one statement), then a pending analysis for each issue that now
needs one (only when there is such an issue), then the alert deliveries the batch asks for (only when
its projects have alert rules; app/events/alert_match.py). Before it commits, the caller gives the
issues its transaction created their short numbers (`number_new_issues`, its last write), and only
after the commit sends the new analyses' jobs.

`store_each_once` is what the digester (app/ingest/digester.py), the one writer of events, wraps
around it: resends, deadlocks and events the database refuses, each handled without failing the
rest of the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection

from app.events import repository
from app.events.alert_match import TouchedIssue, wanted_deliveries
from app.events.prepare import PreparedEvent

logger = logging.getLogger(__name__)

MAX_DEADLOCK_RETRIES = 3


@dataclass(frozen=True)
class StoredEvent:
    id: int | None  # error_events.id; None for a duplicate event_id
    event_id: str
    issue_id: int | None
    analysis_id: int | None
    analysis_created: bool  # a new pending analysis: the dispatcher must enqueue it
    issue_created: bool = False  # its issue is new: number_new_issues must number it before the commit

    @property
    def duplicate(self) -> bool:
        return self.id is None

    @classmethod
    def duplicate_of(cls, event: PreparedEvent) -> StoredEvent:
        """The answer for a resend of an event already stored: nothing written, nothing counted."""
        return cls(None, event.event_id, None, None, analysis_created=False)


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
    rows = await repository.insert_events_with_issues(conn, events)
    by_key = {(r.project_id, r.event_id): r for r in rows}
    if len(by_key) < len(events):
        raise AlreadyStored({e.key for e in events} - by_key.keys())
    inserted = [by_key[e.key] for e in events]

    # An event that needs analysis shows its issue's current analysis; an issue without one gets a
    # pending analysis of its first such event, which the dispatcher enqueues after the commit.
    wanted: dict[int, repository.WantedAnalysis] = {}
    for event, row in zip(events, inserted, strict=True):
        if not event.needs_analysis or row.issue_analysis_id is not None:
            continue
        if row.issue_id not in wanted:
            wanted[row.issue_id] = repository.WantedAnalysis(
                project_id=row.project_id,
                issue_id=row.issue_id,
                generation=row.issue_generation,
                error_event_id=row.id,
                trigger="regression" if row.issue_generation > 1 else "first",
            )
        wanted[row.issue_id].linked_event_ids.append(row.id)
    created = await repository.create_pending_for_events(conn, list(wanted.values()))

    await _create_alert_deliveries(conn, events, inserted, created)

    stored = []
    for event, row in zip(events, inserted, strict=True):
        analysis_id = created.get(row.issue_id, row.issue_analysis_id) if event.needs_analysis else None
        is_new = row.issue_id in wanted and wanted[row.issue_id].error_event_id == row.id
        stored.append(
            StoredEvent(
                row.id,
                event.event_id,
                row.issue_id,
                analysis_id,
                analysis_created=is_new,
                issue_created=row.issue_created,
            )
        )
    return stored


async def _create_alert_deliveries(
    conn: AsyncConnection[Any],
    events: list[PreparedEvent],
    inserted: list[repository.InsertedEvent],
    created_analyses: dict[int, int],
) -> None:
    """The alert deliveries the batch asks for (app/events/alert_match.py), in its transaction."""
    rules = await repository.alert_rules_for(conn, sorted({e.project_id for e in events}))
    if not rules:
        return
    touched = {
        TouchedIssue(
            project_id=row.project_id,
            issue_id=row.issue_id,
            created=row.issue_created,
            regressed=row.issue_regressed,
            generation=row.issue_generation,
            analysis_id=created_analyses.get(row.issue_id, row.issue_analysis_id),
            level=event.level,
            environment=event.environment,
        )
        for event, row in zip(events, inserted, strict=True)
    }
    await repository.create_alert_deliveries(conn, wanted_deliveries(rules, touched))


async def number_new_issues(conn: AsyncConnection[Any], stored: Iterable[StoredEvent]) -> None:
    """Number the new issues of the events a transaction stored (their short ids, SHOP-12): once,
    as the transaction's last write before its commit (app/events/repository.py says why)."""
    await repository.number_new_issues(
        conn, [s.issue_id for s in stored if s.issue_created and s.issue_id is not None]
    )


# Writes events with `store_batch` all or nothing: in a transaction of its own, or under a savepoint.
AtomicWrite = Callable[[list[PreparedEvent]], Awaitable[list[StoredEvent]]]
Outcomes = dict[tuple[int, str], StoredEvent | psycopg.Error]


async def store_each_once(write: AtomicWrite, events: list[PreparedEvent]) -> Outcomes:
    """Store distinct events (by `key`) with `write`; the outcome of each, by key.

    A resend of a stored event comes back as a duplicate (id None) and is not written again; a
    deadlock is retried; an event the database refuses gets its error while the others are stored.
    A lost connection (OperationalError, InterfaceError) is raised: nothing more can be written.
    """
    outcomes: Outcomes = {}
    todo = events
    deadlocks = 0
    while todo:
        try:
            stored = await write(todo)
        except AlreadyStored as exc:
            outcomes.update((e.key, StoredEvent.duplicate_of(e)) for e in todo if e.key in exc.keys)
            todo = [e for e in todo if e.key not in exc.keys]
            continue
        except psycopg.errors.DeadlockDetected:
            deadlocks += 1
            if deadlocks <= MAX_DEADLOCK_RETRIES:
                continue
            raise
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise
        except psycopg.Error as exc:
            if len(todo) == 1:
                outcomes[todo[0].key] = exc
                return outcomes
            # One event the database refuses must not fail the others written with it.
            logger.warning("batch of %d events refused (%s); storing them one by one", len(todo), exc)
            for event in todo:
                outcomes.update(await store_each_once(write, [event]))
            return outcomes
        outcomes.update((e.key, s) for e, s in zip(todo, stored, strict=True))
        todo = []
    return outcomes
