"""Retention on real PostgreSQL: expired events deleted in batches, issues left without events
removed with their analyses and search rows, surviving issues keeping times_seen, a project's own
retention honoured, dead inbox rows pruned after their grace period; `python -m app cleanup` too."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import text

from app.config import get_settings
from app.db import get_sync_engine
from app.ingest.inbox import MAX_ATTEMPTS
from app.retention.cleanup import run_cleanup
from tests.support.db import rows, scalar, wait_until
from tests.support.processes import BACKEND_DIR


def execute(sql: str, **params: object) -> object:
    """Run one statement, committed; the first column of its first row, if it returns rows."""
    with get_sync_engine().begin() as conn:
        result = conn.execute(text(sql), params)
        return result.scalar() if result.returns_rows else None


def project(name: str, retention_days: int | None = None) -> int:
    return int(
        execute(
            "INSERT INTO projects (name, public_key, event_retention_days) VALUES (:name, :key, :days) "
            "RETURNING id",
            name=name,
            key=uuid.uuid4().hex,
            days=retention_days,
        )
    )


def issue(project_id: int, title: str, *, events_days_old: list[float], analysed: bool = True) -> int:
    """An issue with events stored that many days ago (its counters as ingest would have left them),
    an analysis, and its search and facet rows (written by the tables' triggers)."""
    issue_id = int(
        execute(
            """
            INSERT INTO issues (project_id, fingerprint, grouping_version, title, culprit, level, status,
                                is_regressed, first_seen, last_seen, times_seen, analysis_generation)
            VALUES (:project, :fingerprint, 'v1', :title, 'shop.views', 'error', 'unresolved', false,
                    now() - make_interval(days => :oldest), now() - make_interval(days => :newest), :n, 1)
            RETURNING id
            """,
            project=project_id,
            fingerprint=uuid.uuid4().hex,
            title=title,
            oldest=max(events_days_old),
            newest=min(events_days_old),
            n=len(events_days_old),
        )
    )
    for days in events_days_old:
        execute(
            """
            INSERT INTO error_events (project_id, issue_id, event_id, status_code, level, environment,
                                      release, timestamp, created_at, payload, data)
            VALUES (:project, :issue, :event_id, 500, 'error', 'production', 'shop@1.0',
                    now() - make_interval(days => :days), now() - make_interval(days => :days),
                    '{"message": "boom"}', '{"message": "boom"}')
            """,
            project=project_id,
            issue=issue_id,
            event_id=uuid.uuid4().hex,
            days=days,
        )
    if analysed:
        execute(
            """
            INSERT INTO issue_analyses (project_id, issue_id, generation, trigger, status, attempts, summary)
            VALUES (:project, :issue, 1, 'first', 'done', 1, 'a summary')
            """,
            project=project_id,
            issue=issue_id,
        )
    return issue_id


def count(table: str, issue_id: int) -> int:
    return int(scalar(f"SELECT count(*) FROM {table} WHERE issue_id = :id", id=issue_id))


def cleanup(batch: int | None = None) -> object:
    return run_cleanup(get_settings(), inbox_max_attempts=MAX_ATTEMPTS, batch=batch)


def test_expired_events_go_in_batches_and_issues_left_empty_go_with_their_rows() -> None:
    shop = project("shop")  # EVENT_RETENTION_DAYS: 90
    gone = issue(shop, "all expired", events_days_old=[120, 100, 95])
    mixed = issue(shop, "half expired", events_days_old=[200, 91, 30, 1])
    fresh = issue(shop, "all fresh", events_days_old=[89, 2])
    assert count("issue_search", gone) == count("issue_facets", gone) // 2 == 1

    report = cleanup(batch=2)

    assert report.events_deleted == 5
    assert report.batches >= 3  # 5 expired events, at most 2 a transaction
    assert report.issues_deleted == 1
    assert scalar("SELECT count(*) FROM issues") == 2
    assert scalar("SELECT count(*) FROM issues WHERE id = :id", id=gone) == 0
    for table in ("error_events", "issue_analyses", "issue_search", "issue_facets"):
        assert count(table, gone) == 0, table
    # The survivors keep every count and row but their expired events.
    assert count("error_events", mixed) == 2
    assert count("error_events", fresh) == 2
    assert scalar("SELECT times_seen FROM issues WHERE id = :id", id=mixed) == 4
    assert scalar("SELECT times_seen FROM issues WHERE id = :id", id=fresh) == 2
    for table in ("issue_analyses", "issue_search"):
        assert count(table, mixed) == count(table, fresh) == 1, table
    assert scalar("SELECT count(*) FROM error_events WHERE created_at < now() - interval '90 days'") == 0

    # A second pass finds nothing more to do.
    again = cleanup(batch=2)
    assert (again.events_deleted, again.issues_deleted) == (0, 0)


def test_a_projects_own_retention_overrides_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    short = project("short", retention_days=7)
    forever = project("forever", retention_days=0)
    default = project("default")
    short_issue = issue(short, "short lived", events_days_old=[10, 8])
    forever_issue = issue(forever, "kept forever", events_days_old=[3650, 400])
    default_issue = issue(default, "thirty days", events_days_old=[31, 10])

    report = cleanup()

    assert report.issues_deleted == 1
    assert scalar("SELECT count(*) FROM issues WHERE id = :id", id=short_issue) == 0
    assert count("error_events", forever_issue) == 2
    assert count("error_events", default_issue) == 1
    assert scalar("SELECT count(*) FROM issues") == 2


def test_dead_inbox_rows_are_pruned_after_the_grace_period() -> None:
    shop = project("inbox shop")
    missing_project = shop + 1000

    def inbox_row(project_id: int, hours_old: float, attempts: int) -> int:
        return int(
            execute(
                """
                INSERT INTO ingest_inbox (project_id, event_id, received_at, sealed, attempts, last_error)
                VALUES (:project, md5(random()::text), now() - make_interval(secs => :hours * 3600),
                        '\\x00', :attempts, 'store: broken')
                RETURNING id
                """,
                project=project_id,
                hours=hours_old,
                attempts=attempts,
            )
        )

    given_up_long_ago = inbox_row(shop, 24 * 8, MAX_ATTEMPTS)
    given_up_lately = inbox_row(shop, 1, MAX_ATTEMPTS)  # within the week's grace: kept to look at
    orphan_long_ago = inbox_row(missing_project, 24 * 8, 0)
    orphan_lately = inbox_row(missing_project, 1, 0)

    report = cleanup()

    kept = {row["id"] for row in rows("SELECT id FROM ingest_inbox")}
    assert report.inbox_rows_deleted == 2
    assert given_up_lately in kept and orphan_lately in kept
    assert given_up_long_ago not in kept and orphan_long_ago not in kept


def test_upload_chunks_never_assembled_are_pruned_after_a_day() -> None:
    for checksum, hours in (("a" * 40, 25), ("b" * 40, 1)):
        execute(
            "INSERT INTO upload_chunks (checksum, size, content, created_at)"
            " VALUES (:c, 1, '\\x00', now() - make_interval(secs => :hours * 3600))",
            c=checksum,
            hours=hours,
        )
    report = cleanup()
    assert report.upload_chunks_deleted == 1
    assert [row["checksum"] for row in rows("SELECT checksum FROM upload_chunks")] == ["b" * 40]


def test_python_m_app_cleanup_runs_one_pass() -> None:
    shop = project("cli shop", retention_days=1)
    issue(shop, "old news", events_days_old=[2, 3])
    out = subprocess.run(
        [sys.executable, "-m", "app", "cleanup"],
        cwd=BACKEND_DIR,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "deleted 2 expired events, 1 issues left without events" in out.stdout
    assert scalar("SELECT count(*) FROM issues") == 0


def test_python_m_app_set_retention_sets_and_clears_a_projects_retention() -> None:
    shop = project("retained")

    def set_retention(days: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "app", "set-retention", str(shop), days],
            cwd=BACKEND_DIR,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout

    assert "keeps its events: 14 days" in set_retention("14")
    assert scalar("SELECT event_retention_days FROM projects WHERE id = :id", id=shop) == 14
    assert "EVENT_RETENTION_DAYS" in set_retention("default")
    assert scalar("SELECT event_retention_days FROM projects WHERE id = :id", id=shop) is None


def test_the_beat_entry_runs_a_pass_in_the_worker(worker) -> None:
    from app.celery_app import celery_app

    entry = celery_app.conf.beat_schedule["delete-expired-events"]
    assert entry["task"] == "app.tasks.delete_expired_events"
    assert entry["schedule"] == get_settings().retention_interval_s
    shop = project("beat shop", retention_days=5)
    kept = issue(shop, "still here", events_days_old=[6, 1])
    issue(shop, "long gone", events_days_old=[30])

    celery_app.send_task(entry["task"])  # what beat sends

    wait_until(lambda: scalar("SELECT count(*) FROM issues") == 1)
    wait_until(lambda: count("error_events", kept) == 1)
    assert scalar("SELECT times_seen FROM issues WHERE id = :id", id=kept) == 2
