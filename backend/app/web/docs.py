"""The API reference at /docs (rendered here from the OpenAPI schema: no CDN, works offline) and
/openapi.json. Both are public, as API docs usually are (the banner prints /docs for people who
have no login yet); they describe the API, and every endpoint they describe still wants its token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from app.auth.cookies import SESSION_COOKIE, unsign
from app.auth.dependencies import SESSION_MAX_AGE_S, DbSession
from app.auth.service import load_session
from app.config import get_settings
from app.web.rendering import pretty_json, render

router = APIRouter(include_in_schema=False)

METHODS = ("get", "post", "patch", "put", "delete")


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return spec.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[1], {})
    return schema


def _example(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """The first example a schema (or the array item it holds) documents, else None."""
    schema = _resolve(schema, spec)
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        item = _example(schema["items"], spec)
        return [item] if item is not None else None
    return None


def _type_of(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " | ".join(_type_of(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(map(str, schema["enum"]))
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    return str(schema.get("type", "any"))


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every /api/ operation of the schema, flattened for the template."""
    found = []
    for path, item in spec.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method in METHODS:
            op = item.get(method)
            if not op:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            responses = []
            for code, answer in op.get("responses", {}).items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
                example = _example(schema, spec) if schema else None
                responses.append(
                    {
                        "code": code,
                        "description": answer.get("description", ""),
                        "example": pretty_json(example) if example is not None else None,
                    }
                )
            found.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "tag": (op.get("tags") or ["other"])[0],
                    "secured": bool(op.get("security")),
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "required": p.get("required", False),
                            "type": _type_of(p.get("schema", {})),
                            "description": p.get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body_example": pretty_json(_example(body, spec))
                    if body and _example(body, spec)
                    else None,
                    "responses": responses,
                }
            )
    return found


@router.get("/docs")
async def api_docs(request: Request, session: DbSession) -> Response:
    """The API reference page, for anyone; a logged-in user also gets the dashboard's navigation."""
    token = unsign("session", request.cookies.get(SESSION_COOKIE), SESSION_MAX_AGE_S)
    who = await load_session(session, token) if token else None
    if who is not None:
        request.state.user = who
    ops = operations(request.app.openapi())
    base = get_settings().public_url.rstrip("/")
    return render(request, "api_docs.html", {"operations": ops, "base": base})


@router.get("/openapi.json")
async def openapi_schema(request: Request) -> Response:
    """The OpenAPI document, for anyone (the data it describes wants an API token)."""
    return JSONResponse(request.app.openapi())
