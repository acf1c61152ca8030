"""dashboard: login sessions, issue search and facets (kept by triggers), list and 24-hour indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 09:40:00

`issue_search` (full-text document of title, culprit and first message) and `issue_facets`
(environments and releases an issue was seen in) are written by triggers: a row when an issue is
created, an update only when an issue sees its first message or a new environment/release. The
issue upsert that runs on every event therefore never touches the GIN index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Punctuation becomes a word break, so "app.models.user" and "load_user" are found by their parts.
SEARCH_WORDS_FUNCTION = """
CREATE FUNCTION faultline_search_words(value text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsvector('simple', regexp_replace(coalesce(value, ''), '[^[:alnum:]]+', ' ', 'g'))
$$
"""

ISSUE_INSERT_TRIGGER = """
CREATE FUNCTION faultline_issue_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO issue_search (issue_id, project_id, message, document)
    VALUES (NEW.id, NEW.project_id, NULL, faultline_search_words(NEW.title || ' ' || NEW.culprit))
    ON CONFLICT (issue_id) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER issues_search_document AFTER INSERT ON issues
FOR EACH ROW EXECUTE FUNCTION faultline_issue_created();
"""

EVENT_INSERT_TRIGGER = """
CREATE FUNCTION faultline_event_stored() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    msg text := left(NEW.data->>'message', 2000);
BEGIN
    IF NEW.issue_id IS NULL THEN
        RETURN NULL;
    END IF;
    IF msg IS NOT NULL AND msg <> '' THEN
        UPDATE issue_search
        SET message = msg, document = document || faultline_search_words(msg)
        WHERE issue_id = NEW.issue_id AND message IS NULL;
    END IF;
    IF NEW.environment IS NOT NULL AND NEW.environment <> '' THEN
        INSERT INTO issue_facets (issue_id, key, value, project_id)
        VALUES (NEW.issue_id, 'environment', left(NEW.environment, 200), NEW.project_id)
        ON CONFLICT DO NOTHING;
    END IF;
    IF NEW.release IS NOT NULL AND NEW.release <> '' THEN
        INSERT INTO issue_facets (issue_id, key, value, project_id)
        VALUES (NEW.issue_id, 'release', left(NEW.release, 200), NEW.project_id)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER error_events_issue_index AFTER INSERT ON error_events
FOR EACH ROW EXECUTE FUNCTION faultline_event_stored();
"""

BACKFILL = [
    """
    INSERT INTO issue_search (issue_id, project_id, message, document)
    SELECT id, project_id, NULL, faultline_search_words(title || ' ' || culprit) FROM issues
    """,
    """
    UPDATE issue_search s
    SET message = m.msg, document = s.document || faultline_search_words(m.msg)
    FROM (
        SELECT DISTINCT ON (issue_id) issue_id, left(data->>'message', 2000) AS msg
        FROM error_events
        WHERE issue_id IS NOT NULL AND coalesce(data->>'message', '') <> ''
        ORDER BY issue_id, id
    ) m
    WHERE m.issue_id = s.issue_id
    """,
    """
    INSERT INTO issue_facets (issue_id, key, value, project_id)
    SELECT DISTINCT issue_id, 'environment', left(environment, 200), project_id
    FROM error_events WHERE issue_id IS NOT NULL AND coalesce(environment, '') <> ''
    UNION
    SELECT DISTINCT issue_id, 'release', left(release, 200), project_id
    FROM error_events WHERE issue_id IS NOT NULL AND coalesce(release, '') <> ''
    """,
]


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_sessions_token_hash")),
    )
    op.create_index(op.f("ix_user_sessions_user_id"), "user_sessions", ["user_id"], unique=False)

    op.create_table(
        "issue_search",
        sa.Column("issue_id", sa.BigInteger(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("document", postgresql.TSVECTOR(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issues.id"], name=op.f("fk_issue_search_issue_id_issues"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("issue_id", name=op.f("pk_issue_search")),
    )
    op.create_index(
        "ix_issue_search_document", "issue_search", ["document"], unique=False, postgresql_using="gin"
    )
    op.create_table(
        "issue_facets",
        sa.Column("issue_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issues.id"], name=op.f("fk_issue_facets_issue_id_issues"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("issue_id", "key", "value", name=op.f("pk_issue_facets")),
    )
    op.create_index(
        "ix_issue_facets_project_key_value", "issue_facets", ["project_id", "key", "value"], unique=False
    )

    op.drop_index("ix_issues_project_last_seen", table_name="issues")
    op.create_index("ix_issues_list_last_seen", "issues", ["project_id", "status", "last_seen", "id"])
    op.create_index("ix_issues_list_first_seen", "issues", ["project_id", "status", "first_seen", "id"])
    op.create_index("ix_issues_list_times_seen", "issues", ["project_id", "status", "times_seen", "id"])
    op.create_index("ix_error_events_issue_id_created_at", "error_events", ["issue_id", "created_at"])

    op.execute(SEARCH_WORDS_FUNCTION)
    op.execute(ISSUE_INSERT_TRIGGER)
    op.execute(EVENT_INSERT_TRIGGER)
    for statement in BACKFILL:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS error_events_issue_index ON error_events")
    op.execute("DROP TRIGGER IF EXISTS issues_search_document ON issues")
    op.execute("DROP FUNCTION IF EXISTS faultline_event_stored()")
    op.execute("DROP FUNCTION IF EXISTS faultline_issue_created()")
    op.execute("DROP FUNCTION IF EXISTS faultline_search_words(text)")
    op.drop_index("ix_error_events_issue_id_created_at", table_name="error_events")
    op.drop_index("ix_issues_list_times_seen", table_name="issues")
    op.drop_index("ix_issues_list_first_seen", table_name="issues")
    op.drop_index("ix_issues_list_last_seen", table_name="issues")
    op.create_index("ix_issues_project_last_seen", "issues", ["project_id", "last_seen"], unique=False)
    op.drop_index("ix_issue_facets_project_key_value", table_name="issue_facets")
    op.drop_table("issue_facets")
    op.drop_index("ix_issue_search_document", table_name="issue_search")
    op.drop_table("issue_search")
    op.drop_index(op.f("ix_user_sessions_user_id"), table_name="user_sessions")
    op.drop_table("user_sessions")
