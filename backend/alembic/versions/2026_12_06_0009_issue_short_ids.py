"""Short issue ids per project (SHOP-12): `issues.short_number`, numbered per project without gaps,
and `projects.last_issue_number`, the project's counter

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 21:10:00

- `projects.last_issue_number`: the highest short number given out in the project. Ingest bumps it
  only for issues it actually creates, in the transaction that creates them (app/events/repository.py),
  so numbers never skip.
- `issues.short_number`: existing issues are numbered per project in (first_seen, id) order and each
  project's counter is set to its count. NULL only inside the transaction that creates the issue,
  before it is numbered; (project_id, short_number) is unique, which also serves lookups by short id.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE projects ADD COLUMN last_issue_number integer NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE issues ADD COLUMN short_number integer")
    op.execute(
        """
        UPDATE issues i SET short_number = n.number
        FROM (
            SELECT id, row_number() OVER (PARTITION BY project_id ORDER BY first_seen, id) AS number
            FROM issues
        ) n
        WHERE i.id = n.id
        """
    )
    op.execute(
        """
        UPDATE projects p SET last_issue_number = c.issues
        FROM (SELECT project_id, count(*) AS issues FROM issues GROUP BY project_id) c
        WHERE p.id = c.project_id
        """
    )
    op.execute(
        "ALTER TABLE issues ADD CONSTRAINT uq_issues_project_id_short_number"
        " UNIQUE (project_id, short_number)"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE issues DROP CONSTRAINT uq_issues_project_id_short_number")
    op.execute("ALTER TABLE issues DROP COLUMN short_number")
    op.execute("ALTER TABLE projects DROP COLUMN last_issue_number")
