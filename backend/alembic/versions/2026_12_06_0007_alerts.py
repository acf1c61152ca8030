"""Alerts: rules per project, the delivery outbox, token scopes, and when an issue regressed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 21:00:00

- `alert_rules`: a project's rules (triggers, level / environment filters, one channel and its
  target, the webhook secret, the rate limit, the analysis_done wait cap).
- `alert_deliveries`: one row per (rule, issue, trigger, occurrence), unique; the outbox the
  notifications worker and the alert sweeper work from, and the delivery log the dashboard shows.
- `api_tokens.scopes`: every existing token keeps exactly what it could do (`project:read`);
  `project:write` (managing alert rules) must be granted to a new token.
- `issues.regressed_at`: set by the ingest upsert when a resolved issue comes back, so the batch that
  regressed it knows (the regression trigger).

No rule is created for existing projects, and none is for new ones either: a rule without a channel
would have nowhere to send, and guessing a recipient (every member's email?) would send mail nobody
asked for. What "analysis_done is the default rule" means, alike for old and new projects: a rule
made without naming triggers (dashboard, API, `python -m app create-alert`) gets analysis_done.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE api_tokens ADD COLUMN scopes varchar(32)[] NOT NULL DEFAULT '{project:read}'")
    op.execute("ALTER TABLE issues ADD COLUMN regressed_at timestamptz")
    op.execute(
        """
        CREATE TABLE alert_rules (
            id serial PRIMARY KEY,
            project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
            enabled boolean NOT NULL DEFAULT true,
            triggers varchar(16)[] NOT NULL,
            min_level varchar(16),
            environment varchar(64),
            frequency_count integer,
            frequency_minutes integer,
            wait_cap_s integer NOT NULL DEFAULT 120,
            channel varchar(16) NOT NULL,
            target text NOT NULL,
            secret varchar(128),
            rate_limit_per_hour integer NOT NULL DEFAULT 20,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_alert_rules_channel CHECK (channel IN ('webhook', 'slack', 'email'))
        )
        """
    )
    op.execute("CREATE INDEX ix_alert_rules_project_id ON alert_rules (project_id)")
    op.execute(
        """
        CREATE TABLE alert_deliveries (
            id bigserial PRIMARY KEY,
            rule_id integer NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
            project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
            issue_id bigint REFERENCES issues (id) ON DELETE CASCADE,
            trigger varchar(16) NOT NULL,
            occurrence bigint NOT NULL DEFAULT 0,
            analysis_id bigint,
            status varchar(16) NOT NULL DEFAULT 'pending',
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            enqueued_at timestamptz,
            claimed_at timestamptz,
            claimed_by varchar(64),
            slot_at timestamptz,
            summary_id bigint,
            response_code integer,
            last_error text,
            created_at timestamptz NOT NULL DEFAULT now(),
            sent_at timestamptz,
            CONSTRAINT uq_alert_deliveries_rule_id_issue_id_trigger_occurrence
                UNIQUE (rule_id, issue_id, trigger, occurrence)
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_alert_deliveries_unfinished ON alert_deliveries (next_attempt_at)"
        " WHERE status IN ('pending', 'sending')"
    )
    op.execute("CREATE INDEX ix_alert_deliveries_rule_id_id ON alert_deliveries (rule_id, id)")
    op.execute(
        "CREATE INDEX ix_alert_deliveries_rule_slot ON alert_deliveries (rule_id, slot_at)"
        " WHERE slot_at IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_alert_deliveries_analysis_waiting ON alert_deliveries (analysis_id)"
        " WHERE status = 'pending'"
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_alert_deliveries_open_summary ON alert_deliveries (rule_id)"
        " WHERE trigger = 'summary' AND status = 'pending'"
    )
    op.execute(
        "CREATE INDEX ix_alert_deliveries_summary_id ON alert_deliveries (summary_id)"
        " WHERE summary_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP TABLE alert_deliveries")
    op.execute("DROP TABLE alert_rules")
    op.execute("ALTER TABLE issues DROP COLUMN regressed_at")
    op.execute("ALTER TABLE api_tokens DROP COLUMN scopes")
