"""Two events as the issue page meets them in real life, built on the recorded SDK payloads of
tests/corpus/: a Node event with 44 breadcrumbs (@sentry/node's console and http breadcrumbs added to
the recorded `node_a_checkout_chained` event) and a Flask event (the recorded Python
`py_a_fastapi_item_missing` event's shape, with Flask 3 / Werkzeug 3's call chain as the framework
frames, each with its context lines and local variables as sentry-sdk sends them)."""

from __future__ import annotations

import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any

CORPUS_EVENTS = Path(__file__).resolve().parents[1] / "corpus" / "events"


def corpus_event(name: str) -> dict[str, Any]:
    return json.loads((CORPUS_EVENTS / f"{name}.json").read_text())["event"]


def node_long_event() -> dict[str, Any]:
    """The recorded Node chained error, sent now, with 44 breadcrumbs (console lines and outgoing HTTP
    calls, as @sentry/node's Console and Http integrations record them) and the crash frame's locals."""
    event = copy.deepcopy(corpus_event("node_a_checkout_chained"))
    event["event_id"] = uuid.uuid4().hex
    now = time.time()
    event["timestamp"] = now
    crumbs: list[dict[str, Any]] = []
    for n in range(44):
        at = now - (44 - n) * 1.5
        if n % 3 == 2:
            crumbs.append(
                {
                    "timestamp": at,
                    "type": "http",
                    "category": "http",
                    "data": {
                        "http.method": "GET",
                        "url": f"http://inventory.internal:8080/api/v2/stock/sku-{1000 + n}",
                        "status_code": 200,
                        "ADDED_PATH": "/api/v2/stock",
                    },
                }
            )
        else:
            crumbs.append(
                {
                    "timestamp": at,
                    "category": "console",
                    "level": "log" if n % 3 == 0 else "warning",
                    "message": f"cart c-91aa: line {n} priced, quantity {n % 4}",
                    "data": {
                        "arguments": [f"cart c-91aa: line {n} priced", {"quantity": n % 4}],
                        "logger": "console",
                    },
                }
            )
    crumbs[-1] = {
        "timestamp": now - 0.2,
        "category": "console",
        "level": "error",
        "message": "validateQuantity: quantity 0 for sku-1043",
        "data": {"arguments": ["validateQuantity: quantity 0 for sku-1043"], "logger": "console"},
    }
    event["breadcrumbs"] = crumbs
    crash = event["exception"]["values"][0]["stacktrace"]["frames"][-1]
    crash["vars"] = {"quantity": 0, "sku": "sku-1043", "cart": "[Object]", "limit": 99}
    return event


_FLASK_CHAIN = [
    ("werkzeug/serving.py", "werkzeug.serving", "run_wsgi", 370, "execute(self.server.app)"),
    (
        "werkzeug/serving.py",
        "werkzeug.serving",
        "execute",
        331,
        "application_iter = app(environ, start_response)",
    ),
    ("flask/app.py", "flask.app", "__call__", 1536, "return self.wsgi_app(environ, start_response)"),
    (
        "sentry_sdk/integrations/flask.py",
        "sentry_sdk.integrations.flask",
        "sentry_patched_wsgi_app",
        94,
        "return SentryWsgiMiddleware(",
    ),
    (
        "sentry_sdk/integrations/wsgi.py",
        "sentry_sdk.integrations.wsgi",
        "__call__",
        115,
        "response = self.app(",
    ),
    ("flask/app.py", "flask.app", "wsgi_app", 1514, "response = self.handle_exception(e)"),
    ("flask/app.py", "flask.app", "wsgi_app", 1511, "response = self.full_dispatch_request()"),
    ("flask/app.py", "flask.app", "full_dispatch_request", 919, "rv = self.handle_user_exception(e)"),
    ("flask/app.py", "flask.app", "full_dispatch_request", 917, "rv = self.dispatch_request()"),
    (
        "flask/app.py",
        "flask.app",
        "dispatch_request",
        902,
        "return self.ensure_sync(self.view_functions[rule.endpoint])(**view_args)",
    ),
]


def flask_event() -> dict[str, Any]:
    """A Flask view's LookupError as sentry-sdk's Flask integration reports it: ten framework frames
    (each with five lines of context either side and its locals), then the app's two frames."""
    event = copy.deepcopy(corpus_event("py_a_fastapi_item_missing"))
    event["event_id"] = uuid.uuid4().hex
    event["timestamp"] = time.time()
    event["transaction"] = "get_item"
    event["transaction_info"] = {"source": "endpoint"}
    event["request"] = {
        "url": "http://shop.example/items/42",
        "query_string": "expand=price",
        "method": "GET",
        "env": {"SERVER_NAME": "shop.example", "SERVER_PORT": "80"},
        "headers": {"Host": "shop.example", "User-Agent": "curl/8.5.0", "Accept": "*/*"},
    }
    value = event["exception"]["values"][-1]
    recorded = value["stacktrace"]["frames"]
    app_frames = [f for f in recorded if f.get("in_app") or f.get("in_app") is None]
    environ = {
        "REQUEST_METHOD": "'GET'",
        "PATH_INFO": "'/items/42'",
        "QUERY_STRING": "'expand=price'",
        "SERVER_NAME": "'shop.example'",
        "wsgi.url_scheme": "'http'",
        "werkzeug.request": "<Request 'http://shop.example/items/42?expand=price' [GET]>",
    }
    frames: list[dict[str, Any]] = []
    for filename, module, function, lineno, line in _FLASK_CHAIN:
        frames.append(
            {
                "filename": filename,
                "abs_path": f"/usr/local/lib/python3.11/site-packages/{filename}",
                "function": function,
                "module": module,
                "lineno": lineno,
                "pre_context": [f"        # {function}: line {lineno - k}" for k in range(5, 0, -1)],
                "context_line": f"        {line}",
                "post_context": [f"        # {function}: line {lineno + k}" for k in range(1, 6)],
                "vars": {
                    "self": f"<{module}.{function} object at 0x7f6f686f12d0>",
                    "environ": environ,
                    "start_response": "<function WSGIRequestHandler.run_wsgi.<locals>.start_response"
                    " at 0x7f6f67d7a0c0>",
                },
                "in_app": False,
            }
        )
    for f in app_frames:
        f["in_app"] = True
    value["mechanism"] = {"type": "flask", "handled": False}
    value["stacktrace"]["frames"] = frames + app_frames
    event["breadcrumbs"] = {
        "values": [
            {
                "timestamp": time.time() - 1,
                "category": "query",
                "message": "SELECT id, name, price FROM items WHERE id = %s",
                "data": {"db.params": ["42"]},
            }
        ]
    }
    return event
