"""projects: a tenant; its public key is the DSN key SDKs authenticate with."""

import re
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    public_key: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)  # None: the settings default
    llm_daily_budget_calls: Mapped[int | None] = mapped_column(Integer)  # None: the settings default
    # sha256 hex of the `project_key` the seed endpoint created this project with (its seed secret);
    # NULL for projects created in the dashboard or CLI, whose seed key is the DSN public key.
    seed_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The highest issue short number given out in this project (app/models/issue.py short_id).
    last_issue_number: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    scrub_user_data: Mapped[bool | None] = mapped_column(Boolean)  # None: the SCRUB_USER_DATA setting
    # Days its events are kept; None: the EVENT_RETENTION_DAYS setting; 0: forever (app/retention/).
    event_retention_days: Mapped[int | None] = mapped_column(Integer)


_NOT_IN_SLUG = re.compile(r"[^a-z0-9]+")


def project_slug(project: Project) -> str:
    """The project's slug, as sentry-cli's `--project` names it: its name lowercased, each run of other
    characters than ASCII letters and digits a "-" ("My Shop!" is my-shop); a name with none of
    them gets project-ID. A project is also found by its numeric id."""
    slug = _NOT_IN_SLUG.sub("-", project.name.lower()).strip("-")
    return slug or f"project-{project.id}"
