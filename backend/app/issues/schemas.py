"""Shapes of issue listings: filters, keyset cursors, pages, event summaries and tag breakdowns."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import orjson

from app.events.text import clean_text
from app.models import Issue
from app.models.issue import ISSUE_STATUSES

SortKey = Literal["last_seen", "first_seen", "frequency"]
SORT_KEYS: tuple[str, ...] = ("last_seen", "first_seen", "frequency")
LEVEL_CHOICES = ("fatal", "error", "warning", "info", "debug")
STATUS_CHOICES = (*ISSUE_STATUSES, "all")


def _facet_value(value: str | None) -> str | None:
    """A facet filter cleaned the way ingest cleans the values it stores (PostgreSQL refuses NUL)."""
    return clean_text((value or "").strip()[:200]) or None


@dataclass(frozen=True)
class IssueFilters:
    """What the issues list is narrowed to; `statuses` are merged (all three for "all")."""

    statuses: tuple[str, ...] = ("unresolved",)
    level: str | None = None
    environment: str | None = None
    release: str | None = None
    query: str | None = None
    sort: str = "last_seen"

    @classmethod
    def parse(
        cls,
        *,
        status: str | None = None,
        level: str | None = None,
        environment: str | None = None,
        release: str | None = None,
        query: str | None = None,
        sort: str | None = None,
    ) -> IssueFilters:
        """Filters from loose user input: unknown values fall back to the defaults."""
        status = status if status in STATUS_CHOICES else "unresolved"
        statuses = ISSUE_STATUSES if status == "all" else (status,)
        return cls(
            statuses=tuple(statuses),
            level=level if level in LEVEL_CHOICES else None,
            environment=_facet_value(environment),
            release=_facet_value(release),
            query=(query or "").strip()[:200] or None,
            sort=sort if sort in SORT_KEYS else "last_seen",
        )

    @property
    def status(self) -> str:
        """The status choice these filters came from (`all` for several)."""
        return self.statuses[0] if len(self.statuses) == 1 else "all"


@dataclass(frozen=True)
class Cursor:
    """A keyset position: the (sort value, id) of the row a page starts after or ends before."""

    sort: str
    direction: Literal["after", "before"]
    value: datetime | int
    issue_id: int

    @classmethod
    def at(cls, sort: str, direction: Literal["after", "before"], issue: Issue) -> Cursor:
        """The cursor of `issue`'s position in a list sorted by `sort`."""
        values = {"last_seen": issue.last_seen, "first_seen": issue.first_seen, "frequency": issue.times_seen}
        value = values[sort]
        return cls(sort, direction, value, issue.id)

    def encode(self) -> str:
        """An opaque url-safe string for the `cursor` parameter."""
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        raw = orjson.dumps([self.sort, self.direction, value, self.issue_id])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """The cursor, or None for anything malformed (the list then starts at its first page)."""
        if not text:
            return None
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            sort, direction, value, issue_id = orjson.loads(raw)
            if sort not in SORT_KEYS or direction not in ("after", "before") or not isinstance(issue_id, int):
                return None
            parsed: datetime | int = int(value) if sort == "frequency" else datetime.fromisoformat(value)
            return cls(sort, direction, parsed, issue_id)
        except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
            return None


@dataclass(frozen=True)
class IssuePage:
    issues: list[Issue]
    next_cursor: Cursor | None
    prev_cursor: Cursor | None


@dataclass(frozen=True)
class EventNeighbours:
    older_id: int | None
    newer_id: int | None
    oldest_id: int | None
    latest_id: int | None


@dataclass(frozen=True)
class EventSummary:
    id: int
    event_id: str
    project_id: int
    issue_id: int | None
    level: str
    status_code: int | None
    environment: str | None
    release: str | None
    timestamp: datetime
    created_at: datetime
    message: str | None


@dataclass(frozen=True)
class TagValueCount:
    value: str
    count: int
    share: float  # of the sampled events


@dataclass(frozen=True)
class TagSummary:
    key: str
    sampled: int  # events looked at (the latest ones)
    values: list[TagValueCount] = field(default_factory=list)
    other_values: int = 0  # distinct values not shown
