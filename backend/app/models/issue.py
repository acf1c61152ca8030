"""issues: a group of events sharing a fingerprint, the unit people triage; and their short ids."""

import re
from datetime import datetime
from typing import Protocol

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
        UniqueConstraint("project_id", "short_number"),
        # Keyset pagination of the issues list: one index per sort order, status first because
        # every list is filtered by status (several statuses are merged from per-status scans).
        Index("ix_issues_list_last_seen", "project_id", "status", "last_seen", "id"),
        Index("ix_issues_list_first_seen", "project_id", "status", "first_seen", "id"),
        Index("ix_issues_list_times_seen", "project_id", "status", "times_seen", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # The issue's number in its project (SHOP-12 is short_number 12 of project "shop"), given out
    # without gaps by ingest when it creates the issue (NULL only inside that transaction).
    short_number: Mapped[int | None] = mapped_column(Integer)
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


_NOT_IN_PREFIX = re.compile(r"[^A-Z0-9]+")
PREFIX_LENGTH = 12


class _Named(Protocol):
    id: int
    name: str


class _Numbered(Protocol):
    id: int
    short_number: int | None


def short_id_prefix(project: _Named) -> str:
    """A project's short-id prefix: its name's ASCII letters and digits, uppercased, at most 12 of
    them ("my-shop" is MYSHOP); a name with none ("ショップ", "---") gets P and the project's id."""
    prefix = _NOT_IN_PREFIX.sub("", project.name.upper())[:PREFIX_LENGTH]
    return prefix or f"P{project.id}"


def short_id(project: _Named, issue: _Numbered) -> str:
    """The issue's short id, as people say it and the dashboard, the API and alerts show it: SHOP-12.

    An issue not numbered yet (only inside the transaction creating it) shows its global id, #id."""
    if issue.short_number is None:
        return f"#{issue.id}"
    return f"{short_id_prefix(project)}-{issue.short_number}"
