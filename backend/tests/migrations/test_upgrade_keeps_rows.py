"""Upgrades never lose data: a database filled at the previous revision is upgraded to head and
keeps every row (events, issues, analyses, inbox rows, users, members, tokens); inbox rows still
digest, and a rule added after the upgrade gets its alert from that digest. Existing issues get short
numbers per project in first-seen order, and new ones continue them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from alembic.config import Config
from psycopg import sql
from sqlalchemy import make_url

from alembic import command
from app.config import get_settings
from app.db import libpq_conninfo
from app.ingest.digester import Digester, DigesterConfig
from app.ingest.inbox import inbox_box, seal
from app.runtime.migrate import BACKEND_DIR

PREVIOUS = "0006"


def alembic_config(database_url: str) -> Config:
    config = Config(str(BACKEND_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(BACKEND_DIR / "alembic"))
    config.attributes["configure_logger"] = False
    config.attributes["database_url"] = database_url
    return config


@pytest.fixture
def old_database() -> Iterator[str]:
    """A database of its own, migrated to the previous revision only."""
    url = make_url(os.environ["DATABASE_URL"])  # the suite's database, set by the integration conftest
    name = f"{url.database}_upgrade"
    admin = libpq_conninfo(os.environ["DATABASE_URL"], database="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    database_url = url.set(database=name).render_as_string(hide_password=False)
    command.upgrade(alembic_config(database_url), PREVIOUS)
    yield database_url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def fill(conn: psycopg.Connection, sealed: bytes, waiting_event_id: str) -> None:
    """One of everything, written as the previous revision's code wrote it."""
    conn.execute("INSERT INTO projects (id, name, public_key) VALUES (1, 'shop', 'k' || repeat('0', 31))")
    conn.execute(
        "INSERT INTO projects (id, name, public_key, seed_key_hash)"
        " VALUES (2, 'seedy', 's' || repeat('0', 31), encode(sha256('seedy'), 'hex'))"
    )
    conn.execute(
        "INSERT INTO users (id, email, password_hash, is_admin)"
        " VALUES (1, 'a@example.com', 'argon2$x', true), (2, 'b@example.com', 'argon2$y', false)"
    )
    conn.execute(
        "INSERT INTO api_tokens (id, name, token_hash, token_prefix, user_id, project_ids)"
        " VALUES (1, 'ci', repeat('a', 64), 'flt_abcd', 1, '{1}')"
    )
    conn.execute("INSERT INTO project_members (project_id, user_id) VALUES (1, 2)")
    now = datetime.now(UTC)
    conn.execute(
        "INSERT INTO issues (id, project_id, fingerprint, grouping_version, title, culprit, level, status,"
        " is_regressed, first_seen, last_seen, times_seen, analysis_generation)"
        " VALUES (1, 1, repeat('f', 64), 'v1', 'KeyError: x', 'app.views', 'error', 'unresolved',"
        " false, %(now)s, %(now)s, 1, 1)",
        {"now": now},
    )
    # Seen before issue 1 although created after it (ids and first_seen need not agree), and another
    # project's issue: each project is numbered on its own, in first-seen order.
    conn.execute(
        "INSERT INTO issues (id, project_id, fingerprint, grouping_version, title, culprit, level, status,"
        " is_regressed, first_seen, last_seen, times_seen, analysis_generation) VALUES"
        " (2, 1, repeat('e', 64), 'v1', 'TypeError: y', '', 'error', 'resolved', false,"
        "  %(now)s - interval '1 hour', %(now)s, 3, 1),"
        " (3, 2, repeat('d', 64), 'v1', 'Error: z', '', 'error', 'unresolved', false,"
        "  %(now)s, %(now)s, 1, 1)",
        {"now": now},
    )
    conn.execute(
        "INSERT INTO error_events (id, project_id, issue_id, event_id, status_code, level, timestamp,"
        " payload, data) VALUES (1, 1, 1, %(e)s, 500, 'error', %(now)s, %(payload)s, '{}')",
        {"e": "a" * 32, "now": now, "payload": json.dumps({"message": "Server error", "status_code": 500})},
    )
    conn.execute(
        "INSERT INTO issue_analyses (id, project_id, issue_id, generation, error_event_id, trigger, status,"
        " attempts, analysis_text, model, confidence)"
        " VALUES (1, 1, 1, 1, 1, 'first', 'done', 1, '## Summary', 'heuristic', 0.6)"
    )
    conn.execute(
        "INSERT INTO error_events (id, project_id, event_id, level, timestamp, payload, data)"
        " VALUES (2, 2, %(e)s, 'error', %(now)s, %(payload)s, '{}')",
        {"e": "b" * 32, "now": now, "payload": json.dumps({"project_key": "seedy", "message": "boom"})},
    )
    conn.execute("UPDATE issues SET current_analysis_id = 1 WHERE id = 1")
    conn.execute("UPDATE error_events SET analysis_id = 1 WHERE id = 1")
    for table in ("projects", "users", "api_tokens", "issues", "error_events", "issue_analyses"):
        # As if the app had inserted them: the next id the digester draws is a new one.
        last = f"(SELECT max(id) FROM {table})"
        conn.execute(f"SELECT setval(pg_get_serial_sequence(%s, 'id'), {last})", (table,))
    conn.execute(
        "INSERT INTO ingest_inbox (project_id, event_id, received_at, sealed)"
        " VALUES (1, %(e)s, %(now)s, %(s)s)",
        {"e": waiting_event_id, "now": now, "s": sealed},
    )


