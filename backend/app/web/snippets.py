"""Copy-ready setup snippets for a project: Python and JavaScript Sentry SDKs, and the seed's curl."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from app.config import get_settings
from app.models import Project
from app.projects.service import dsn_for


@dataclass(frozen=True)
class Snippet:
    key: str
    label: str
    code: str


def project_snippets(project: Project) -> list[Snippet]:
    """The snippets shown on the projects page and an empty issues list (plain text; escaped on render)."""
    dsn = dsn_for(project)
    base = get_settings().public_url.rstrip("/")
    seed_body = json.dumps(
        {
            "project_key": project.public_key,
            "message": "Server error",
            "method": "GET",
            "path": "/api/test",
            "status_code": 500,
            "timestamp": "2024-01-15T12:00:00Z",
        }
    )
    return [
        Snippet(
            "python",
            "Python",
            "pip install sentry-sdk\n\n"
            "import sentry_sdk\n\n"
            "sentry_sdk.init(\n"
            f"    dsn={json.dumps(dsn)},\n"
            '    environment="production",\n'
            '    release="my-app@1.0.0",\n'
            "    send_default_pii=False,\n"
            ")",
        ),
        Snippet(
            "node",
            "Node.js",
            "npm install @sentry/node\n\n"
            'const Sentry = require("@sentry/node");\n\n'
            "Sentry.init({\n"
            f"  dsn: {json.dumps(dsn)},\n"
            '  environment: "production",\n'
            '  release: "my-app@1.0.0",\n'
            "});",
        ),
        Snippet(
            "browser",
            "Browser",
            "npm install @sentry/browser\n\n"
            'import * as Sentry from "@sentry/browser";\n\n'
            "Sentry.init({\n"
            f"  dsn: {json.dumps(dsn)},\n"
            '  environment: "production",\n'
            "});",
        ),
        Snippet(
            "curl",
            "curl",
            f"curl -X POST {shlex.quote(base + '/api/v1/events')} \\\n"
            "  -H 'Content-Type: application/json' \\\n"
            f"  -d {shlex.quote(seed_body)}",
        ),
    ]
