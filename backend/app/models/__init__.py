"""ORM models, one module per table; importing this package registers them all on Base.metadata."""

from app.models.alert import AlertDelivery, AlertRule
from app.models.base import Base
from app.models.error_event import ErrorEvent
from app.models.issue import Issue, short_id, short_id_prefix
from app.models.issue_analysis import IssueAnalysis
from app.models.issue_index import IssueFacet, IssueSearch
from app.models.project import Project, project_slug
from app.models.user import ApiToken, LoginFailure, ProjectMember, User
from app.models.user_session import UserSession

__all__ = [
    "AlertDelivery",
    "AlertRule",
    "ApiToken",
    "Base",
    "ErrorEvent",
    "Issue",
    "IssueAnalysis",
    "IssueFacet",
    "IssueSearch",
    "LoginFailure",
    "Project",
    "ProjectMember",
    "User",
    "UserSession",
    "project_slug",
    "short_id",
    "short_id_prefix",
]
