"""issue_analyses: one AI analysis per issue (and per regression / re-analyse request).

The seed's `error_analysis` is a view over this table, giving every analysed event its issue's
analysis, so the LLM is called once per issue while the seed's SQL still shows a row per event.

Opening generation G of an issue (the outbox write; the sweeper and the job it registers act on it)
happens in the transaction that holds the issue's row lock, where the issue's `analysis_generation`
becomes G, and writes exactly: a `pending` row (issue, G) here naming the event to analyse; the
issue's `current_analysis_id` pointing at it; and `error_events.analysis_id` of the analysed event
(and of any other events shown with it) pointing at it. The unique (issue_id, generation) makes a
second opening of G write nothing. Two writers follow this rule: ingest, a batch at a time, with G
bumped by its issue upsert (app/events/repository.py CREATE_PENDING_FOR_EVENTS_SQL), and re-analysis
(app/analysis/repository.py OPEN_GENERATION_SQL).
"""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
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


class IssueAnalysis(Base):
    __tablename__ = "issue_analyses"
    __table_args__ = (
        UniqueConstraint("issue_id", "generation"),
        Index(
            "ix_issue_analyses_unfinished",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'running')"),
        ),
        Index("ix_issue_analyses_project_created", "project_id", "created_at"),
        # The global daily LLM ceiling counts today's paid calls and tokens across all projects.
        Index(
            "ix_issue_analyses_paid_claimed_at",
            "claimed_at",
            postgresql_where=text("provider IS NOT NULL AND provider <> 'heuristic'"),
        ),
        Index(
            "ix_issue_analyses_paid_finished_at",
            "finished_at",
            postgresql_where=text("provider IS NOT NULL AND provider <> 'heuristic'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    generation: Mapped[int] = mapped_column(Integer)
    error_event_id: Mapped[int | None] = mapped_column(BigInteger)  # the event analysed
    trigger: Mapped[str] = mapped_column(String(16))  # first | regression | manual
    status: Mapped[str] = mapped_column(String(16), default="pending")
    status_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The Celery task id holding the claim: its own retries and redeliveries may re-claim at once,
    # any other task only after the lease expires.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    summary: Mapped[str | None] = mapped_column(Text)
    root_cause: Mapped[str | None] = mapped_column(Text)
    suggested_fix: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    analysis_text: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(128))
    tokens_in: Mapped[int | None] = mapped_column(Integer)
    tokens_out: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