def test_upgrade_to_head_keeps_every_row_and_the_waiting_inbox_rows_still_digest(old_database: str) -> None:
    secret_key = get_settings().secret_key
    waiting = uuid.uuid4().hex
    sentry_event = {
        "event_id": waiting,
        "level": "error",
        "exception": {"values": [{"type": "ValueError", "value": "bad cart"}]},
    }
    conninfo = libpq_conninfo(old_database)
    with psycopg.connect(conninfo) as conn:
        fill(conn, seal(inbox_box(secret_key), json.dumps(sentry_event).encode()), waiting)

    command.upgrade(alembic_config(old_database), "head")

    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT name, seed_key_hash FROM projects ORDER BY id").fetchall() == [
            ("shop", None),
            ("seedy", hashlib.sha256(b"seedy").hexdigest()),
        ]
        assert conn.execute("SELECT email, is_admin FROM users ORDER BY id").fetchall() == [
            ("a@example.com", True),
            ("b@example.com", False),
        ]
        assert conn.execute("SELECT project_id, user_id FROM project_members").fetchall() == [(1, 2)]
        # An existing token keeps exactly what it could do: read.
        assert conn.execute("SELECT name, project_ids, scopes FROM api_tokens").fetchall() == [
            ("ci", [1], ["project:read"])
        ]
        # Existing issues get short numbers per project, in first-seen order.
        assert conn.execute(
            "SELECT title, current_analysis_id, project_id, short_number, regressed_at FROM issues"
            " ORDER BY id"
        ).fetchall() == [
            ("KeyError: x", 1, 1, 2, None),
            ("TypeError: y", None, 1, 1, None),
            ("Error: z", None, 2, 1, None),
        ]
        assert conn.execute("SELECT last_issue_number FROM projects ORDER BY id").fetchall() == [(2,), (1,)]
        # No rule is made for existing projects (a rule needs a channel); one added now alerts.
        assert conn.execute("SELECT count(*) FROM alert_rules").fetchone() == (0,)
        conn.execute(
            "INSERT INTO alert_rules (project_id, triggers, channel, target, secret)"
            " VALUES (1, '{new_issue}', 'webhook', 'http://127.0.0.1:9/hook', 's')"
        )
        # The seed's SQL still reads the old event with its analysis.
        assert conn.execute(
            "SELECT e.id, e.status_code, a.analysis_text FROM error_events e"
            " LEFT JOIN error_analysis a ON e.id = a.error_event_id WHERE e.status_code >= 500"
        ).fetchall() == [(1, 500, "## Summary")]
        assert conn.execute("SELECT event_id, kind FROM ingest_inbox").fetchall() == [(waiting, "sentry")]

    config = DigesterConfig(
        conninfo=conninfo, secret_key=secret_key, batch=64, poll_s=1.0, yield_ratio=0, max_delay_s=0
    )

    async def digest_once() -> None:
        digester = Digester(config)
        try:
            assert await digester.digest_batch() is not None
        finally:
            await digester.close()

    asyncio.run(digest_once())
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT count(*), max(last_error) FROM ingest_inbox").fetchone() == (0, None)
        stored = conn.execute(
            "SELECT payload->'exception'->'values'->0->>'type' FROM error_events WHERE event_id = %s",
            (waiting,),
        )
        assert stored.fetchall() == [("ValueError",)]
        # The waiting event made a new issue: the new rule's delivery was written with it, and the
        # issue continues its project's numbers.
        assert conn.execute(
            "SELECT d.trigger, d.status, i.title FROM alert_deliveries d JOIN issues i ON i.id = d.issue_id"
        ).fetchall() == [("new_issue", "pending", "ValueError: bad cart")]
        assert conn.execute(
            "SELECT i.short_number, p.last_issue_number FROM issues i JOIN projects p ON p.id = i.project_id"
            " WHERE i.title LIKE 'ValueError%%'"
        ).fetchall() == [(3, 3)]
