"""Helpers for dashboard and read-API tests: users, tokens, logged-in HTTP clients, events sent the
way clients send them (seed JSON and Sentry store), and reading a page's CSRF token."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from app.auth.service import create_user, sync_create_api_token
from app.db import sync_session
from app.models import Project
from app.projects.service import sync_create_project
from tests.support.db import scalar

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_user(
    email: str = "dev@example.com",
    password: str = PASSWORD,
    *,
    admin: bool = True,
    projects: tuple[int, ...] = (),
) -> int:
    """A dashboard user: an admin (sees every project) unless `admin=False`, then a member of `projects`."""
    with sync_session() as session:
        return create_user(session, email, password, is_admin=admin, project_ids=projects).id


def make_project(name: str) -> Project:
    with sync_session() as session:
        return sync_create_project(session, name)


def make_token(project_ids: list[int], name: str = "test token", scopes: list[str] | None = None) -> str:
    with sync_session() as session:
        return sync_create_api_token(session, name, project_ids, scopes=scopes).secret


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no csrf_token field"
    return match.group(1)


def login(
    base_url: str, email: str = "dev@example.com", password: str = PASSWORD, *, client_ip: str | None = None
) -> httpx.Client:
    """A client holding a logged-in session (cookies), as a browser would after the login form.

    `client_ip`: the address the server sees (sent as X-Forwarded-For, which uvicorn takes from a
    proxy on 127.0.0.1)."""
    headers = {"X-Forwarded-For": client_ip} if client_ip else {}
    client = httpx.Client(base_url=base_url, timeout=10, headers=headers)
    form = client.get("/login")
    answer = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_of(form.text)}
    )
    assert answer.status_code == 303, answer.text
    return client


def logged_in_csrf(client: httpx.Client) -> str:
    return csrf_of(client.get("/projects").text)


def api(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def send_seed(base_url: str, **fields: Any) -> dict[str, Any]:
    """POST the seed's event (fields override the README's example) and return the answer."""
    body = {
        "project_key": "test",
        "message": "Server error",
        "method": "GET",
        "path": "/api/test",
        "status_code": 500,
        "timestamp": "2024-01-15T12:00:00Z",
        **fields,
    }
    response = httpx.post(f"{base_url}/api/v1/events", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def sentry_event(**overrides: Any) -> dict[str, Any]:
    """A Python SDK-like error event with a chained exception, frames, request, breadcrumbs, tags, user."""
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "timestamp": "2026-11-30T09:00:00Z",
        "platform": "python",
        "level": "error",
        "release": "shop@2.4.1",
        "environment": "production",
        "server_name": "web-1",
        "tags": {"region": "eu-west", "customer_tier": "gold"},
        "user": {"id": "4711", "username": "ada"},
        "request": {
            "method": "POST",
            "url": "https://shop.example/api/checkout?step=2",
            "headers": {"User-Agent": "curl/8.0", "Accept": "application/json"},
            "data": {"sku": "A-1"},
        },
        "breadcrumbs": {
            "values": [
                {"timestamp": 1764493190.5, "category": "http", "level": "info", "message": "GET /api/cart"},
                {
                    "timestamp": "2026-11-30T08:59:59Z",
                    "category": "db",
                    "level": "error",
                    "message": "deadlock",
                },
            ]
        },
        "exception": {
            "values": [
                {
                    "type": "KeyError",
                    "value": "'sku'",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "shop/cart.py",
                                "module": "shop.cart",
                                "function": "reserve",
                                "lineno": 41,
                                "in_app": True,
                                "pre_context": ["def reserve(cart):", "    item = cart.items[0]"],
                                "context_line": "    return stock[item['sku']]",
                                "post_context": [""],
                            }
                        ]
                    },
                },
                {
                    "type": "CheckoutError",
                    "value": "could not reserve stock",
                    "mechanism": {"type": "chained", "handled": False},
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "site-packages/starlette/routing.py",
                                "module": "starlette.routing",
                                "function": "handle",
                                "lineno": 73,
                                "in_app": False,
                            },
                            {
                                "filename": "shop/checkout.py",
                                "module": "shop.checkout",
                                "function": "checkout",
                                "lineno": 88,
                                "in_app": True,
                                "pre_context": ["    try:"],
                                "context_line": "        reserve(cart)",
                                "post_context": ["    except KeyError as exc:"],
                            },
                        ]
                    },
                },
            ]
        },
        "contexts": {"response": {"status_code": 500}, "runtime": {"name": "CPython", "version": "3.12.1"}},
    }
    event.update(overrides)
    return event


def send_sentry(base_url: str, project: Project, event: dict[str, Any]) -> None:
    """POST one event to the project's Sentry store endpoint, authenticated with its DSN key."""
    response = httpx.post(
        f"{base_url}/api/{project.id}/store/?sentry_key={project.public_key}", json=event, timeout=10
    )
    assert response.status_code == 200, response.text


def issue_id_for(title_part: str) -> int:
    found = scalar("SELECT id FROM issues WHERE title LIKE :t ORDER BY id LIMIT 1", t=f"%{title_part}%")
    assert found is not None, f"no issue titled like {title_part!r}"
    return int(found)
