"""ORM models, one module per table; importing this package registers them all on Base.metadata."""

from app.models.base import Base
from app.models.error_event import ErrorEvent
from app.models.issue import Issue
from app.models.issue_analysis import IssueAnalysis
from app.models.project import Project
from app.models.user import ApiToken, User

__all__ = ["ApiToken", "Base", "ErrorEvent", "Issue", "IssueAnalysis", "Project", "User"]
