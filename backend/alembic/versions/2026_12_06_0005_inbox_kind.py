"""ingest_inbox.kind: seed JSON events go through the inbox too

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 17:40:00

Every accepted event, seed JSON (`POST /api/v1/events`) or Sentry, now waits in the inbox and is
stored by a digester, so the digester must know which normalizer reads the row. Rows already
waiting were all Sentry events (the seed endpoint stored inline until now): they take the default.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE ingest_inbox ADD COLUMN kind text NOT NULL DEFAULT 'sentry' "
        "CONSTRAINT ingest_inbox_kind_check CHECK (kind IN ('sentry', 'seed'))"
    )


def downgrade() -> None:
    # Seed rows cannot wait in an inbox that does not know them: refuse rather than lose them.
    op.execute(
        """
        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM ingest_inbox WHERE kind = 'seed') THEN
                RAISE EXCEPTION 'ingest_inbox holds seed events; let the digester store them first';
            END IF;
        END $$
        """
    )
    op.execute("ALTER TABLE ingest_inbox DROP COLUMN kind")
