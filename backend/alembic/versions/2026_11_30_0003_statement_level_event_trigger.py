"""issue search and facets kept by one statement-level trigger per event INSERT, not one per row

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 14:00:00

Ingest writes a batch of up to 128 events, mostly of a few issues, in one INSERT. The row-level
trigger of 0002 ran three statements per event and read `data->>'message'` from the stored row,
which fetches and decompresses the TOASTed `data` of every event. The statement-level trigger
does the same work once per INSERT over its transition table (the rows just inserted, held in
memory): facets with one INSERT ... SELECT DISTINCT, and the first message only for issues that
have none yet, so `data` is read only for the events of those issues.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Facets are inserted in (issue_id, key, value) order, the same order in every transaction. (Two
# batches writing facets of one issue are already serialised by the issue upsert's row lock.)
# The message kept is that of the lowest-id new event with one, as the row trigger and the
# backfill of 0002 did. `data` is read only in `pending`'s output, after the join has dropped the
# events of issues that already have a message (MATERIALIZED keeps the planner from moving the
# `msg <> ''` filter down to the scan of every new event).
STATEMENT_TRIGGER = """
CREATE FUNCTION faultline_events_stored() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO issue_facets (issue_id, key, value, project_id)
    SELECT DISTINCT f.issue_id, f.key, f.value, f.project_id
    FROM (
        SELECT issue_id, 'environment' AS key, left(environment, 200) AS value, project_id
        FROM new_events WHERE issue_id IS NOT NULL AND environment <> ''
        UNION ALL
        SELECT issue_id, 'release', left(release, 200), project_id
        FROM new_events WHERE issue_id IS NOT NULL AND release <> ''
    ) f
    ORDER BY f.issue_id, f.key, f.value
    ON CONFLICT DO NOTHING;

    WITH pending AS MATERIALIZED (
        SELECT e.issue_id, e.id, e.data->>'message' AS msg
        FROM new_events e JOIN issue_search without ON without.issue_id = e.issue_id
        WHERE without.message IS NULL
    )
    UPDATE issue_search s
    SET message = m.msg, document = s.document || faultline_search_words(m.msg)
    FROM (
        SELECT DISTINCT ON (issue_id) issue_id, left(msg, 2000) AS msg
        FROM pending WHERE msg <> ''
        ORDER BY issue_id, id
    ) m
    WHERE s.issue_id = m.issue_id AND s.message IS NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER error_events_issue_index AFTER INSERT ON error_events
REFERENCING NEW TABLE AS new_events
FOR EACH STATEMENT EXECUTE FUNCTION faultline_events_stored();
"""

# 0002's row-level trigger, as it was.
ROW_TRIGGER = """
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


def upgrade() -> None:
    op.execute("DROP TRIGGER error_events_issue_index ON error_events")
    op.execute("DROP FUNCTION faultline_event_stored()")
    op.execute(STATEMENT_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER error_events_issue_index ON error_events")
    op.execute("DROP FUNCTION faultline_events_stored()")
    op.execute(ROW_TRIGGER)
