"""Who gets in: only ingest, health, metrics (guarded apart), static files and the login page answer
without a login or token; sessions are signed HttpOnly cookies that logout really ends; CSRF guards
every form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

import app.web
from app.config import get_settings
from app.main import create_app
from tests.support.dashboard import PASSWORD, csrf_of, login, make_project, make_user, send_seed
from tests.support.db import scalar

PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),  # its own guard: METRICS_TOKEN, else loopback only (tests/e2e/test_metrics.py)
    ("POST", "/api/v1/events"),
    ("POST", "/api/{project_id}/envelope/"),
    ("POST", "/api/{project_id}/envelope"),
    ("POST", "/api/{project_id}/store/"),
    ("POST", "/api/{project_id}/store"),
    ("GET", "/login"),
    ("POST", "/login"),
    # API docs: they describe the API, whose every endpoint is checked here (issue 19).
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
}


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods - {"HEAD"}):
                yield method, prefix + route.path
        elif hasattr(route, "original_router"):  # FastAPI's wrapper of an included router
            inner = prefix + (getattr(route.include_context, "prefix", "") or "")
            yield from _walk(route.original_router.routes, inner)


def every_route() -> list[tuple[str, str]]:
    """Every (method, path) the real app serves."""
    return list(_walk(create_app().routes))


def test_every_route_but_ingest_health_and_login_needs_a_login_or_token(live_server):
    routes = every_route()
    assert ("GET", "/projects/{project_id}/issues") in routes  # the list is the real app's
    checked = 0
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        url = live_server.url + re.sub(r"\{[^}]+\}", "1", path)
        response = httpx.request(method, url, follow_redirects=False)
        if path.startswith("/api/"):
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.headers["www-authenticate"] == "Bearer"
        else:
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/login"), (method, path)
        checked += 1
    assert checked >= 20


def test_public_endpoints_answer_without_auth(live_server):
    assert httpx.get(f"{live_server.url}/healthz").status_code == 200
    assert httpx.get(f"{live_server.url}/docs").status_code == 200
    assert httpx.get(f"{live_server.url}/openapi.json").status_code == 200
    assert httpx.get(f"{live_server.url}/login").status_code == 200
    css = httpx.get(f"{live_server.url}/static/style.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert send_seed(live_server.url)["id"] == 1


def test_a_page_redirects_to_login_and_back(live_server):
    make_user()
    client = httpx.Client(base_url=live_server.url)
    first = client.get("/projects?x=1", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=%2Fprojects%3Fx%3D1"
    form = client.get(first.headers["location"])
    assert 'name="next" value="/projects?x=1"' in form.text
    landed = client.post(
        "/login",
        data={
            "email": "dev@example.com",
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": "/projects?x=1",
        },
    )
    assert landed.status_code == 303 and landed.headers["location"] == "/projects?x=1"


def test_login_sets_a_signed_httponly_lax_cookie_and_never_an_open_redirect(live_server):
    make_user()
    client = httpx.Client(base_url=live_server.url)
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={
            "email": "DEV@example.com",
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": "//evil.example/",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/projects"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("fl_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    # The cookie is signed and the session row holds only its hash.
    value = cookie.split(";")[0].split("=", 1)[1]
    assert "." in value
    assert scalar("SELECT count(*) FROM user_sessions") == 1
    assert scalar("SELECT count(*) FROM user_sessions WHERE position(token_hash in :v) > 0", v=value) == 0


def test_secure_cookies_setting_marks_the_cookie_secure(live_server, monkeypatch):
    make_user()
    monkeypatch.setenv("SECURE_COOKIES", "true")
    get_settings.cache_clear()
    form = httpx.get(f"{live_server.url}/login")
    login_cookie = next(c for c in form.headers.get_list("set-cookie") if c.startswith("fl_login_csrf="))
    assert "Secure" in login_cookie
    # A client over plain HTTP would not send a Secure cookie back; send it as if over HTTPS.
    answer = httpx.post(
        f"{live_server.url}/login",
        data={"email": "dev@example.com", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        headers={"Cookie": login_cookie.split(";")[0]},
    )
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("fl_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_wrong_password_and_unknown_user_are_refused_alike(live_server):
    make_user()
    for email, password in (("dev@example.com", "wrong password"), ("nobody@example.com", PASSWORD)):
        client = httpx.Client(base_url=live_server.url)
        form = client.get("/login")
        answer = client.post(
            "/login", data={"email": email, "password": password, "csrf_token": csrf_of(form.text)}
        )
        assert answer.status_code == 401
        assert "Wrong email or password." in answer.text
        assert "fl_session" not in client.cookies
        assert client.get("/projects", follow_redirects=False).status_code == 303


def test_login_form_without_its_csrf_token_is_refused(live_server):
    make_user()
    client = httpx.Client(base_url=live_server.url)
    client.get("/login")
    answer = client.post(
        "/login", data={"email": "dev@example.com", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert answer.status_code == 403
    assert "fl_session" not in client.cookies


def test_tampered_session_cookie_is_refused(live_server):
    make_user()
    client = login(live_server.url)
    good = client.cookies["fl_session"]
    client.cookies.set("fl_session", good[:-2] + ("AA" if not good.endswith("AA") else "BB"))
    assert client.get("/projects", follow_redirects=False).status_code == 303


def test_logout_ends_the_session_on_the_server(live_server):
    make_user()
    client = login(live_server.url)
    stolen = client.cookies["fl_session"]
    assert client.get("/projects").status_code == 200
    # Without the CSRF token, logout is refused (and nothing happens).
    assert client.post("/logout", follow_redirects=False).status_code == 403
    answer = client.post(
        "/logout", data={"csrf_token": csrf_of(client.get("/projects").text)}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert scalar("SELECT count(*) FROM user_sessions") == 0
    replay = httpx.get(f"{live_server.url}/projects", cookies={"fl_session": stolen}, follow_redirects=False)
    assert replay.status_code == 303


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/projects", {"name": "csrf-made"}),
        ("/issues/{issue}/status", {"status": "resolved"}),
        ("/issues/{issue}/reanalyse", {}),
        ("/tokens", {"name": "t", "project": "{project}"}),
    ],
)
def test_state_changes_without_the_csrf_token_are_refused(live_server, path, data):
    make_user()
    issue = send_seed(live_server.url)["issue_id"]
    project = scalar("SELECT project_id FROM issues WHERE id = :i", i=issue)
    client = login(live_server.url)
    url = path.format(issue=issue)
    form = {k: v.format(project=project) for k, v in data.items()}
    before = scalar(
        "SELECT (SELECT count(*) FROM projects) + (SELECT count(*) FROM issue_analyses)"
        " + (SELECT count(*) FROM api_tokens) + (SELECT count(*) FROM issues WHERE status = 'resolved')"
    )
    for token in (None, "not-the-token", csrf_of(login(live_server.url).get("/projects").text)):
        sent = form if token is None else {**form, "csrf_token": token}
        answer = client.post(url, data=sent, follow_redirects=False)
        assert answer.status_code == 403, (url, token)
    after = scalar(
        "SELECT (SELECT count(*) FROM projects) + (SELECT count(*) FROM issue_analyses)"
        " + (SELECT count(*) FROM api_tokens) + (SELECT count(*) FROM issues WHERE status = 'resolved')"
    )
    assert after == before
    # The same form with this session's token goes through.
    ok = client.post(
        url, data={**form, "csrf_token": csrf_of(client.get("/projects").text)}, follow_redirects=False
    )
    assert ok.status_code in (201, 303)


def test_every_answer_carries_the_security_headers(live_server):
    make_user()
    make_project("csp")
    client = login(live_server.url)
    answers = {
        "page": client.get("/projects"),
        "login page": httpx.get(f"{live_server.url}/login"),
        "redirect to login": httpx.get(f"{live_server.url}/projects", follow_redirects=False),
        "404 page": client.get("/issues/999"),
        "403 page": client.post("/logout"),  # no CSRF token
        "static file": httpx.get(f"{live_server.url}/static/app.js"),
        "read API": httpx.get(f"{live_server.url}/api/v1/projects"),
    }
    for what, answer in answers.items():
        csp = answer.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, what
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
        assert answer.headers["x-content-type-options"] == "nosniff", what
        assert answer.headers["referrer-policy"] == "same-origin", what
        assert answer.headers["x-frame-options"] == "DENY", what
    assert answers["page"].headers["cache-control"] == "no-store"


def test_templates_hold_no_inline_script_or_style():
    templates = Path(app.web.__file__).parent / "templates"
    for template in templates.glob("*.html"):
        source = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", source), template.name
        assert not re.search(r"\son[a-z]+\s*=", source), template.name  # onclick=, onload=, ...
        assert not re.search(r"<style|\sstyle\s*=", source), template.name
        assert "javascript:" not in source, template.name


@pytest.mark.parametrize(
    ("public_url", "setting", "secure"),
    [
        ("https://errors.example.com", None, True),
        ("http://localhost:8000", None, False),
        ("https://errors.example.com", "false", False),  # an explicit setting wins
        ("http://localhost:8000", "true", True),
    ],
)
def test_cookies_are_secure_by_default_when_public_url_is_https(
    live_server, monkeypatch, public_url, setting, secure
):
    monkeypatch.setenv("PUBLIC_URL", public_url)
    if setting is None:
        monkeypatch.delenv("SECURE_COOKIES", raising=False)
    else:
        monkeypatch.setenv("SECURE_COOKIES", setting)
    get_settings.cache_clear()
    form = httpx.get(f"{live_server.url}/login")
    cookie = next(c for c in form.headers.get_list("set-cookie") if c.startswith("fl_login_csrf="))
    assert ("Secure" in cookie) is secure, cookie
