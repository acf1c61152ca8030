"""The alert-rules API: GET/POST/PATCH/DELETE /api/v1/projects/{id}/alert-rules, for tokens with
project:write (`python -m app create-token NAME --project ID --scope project:write`).

A read-only token gets a 403 saying which scope is missing; a project outside the token's a 404.
A webhook rule's secret is returned once, when the rule is made (or its secret changed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from app.alerts import repository as alerts
from app.alerts.rules import RuleInput, apply_changes, create_rule
from app.api.schemas import ErrorOut
from app.auth.dependencies import ApiScope, DbSession
from app.auth.service import WRITE_SCOPE, TokenScope
from app.errors import AppError
from app.models import AlertRule, Project
from app.projects import repository as projects

router = APIRouter(prefix="/api/v1", tags=["alert rules"])

ProjectId = Annotated[int, Path(ge=1, le=2**31 - 1)]
RuleId = Annotated[int, Path(ge=1, le=2**31 - 1)]
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "A body that cannot be parsed at all"},
    401: {"model": ErrorOut, "description": "Missing, invalid or revoked bearer token"},
    403: {"model": ErrorOut, "description": "The token lacks the project:write scope"},
    404: {"model": ErrorOut, "description": "No such project or rule within this token's projects"},
    # Our own answer for a bad rule, or FastAPI's for a malformed body or path.
    422: {
        "description": "A field is missing, unknown or out of range, or the body is malformed",
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/ErrorOut"},
                        {"$ref": "#/components/schemas/HTTPValidationError"},
                    ]
                }
            }
        },
    },
}


class AlertRuleIn(BaseModel):
    """A rule to create (channel and target required) or the fields to change (PATCH)."""

    model_config = ConfigDict(extra="forbid")

    channel: str | None = Field(default=None, description="webhook, slack or email")
    target: str | None = Field(default=None, description="the URL, or the email address")
    secret: str | None = Field(default=None, description="webhook signing secret; generated if omitted")
    triggers: list[str] | None = Field(
        default=None, description="analysis_done (default), new_issue, regression, frequency"
    )
    min_level: str | None = Field(default=None, description="this level or worse: debug … fatal")
    environment: str | None = None
    frequency_count: int | None = Field(default=None, description="frequency: N events …")
    frequency_minutes: int | None = Field(default=None, description="… in M minutes")
    wait_cap_s: int | None = Field(default=None, description="analysis_done waits at most this (120)")
    rate_limit_per_hour: int | None = Field(default=None, description="at most this many an hour (20)")
    enabled: bool | None = None


class AlertRuleOut(BaseModel):
    id: int
    project_id: int
    enabled: bool
    triggers: list[str]
    min_level: str | None
    environment: str | None
    frequency_count: int | None
    frequency_minutes: int | None
    wait_cap_s: int
    channel: str
    target: str
    rate_limit_per_hour: int
    created_at: datetime
    secret: str | None = Field(default=None, description="only in the answer that set it")

    @classmethod
    def of(cls, rule: AlertRule, *, show_secret: bool = False) -> AlertRuleOut:
        return cls(
            id=rule.id,
            project_id=rule.project_id,
            enabled=rule.enabled,
            triggers=list(rule.triggers),
            min_level=rule.min_level,
            environment=rule.environment,
            frequency_count=rule.frequency_count,
            frequency_minutes=rule.frequency_minutes,
            wait_cap_s=rule.wait_cap_s,
            channel=rule.channel,
            target=rule.target,
            rate_limit_per_hour=rule.rate_limit_per_hour,
            created_at=rule.created_at,
            secret=rule.secret if show_secret else None,
        )


async def _writable_project(session: DbSession, scope: TokenScope, project_id: int) -> Project:
    project = await projects.get_by_id(session, project_id) if scope.allows(project_id) else None
    if project is None:
        raise AppError("project not found", 404)
    if not scope.can_write:
        raise AppError(f"this token lacks the {WRITE_SCOPE} scope", 403)
    return project


async def _rule(session: DbSession, project_id: int, rule_id: int) -> AlertRule:
    rule = await alerts.get_rule(session, project_id, rule_id)
    if rule is None:
        raise AppError("alert rule not found", 404)
    return rule


@router.get(
    "/projects/{project_id}/alert-rules",
    response_model=list[AlertRuleOut],
    responses=RESPONSES,
    summary="A project's alert rules",
)
async def list_alert_rules(project_id: ProjectId, session: DbSession, scope: ApiScope) -> list[AlertRuleOut]:
    """The project's alert rules, oldest first (secrets are not shown)."""
    await _writable_project(session, scope, project_id)
    return [AlertRuleOut.of(r) for r in await alerts.list_rules(session, project_id)]


@router.get(
    "/projects/{project_id}/alert-rules/{rule_id}",
    response_model=AlertRuleOut,
    responses=RESPONSES,
    summary="One alert rule",
)
async def get_alert_rule(
    project_id: ProjectId, rule_id: RuleId, session: DbSession, scope: ApiScope
) -> AlertRuleOut:
    """One rule of the project."""
    await _writable_project(session, scope, project_id)
    return AlertRuleOut.of(await _rule(session, project_id, rule_id))


@router.post(
    "/projects/{project_id}/alert-rules",
    status_code=201,
    response_model=AlertRuleOut,
    responses=RESPONSES,
    summary="Create an alert rule",
)
async def post_alert_rule(
    project_id: ProjectId, body: AlertRuleIn, session: DbSession, scope: ApiScope
) -> AlertRuleOut:
    """A new rule; without `triggers` it is the default analysis_done rule. A webhook rule without a
    `secret` gets a generated one, returned here once."""
    await _writable_project(session, scope, project_id)
    rule = await create_rule(session, project_id, RuleInput(**body.model_dump()))
    return AlertRuleOut.of(rule, show_secret=True)


@router.patch(
    "/projects/{project_id}/alert-rules/{rule_id}",
    response_model=AlertRuleOut,
    responses=RESPONSES,
    summary="Change an alert rule",
)
async def patch_alert_rule(
    project_id: ProjectId, rule_id: RuleId, body: AlertRuleIn, session: DbSession, scope: ApiScope
) -> AlertRuleOut:
    """Change the fields given; the whole rule is checked again."""
    await _writable_project(session, scope, project_id)
    rule = await _rule(session, project_id, rule_id)
    changes = body.model_dump(exclude_unset=True)
    apply_changes(rule, changes)
    await session.flush()
    return AlertRuleOut.of(rule, show_secret="secret" in changes)


@router.delete(
    "/projects/{project_id}/alert-rules/{rule_id}",
    status_code=204,
    responses=RESPONSES,
    summary="Delete an alert rule (and its delivery log)",
)
async def delete_alert_rule(
    project_id: ProjectId, rule_id: RuleId, session: DbSession, scope: ApiScope
) -> Response:
    """Delete the rule; its pending deliveries go with it."""
    await _writable_project(session, scope, project_id)
    await _rule(session, project_id, rule_id)
    await alerts.delete_rule(session, rule_id)
    return Response(status_code=204)
