"""Issue triage actions: resolve, ignore, reopen. Services take the session and never commit."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import AppError
from app.issues import repository
from app.models import Issue
from app.models.issue import ISSUE_STATUSES


async def set_status(session: AsyncSession, issue_id: int, status: str) -> Issue:
    """Move an issue to unresolved / resolved / ignored; resolving clears the regressed mark."""
    if status not in ISSUE_STATUSES:
        raise AppError(f"status must be one of {', '.join(ISSUE_STATUSES)}", 422)
    values: dict[str, object] = {"status": status}
    if status == "resolved":
        values |= {"resolved_at": datetime.now(UTC), "is_regressed": False}
    elif status == "unresolved":
        values |= {"resolved_at": None}
    issue = await repository.update_issue(session, issue_id, values)
    if issue is None:
        raise AppError("issue not found", 404)
    return issue
