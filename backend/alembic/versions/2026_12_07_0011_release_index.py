"""error_events (project_id, release, created_at) where release is set: the releases list

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 00:00:00

The releases list (app/releases/repository.py) reads every figure from error_events: the versions
of a project and each one's first event by a loose index scan, each shown version's count and last
event by an index-only range scan. Without this index each of those is a scan of the project's
events. Partial: events that name no release (every seed event) cost their insert nothing more.
Built CONCURRENTLY, so that upgrading a large installation does not block ingest while it builds.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_error_events_project_release "
            "ON error_events (project_id, release, created_at) WHERE release IS NOT NULL"
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_error_events_project_release")
