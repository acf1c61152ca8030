"""Dashboard pages for a project's alert rules: list and create, edit (with the rule's delivery log),
delete, and "send test alert". Every POST carries the session's CSRF token.

Who may manage a project's rules is who may see the project (`VisibleProject`, app/web/access.py):
admins and the project's members; anyone else gets the 404 of a project that does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel
from starlette.responses import Response

from app.alerts import repository as alerts
from app.alerts.rules import CHANNELS, RuleInput, apply_changes, create_rule
from app.auth.dependencies import CsrfUser, DbSession, Work
from app.errors import AppError
from app.events.alert_match import LEVELS, TRIGGERS
from app.jobs import alert_job
from app.models import AlertRule, Project
from app.web.access import VisibleProject
from app.web.endpoints import not_found, redirect
from app.web.rendering import render

router = APIRouter(include_in_schema=False)

NOTICES = {
    "created": "Alert rule created.",
    "saved": "Alert rule saved.",
    "deleted": "Alert rule deleted.",
    "test": "Test alert queued; it shows in the delivery log below once sent.",
}


def _int_or_none(value: str, name: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isascii() or not value.lstrip("-").isdigit() or len(value) > 9:
        raise AppError(f"{name} must be a whole number", 422)
    return int(value)


class RuleForm(BaseModel):
    """The fields of the create and edit forms, as posted (strings; empty means "not given")."""

    channel: str = ""
    target: str = ""
    secret: str = ""
    trigger: list[str] = []
    min_level: str = ""
    environment: str = ""
    frequency_count: str = ""
    frequency_minutes: str = ""
    wait_cap_s: str = ""
    rate_limit_per_hour: str = ""
    enabled: str | None = None

    def rule_input(self, *, enabled: bool) -> RuleInput:
        return RuleInput(
            channel=self.channel or None,
            target=self.target or None,
            secret=self.secret.strip() or None,
            triggers=self.trigger or None,
            min_level=self.min_level or None,
            environment=self.environment.strip() or None,
            frequency_count=_int_or_none(self.frequency_count, "frequency count"),
            frequency_minutes=_int_or_none(self.frequency_minutes, "frequency minutes"),
            wait_cap_s=_int_or_none(self.wait_cap_s, "wait cap"),
            rate_limit_per_hour=_int_or_none(self.rate_limit_per_hour, "rate limit"),
            enabled=enabled,
        )


def _choices() -> dict[str, object]:
    return {"channels": CHANNELS, "triggers": TRIGGERS, "levels": LEVELS}


async def _rules_page(
    request: Request,
    session: DbSession,
    project: Project,
    *,
    error: str | None = None,
    status_code: int = 200,
    notice: str | None = None,
    new_secret: str | None = None,
) -> Response:
    rules = await alerts.list_rules(session, project.id)
    return render(
        request,
        "alerts.html",
        {"project": project, "rules": rules, "error": error, "notice": notice, "new_secret": new_secret}
        | _choices(),
        status_code,
    )


@router.get("/projects/{project_id}/alerts")
async def alerts_page(
    request: Request, project: VisibleProject, session: DbSession, done: str | None = None
) -> Response:
    """The project's alert rules and a form for a new one."""
    return await _rules_page(request, session, project, notice=NOTICES.get(done or ""))


@router.post("/projects/{project_id}/alerts")
async def create_alert_form(
    request: Request,
    project: VisibleProject,
    session: DbSession,
    _user: CsrfUser,
    form: Annotated[RuleForm, Form()],
) -> Response:
    """Create a rule; a webhook's secret (given or generated) is shown once."""
    try:
        wanted = form.rule_input(enabled=True)
        rule = await create_rule(session, project.id, wanted)
    except AppError as exc:
        return await _rules_page(request, session, project, error=exc.message, status_code=exc.status_code)
    return await _rules_page(
        request, session, project, notice=NOTICES["created"], new_secret=rule.secret, status_code=201
    )


async def _rule_page(
    request: Request,
    session: DbSession,
    project: Project,
    rule: AlertRule,
    *,
    error: str | None = None,
    status_code: int = 200,
    notice: str | None = None,
) -> Response:
    log = await alerts.delivery_log(session, rule.id)
    return render(
        request,
        "alert_rule.html",
        {"project": project, "rule": rule, "log": log, "error": error, "notice": notice} | _choices(),
        status_code,
    )


async def _project_and_rule(
    session: DbSession, project: Project, rule_id: int
) -> tuple[Project, AlertRule] | None:
    rule = await alerts.get_rule(session, project.id, rule_id)
    return (project, rule) if rule is not None else None


@router.get("/projects/{project_id}/alerts/{rule_id}")
async def alert_rule_page(
    request: Request,
    project: VisibleProject,
    rule_id: int,
    session: DbSession,
    done: str | None = None,
) -> Response:
    """One rule: its settings (editable) and its delivery log."""
    found = await _project_and_rule(session, project, rule_id)
    if found is None:
        return not_found(request, "alert rule")
    return await _rule_page(request, session, *found, notice=NOTICES.get(done or ""))


@router.post("/projects/{project_id}/alerts/{rule_id}")
async def edit_alert_form(
    request: Request,
    project: VisibleProject,
    rule_id: int,
    session: DbSession,
    _user: CsrfUser,
    form: Annotated[RuleForm, Form()],
) -> Response:
    """Save the edited rule (an empty secret keeps the current one)."""
    found = await _project_and_rule(session, project, rule_id)
    if found is None:
        return not_found(request, "alert rule")
    rule = found[1]
    try:
        wanted = form.rule_input(enabled=form.enabled is not None)
        changes = {
            k: v for k, v in wanted.__dict__.items() if v is not None or k in ("min_level", "environment")
        }
        if not wanted.secret:
            changes.pop("secret", None)
        apply_changes(rule, changes)
        await session.flush()
    except AppError as exc:
        await session.rollback()
        await session.refresh(project)  # the rollback expired it
        found = await _project_and_rule(session, project, rule_id)
        assert found is not None
        return await _rule_page(request, session, *found, error=exc.message, status_code=exc.status_code)
    return redirect(f"/projects/{project.id}/alerts/{rule.id}?done=saved")


@router.post("/projects/{project_id}/alerts/{rule_id}/delete")
async def delete_alert_form(
    request: Request, project: VisibleProject, rule_id: int, session: DbSession, _user: CsrfUser
) -> Response:
    """Delete the rule and its delivery log."""
    found = await _project_and_rule(session, project, rule_id)
    if found is None:
        return not_found(request, "alert rule")
    await alerts.delete_rule(session, rule_id)
    return redirect(f"/projects/{project.id}/alerts?done=deleted")


@router.post("/projects/{project_id}/alerts/{rule_id}/test")
async def test_alert_form(
    request: Request, project: VisibleProject, rule_id: int, work: Work, _user: CsrfUser
) -> Response:
    """Queue a test alert through the rule (sent after this request commits)."""
    found = await _project_and_rule(work.session, project, rule_id)
    if found is None:
        return not_found(request, "alert rule")
    delivery_id = await alerts.add_test_delivery(work.session, rule_id)
    if delivery_id is not None:
        work.jobs.add(alert_job(delivery_id))
    return redirect(f"/projects/{project.id}/alerts/{rule_id}?done=test")
