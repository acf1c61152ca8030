"""alert_rules and alert_deliveries: who is told what, and the durable outbox of each message.

A rule belongs to a project and names its triggers (analysis_done, new_issue, regression, frequency),
its filters (a minimum level, an environment) and one channel (a webhook URL, a Slack incoming
webhook, an email address). A delivery is one message of one rule: a row per (rule, issue, trigger,
occurrence), written in the transaction that caused it (the digester's batch for new issues,
regressions and frequency, app/events/store.py), so the unique constraint makes a second writer of the
same occurrence a no-op. The notifications task claims a row with a lease (like an analysis), sends it,
and records the outcome; the alert sweeper re-sends rows left pending (app/alerts/sweeper.py).
"""

from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class AlertRule(Base):
    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    triggers: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    min_level: Mapped[str | None] = mapped_column(String(16))  # None: every level
    environment: Mapped[str | None] = mapped_column(String(64))  # None: every environment
    frequency_count: Mapped[int | None] = mapped_column(Integer)  # N events ...
    frequency_minutes: Mapped[int | None] = mapped_column(Integer)  # ... in M minutes
    wait_cap_s: Mapped[int] = mapped_column(Integer, default=120)  # analysis_done waits at most this
    channel: Mapped[str] = mapped_column(String(16))  # webhook | slack | email
    target: Mapped[str] = mapped_column(Text)  # URL or email address
    secret: Mapped[str | None] = mapped_column(String(128))  # signs webhook bodies
    rate_limit_per_hour: Mapped[int] = mapped_column(Integer, default=20)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AlertDelivery(Base):
    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("rule_id", "issue_id", "trigger", "occurrence"),
        Index(
            "ix_alert_deliveries_unfinished",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
        Index("ix_alert_deliveries_rule_id_id", "rule_id", "id"),
        Index(
            "ix_alert_deliveries_rule_slot",
            "rule_id",
            "slot_at",
            postgresql_where=text("slot_at IS NOT NULL"),
        ),
        Index(
            "ix_alert_deliveries_analysis_waiting", "analysis_id", postgresql_where=text("status = 'pending'")
        ),
        # At most one open summary per rule: alerts over the rate limit fold into it.
        Index(
            "uq_alert_deliveries_open_summary",
            "rule_id",
            unique=True,
            postgresql_where=text("trigger = 'summary' AND status = 'pending'"),
        ),
        Index(
            "ix_alert_deliveries_summary_id", "summary_id", postgresql_where=text("summary_id IS NOT NULL")
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    # analysis_done | new_issue | regression | frequency | test | summary
    trigger: Mapped[str] = mapped_column(String(16))
    # Which occurrence of the trigger: 1 for a new issue, the analysis generation for a regression,
    # the window number for frequency, 0 for tests and summaries.
    occurrence: Mapped[int] = mapped_column(BigInteger, default=0)
    analysis_id: Mapped[int | None] = mapped_column(BigInteger)  # analysis_done: the analysis awaited
    # pending | sending | sent | failed | folded (into summary_id, over the rate limit)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When a job for it was last queued: the sweeper leaves it alone for a while after.
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    slot_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # took a rate-limit slot
    summary_id: Mapped[int | None] = mapped_column(BigInteger)
    response_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
