"""Copy-ready setup snippets for a project: Python and JavaScript Sentry SDKs, the seed's curl, and
the sentry-cli commands that upload a JavaScript build's source maps."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from app.config import get_settings
from app.models import Project, project_slug
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
        Snippet("sourcemaps", "Source maps", sourcemap_commands(project)),
        Snippet(
            "curl",
            "curl",
            f"curl -X POST {shlex.quote(base + '/api/v1/events')} \\\n"
            "  -H 'Content-Type: application/json' \\\n"
            f"  -d {shlex.quote(seed_body)}",
        ),
    ]


# Faultline has one organisation; sentry-cli wants a slug for it and any is accepted.
ORG_SLUG = "faultline"


def sourcemap_commands(project: Project) -> str:
    """What a build pipeline runs to upload a bundle's source maps with the real sentry-cli (npm
    @sentry/cli), and how to make the project:write token it needs."""
    base = shlex.quote(get_settings().public_url.rstrip("/"))
    slug = shlex.quote(project_slug(project))
    cli = f'sentry-cli --url {base} --auth-token "$FAULTLINE_TOKEN"'
    return (
        "# once: a token that may upload to this project (shown once; keep it in your CI's secrets),\n"
        '# or on the dashboard\'s API tokens page with "May also write" ticked\n'
        f"python -m app create-token ci-uploads --project {project.id} --scope project:write\n\n"
        "# each build (npm install --save-dev @sentry/cli), after bundling into ./dist with source maps:\n"
        f"{cli} sourcemaps inject ./dist\n"
        f"{cli} sourcemaps upload --org {ORG_SLUG} --project {slug} ./dist\n\n"
        "# SDKs too old for debug ids: name the release the SDK sends, and deploy the files at these URLs\n"
        f'{cli} sourcemaps upload --org {ORG_SLUG} --project {slug} --release "my-app@1.0.0" ./dist'
    )
