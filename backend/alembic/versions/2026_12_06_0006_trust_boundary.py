"""Trust boundary: seed keys, project membership, per-project user-data scrubbing, login throttling,
and the indexes the global LLM ceiling counts with

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 20:30:00

- `projects.seed_key_hash`: the sha256 of the `project_key` a seed-created project was created
  with. The seed endpoint now takes a project's key as a secret: its DSN public key, or for a
  project it auto-created, that key. Projects that already hold seed events were auto-created by
  the seed endpoint with their name as key, so they keep it and their clients keep working; any
  other project now needs its DSN public key.
- `projects.scrub_user_data`: NULL follows the SCRUB_USER_DATA setting.
- `project_members`: who belongs to which project. Existing users become admins, so nobody loses
  what they could see before the upgrade.
- `login_failures`: failed logins per account and per client address, for throttling.
- Two partial indexes over paid-provider analyses, so the global daily ceiling counts today's rows
  without scanning every project's history.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE projects ADD COLUMN seed_key_hash varchar(64)")
    op.execute("ALTER TABLE projects ADD CONSTRAINT uq_projects_seed_key_hash UNIQUE (seed_key_hash)")
    op.execute("ALTER TABLE projects ADD COLUMN scrub_user_data boolean")
    op.execute(
        """
        UPDATE projects p SET seed_key_hash = encode(sha256(convert_to(p.name, 'UTF8')), 'hex')
        WHERE EXISTS (SELECT 1 FROM error_events e WHERE e.project_id = p.id AND e.payload ? 'project_key')
        """
    )
    op.execute(
        """
        CREATE TABLE project_members (
            project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
            user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_project_members PRIMARY KEY (project_id, user_id)
        )
        """
    )
    op.execute("CREATE INDEX ix_project_members_user_id ON project_members (user_id)")
    op.execute("UPDATE users SET is_admin = true")
    op.execute(
        """
        CREATE TABLE login_failures (
            key varchar(320) PRIMARY KEY,
            failures integer NOT NULL,
            last_failure_at timestamptz NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_issue_analyses_paid_claimed_at ON issue_analyses (claimed_at)"
        " WHERE provider IS NOT NULL AND provider <> 'heuristic'"
    )
    op.execute(
        "CREATE INDEX ix_issue_analyses_paid_finished_at ON issue_analyses (finished_at)"
        " WHERE provider IS NOT NULL AND provider <> 'heuristic'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_issue_analyses_paid_finished_at")
    op.execute("DROP INDEX ix_issue_analyses_paid_claimed_at")
    op.execute("DROP TABLE login_failures")
    op.execute("DROP TABLE project_members")
    op.execute("ALTER TABLE projects DROP COLUMN scrub_user_data")
    op.execute("ALTER TABLE projects DROP CONSTRAINT uq_projects_seed_key_hash")
    op.execute("ALTER TABLE projects DROP COLUMN seed_key_hash")
