"""issue_search and issue_facets: side tables the issues list filters on, kept by database triggers.

They live apart from `issues` so that the per-event issue upsert never rewrites a full-text or facet
index entry: both tables are written when an issue is created or sees a new message, environment
or release, and not on every repeat. See migrations 0002 and 0003 for the triggers (the one on
error_events runs once per INSERT statement, over all the rows it inserted).
"""

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class IssueSearch(Base):
    __tablename__ = "issue_search"
    __table_args__ = (Index("ix_issue_search_document", "document", postgresql_using="gin"),)

    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)  # the first event message seen, if any
    document: Mapped[Any] = mapped_column(TSVECTOR)  # title, culprit and message words


class IssueFacet(Base):
    """An (environment | release, value) an issue's events were seen with."""

    __tablename__ = "issue_facets"
    __table_args__ = (Index("ix_issue_facets_project_key_value", "project_id", "key", "value"),)

    issue_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer)
