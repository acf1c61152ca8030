"""projects.event_retention_days: a project's own event retention

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 21:00:00

NULL (every existing project) follows EVENT_RETENTION_DAYS (90 by default); 0 keeps the project's
events forever. Retention (app/retention/) finds expired events through the existing
(issue_id, created_at) index of error_events, so nothing is added to the ingest path's writes.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE projects ADD COLUMN event_retention_days integer "
        "CONSTRAINT ck_projects_event_retention_days CHECK (event_retention_days >= 0)"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE projects DROP COLUMN event_retention_days")
