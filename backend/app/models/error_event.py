"""error_events: every accepted event, with the client's (scrubbed) payload as JSONB."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class ErrorEvent(Base):
    __tablename__ = "error_events"
    __table_args__ = (
        UniqueConstraint("project_id", "event_id"),
        Index("ix_error_events_issue_id_id", "issue_id", "id"),
        Index("ix_error_events_issue_id_created_at", "issue_id", "created_at"),  # last-24h counts
        # The releases list (app/releases/repository.py); migration 0011.
        Index(
            "ix_error_events_project_release",
            "project_id",
            "release",
            "created_at",
            postgresql_where=text("release IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(32))
    status_code: Mapped[int | None] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(16))
    environment: Mapped[str | None] = mapped_column(String(64))
    release: Mapped[str | None] = mapped_column(String(200))
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # What the client sent, scrubbed of secrets: the seed's SQL reads payload->>'message'.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The NormalizedEvent (scrubbed), what the dashboard and the analysis read.
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    analysis_id: Mapped[int | None] = mapped_column(BigInteger)
