"""Source maps uploaded with sentry-cli: chunks, artifact bundles and their files

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 23:20:00

- `upload_chunks`: the pieces sentry-cli uploads (`POST /api/0/organizations/{org}/chunk-upload/`),
  by sha1; kept until a bundle is assembled from them (then deleted) or, unused, by retention.
- `artifact_bundles`: an assembled bundle of a project (`…/artifactbundle/assemble/`), unique by the
  sha1 of its zip, with the release and dist it was uploaded for.
- `artifact_bundle_files`: each minified source and source map of a bundle, with its content. Two
  indexes answer the digester: debug id -> file, and (project, release, dist, url) -> file (the `~/`
  URLs of uploads made with `--release`).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE upload_chunks (
            checksum char(40) PRIMARY KEY,
            size integer NOT NULL,
            content bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE artifact_bundles (
            id bigserial PRIMARY KEY,
            project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
            checksum char(40) NOT NULL,
            bundle_debug_id uuid,
            release varchar(200),
            dist varchar(64),
            file_count integer NOT NULL,
            size bigint NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (project_id, checksum)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE artifact_bundle_files (
            id bigserial PRIMARY KEY,
            bundle_id bigint NOT NULL REFERENCES artifact_bundles (id) ON DELETE CASCADE,
            project_id integer NOT NULL,
            release varchar(200),
            dist varchar(64),
            path text NOT NULL,
            url text,
            type varchar(32) NOT NULL,
            debug_id uuid,
            sourcemap text,
            size integer NOT NULL,
            content bytea NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_artifact_bundle_files_debug_id "
        "ON artifact_bundle_files (project_id, debug_id, type) WHERE debug_id IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_artifact_bundle_files_release_url "
        "ON artifact_bundle_files (project_id, release, dist, url) WHERE release IS NOT NULL"
    )
    op.execute("CREATE INDEX ix_artifact_bundle_files_bundle ON artifact_bundle_files (bundle_id)")


def downgrade() -> None:
    op.execute("DROP TABLE artifact_bundle_files")
    op.execute("DROP TABLE artifact_bundles")
    op.execute("DROP TABLE upload_chunks")
