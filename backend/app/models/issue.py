"""issues: a group of events sharing a fingerprint, the unit people triage."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

ISSUE_STATUSES = ("unresolved", "resolved", "ignored")


class Issue(Base):
    __tablename__ = "issues"
    __table_args__ = (
        UniqueConstraint("project_id", "fingerprint"),
        # Keyset pagination of the issues list: one index per sort order, status first because
        # every list is filtered by status (several statuses are merged from per-status scans).
        Index("ix_issues_list_last_seen", "project_id", "status", "last_seen", "id"),
        Index("ix_issues_list_first_seen", "project_id", "status", "first_seen", "id"),
        Index("ix_issues_list_times_seen", "project_id", "status", "times_seen", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    grouping_version: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    culprit: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="unresolved")
    is_regressed: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When it last came back after being resolved (the regression alert's trigger).
    regressed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    times_seen: Mapped[int] = mapped_column(BigInteger, default=1)
    # Bumped on every regression; (issue_id, generation) is unique in issue_analyses.
    analysis_generation: Mapped[int] = mapped_column(Integer, default=1)
    # The analysis new events of this issue link to; NULL until a qualifying event arrives
    # and again after a regression, which asks for a fresh one.
    current_analysis_id: Mapped[int | None] = mapped_column(BigInteger)
