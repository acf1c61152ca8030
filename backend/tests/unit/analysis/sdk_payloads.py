"""Sentry event payloads in the shapes the official SDKs send them, for the labelled platform table.

Python and Node rows also use the recorded payloads of tests/corpus/events/. For the other SDKs these
builders follow what each one puts on the wire: the event `platform` (`csharp` for .NET), `sdk.name`
(`sentry.java.spring-boot.jakarta`, `sentry.go`, `sentry.ruby.rails`, `sentry.php.laravel`,
`sentry.dotnet.aspnetcore`, `sentry.javascript.browser`), exception values with `type`/`value`/`module`
and a `mechanism`, frames caller first with each SDK's location fields (Java: `module` is the class and
`filename` the bare file name; Go: `module` the package path and `abs_path`; .NET: `module` the
namespace.class and `function` the method; PHP: `function` as `Class::method`; browser: the bundle's
URL as `filename`/`abs_path` with `colno`), `contexts.runtime` and, for a server, the request.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

CORPUS_EVENTS = Path(__file__).resolve().parents[2] / "corpus" / "events"

SDKS: dict[str, tuple[str, str, str]] = {  # kind -> (platform, sdk.name, sdk.version)
    "flask": ("python", "sentry.python.flask", "2.19.2"),
    "celery": ("python", "sentry.python", "2.19.2"),
    "node": ("node", "sentry.javascript.node", "8.42.0"),
    "browser": ("javascript", "sentry.javascript.browser", "8.42.0"),
    "react": ("javascript", "sentry.javascript.react", "8.42.0"),
    "java": ("java", "sentry.java.spring-boot.jakarta", "7.18.1"),
    "go": ("go", "sentry.go", "0.30.0"),
    "ruby": ("ruby", "sentry.ruby.rails", "5.22.0"),
    "php": ("php", "sentry.php.laravel", "4.10.0"),
    "dotnet": ("csharp", "sentry.dotnet.aspnetcore", "4.13.0"),
}

RUNTIMES: dict[str, dict[str, str]] = {
    "python": {"name": "CPython", "version": "3.12.7"},
    "node": {"name": "node", "version": "v20.18.1"},
    "java": {"name": "Eclipse Adoptium", "version": "21.0.5"},
    "go": {"name": "go", "version": "go1.23.4"},
    "ruby": {"name": "ruby", "version": "ruby 3.3.6 (2024-11-05 revision 75015d4c1f) [x86_64-linux]"},
    "php": {"name": "php", "version": "8.3.14"},
    "csharp": {"name": ".NET", "version": "8.0.11", "raw_description": ".NET 8.0.11"},
}

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Mobile/15E148 Safari/604.1"
)


def corpus(name: str) -> dict[str, Any]:
    """A payload a real SDK sent (tests/corpus/events/<name>.json)."""
    return copy.deepcopy(json.loads((CORPUS_EVENTS / f"{name}.json").read_text())["event"])


def exception(
    type_: str,
    value: str,
    frames: list[dict[str, Any]],
    *,
    module: str | None = None,
    mechanism: str = "generic",
    handled: bool = False,
) -> dict[str, Any]:
    exc: dict[str, Any] = {
        "type": type_,
        "value": value,
        "mechanism": {"type": mechanism, "handled": handled},
        "stacktrace": {"frames": frames},
    }
    if module:
        exc["module"] = module
    return exc


def event(
    kind: str,
    *exceptions: dict[str, Any],
    request: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An event of SDK `kind` (see SDKS), its exceptions oldest (the cause) first."""
    platform, sdk_name, version = SDKS[kind]
    payload: dict[str, Any] = {
        "event_id": "4f2b1c0d9e8a47b6a5c4d3e2f1a0b9c8",
        "timestamp": "2026-12-01T11:59:30Z",
        "platform": platform,
        "level": "error",
        "release": "shop@3.4.0",
        "environment": "production",
        "server_name": "web-2",
        "sdk": {"name": sdk_name, "version": version},
        "breadcrumbs": {"values": []},
    }
    if platform in RUNTIMES:
        payload["contexts"] = {"runtime": dict(RUNTIMES[platform])}
    if platform == "javascript":  # a page: no runtime context, no server; the request is the page's
        payload.pop("server_name")
        payload["request"] = {"url": "https://shop.example/cart", "headers": {"User-Agent": CHROME}}
    if exceptions:
        payload["exception"] = {"values": list(exceptions)}
    if request is not None:
        payload["request"] = request
    payload.update(fields)
    return payload


def get(url: str, method: str = "GET") -> dict[str, Any]:
    """The request of a server event, as the web framework integrations send it."""
    return {
        "url": url,
        "method": method,
        "headers": {"Host": "shop.example", "User-Agent": "shop-mobile/5.2 (iOS 17.6)", "Accept": "*/*"},
    }


def logentry(message: str, params: list[Any], formatted: str) -> dict[str, Any]:
    return {"message": message, "params": params, "formatted": formatted}


# ---- frames, caller first, as each SDK lays them out -----------------------------------------------


def py_frame(
    module: str,
    function: str,
    lineno: int,
    line: str,
    *,
    vars: dict[str, Any] | None = None,
    in_app: bool = True,
) -> dict[str, Any]:
    filename = module.replace(".", "/") + ".py"
    root = "/srv/shop/" if in_app else "/usr/local/lib/python3.12/site-packages/"
    frame: dict[str, Any] = {
        "filename": filename,
        "abs_path": root + filename,
        "module": module,
        "function": function,
        "lineno": lineno,
        "pre_context": [f"def {function}(*args):"],
        "context_line": line,
        "post_context": [""],
        "in_app": in_app,
    }
    if vars is not None:
        frame["vars"] = vars
    return frame


def node_frame(
    path: str, function: str, lineno: int, line: str | None = None, *, in_app: bool = True, **extra: Any
) -> dict[str, Any]:
    abs_path = path if not in_app else f"/srv/shop/{path}"
    frame: dict[str, Any] = {
        "filename": abs_path,
        "abs_path": abs_path,
        "module": path.rsplit("/", 1)[-1].removesuffix(".js"),
        "function": function,
        "lineno": lineno,
        "colno": 17,
        "in_app": in_app,
    }
    if line is not None:
        frame.update(pre_context=["  try {"], context_line=line, post_context=["  } finally {"])
    frame.update(extra)
    return frame


def browser_frame(bundle: str, function: str, lineno: int, colno: int) -> dict[str, Any]:
    url = f"https://shop.example/assets/{bundle}"
    return {
        "filename": url,
        "abs_path": url,
        "function": function,
        "lineno": lineno,
        "colno": colno,
        "in_app": True,
    }


def java_frame(cls: str, function: str, lineno: int, *, in_app: bool = True) -> dict[str, Any]:
    return {
        "module": cls,
        "function": function,
        "filename": cls.rsplit(".", 1)[-1].split("$", 1)[0] + ".java",
        "lineno": lineno,
        "in_app": in_app,
        "native": False,
    }


def go_frame(package: str, function: str, path: str, lineno: int, line: str, *, in_app: bool = True) -> dict:
    return {
        "function": function,
        "module": package,
        "abs_path": path,
        "lineno": lineno,
        "pre_context": ["\t// …"],
        "context_line": line,
        "post_context": ["\t}"],
        "in_app": in_app,
    }


def ruby_frame(
    path: str, function: str, lineno: int, line: str, *, in_app: bool = True, **extra: Any
) -> dict:
    frame: dict[str, Any] = {
        "project_root": "/srv/shop",
        "abs_path": f"/srv/shop/{path}" if in_app else f"/usr/local/bundle/gems/{path}",
        "filename": path,
        "function": function,
        "lineno": lineno,
        "in_app": in_app,
        "pre_context": ["  def " + function.split(" ")[-1]],
        "context_line": line,
        "post_context": ["  end"],
    }
    frame.update(extra)
    return frame


def php_frame(path: str, function: str, lineno: int, line: str, *, in_app: bool = True) -> dict[str, Any]:
    return {
        "filename": path,
        "abs_path": f"/var/www/html/{path}",
        "function": function,
        "lineno": lineno,
        "in_app": in_app,
        "pre_context": ["    {"],
        "context_line": line,
        "post_context": ["    }"],
    }


def dotnet_frame(cls: str, function: str, lineno: int, *, in_app: bool = True) -> dict[str, Any]:
    frame: dict[str, Any] = {"module": cls, "function": function, "in_app": in_app}
    if in_app:
        frame.update(abs_path=f"/src/Shop.Api/{cls.rsplit('.', 1)[-1]}.cs", lineno=lineno)
    return frame


# The framework frames each server SDK puts under the app's own.
FLASK = py_frame(
    "flask.app", "dispatch_request", 902, "return self.ensure_sync(view)(**req.view_args)", in_app=False
)
CELERY = py_frame("celery.app.trace", "trace_task", 453, "R = retval = fun(*args, **kwargs)", in_app=False)
EXPRESS = node_frame(
    "node_modules/express/lib/router/layer.js", "Layer.handle [as handle_request]", 95, in_app=False
)
SPRING = java_frame("org.springframework.web.servlet.FrameworkServlet", "service", 885, in_app=False)
NET_HTTP = go_frame(
    "net/http",
    "HandlerFunc.ServeHTTP",
    "/usr/local/go/src/net/http/server.go",
    2220,
    "\tf(w, r)",
    in_app=False,
)
RAILS = ruby_frame(
    "actionpack-7.2.2/lib/action_controller/metal/basic_implicit_render.rb",
    "send_action",
    8,
    "    super.tap { }",
    in_app=False,
)
LARAVEL = php_frame(
    "vendor/laravel/framework/src/Illuminate/Routing/Controller.php",
    "Illuminate\\Routing\\Controller::callAction",
    54,
    "        return $this->{$method}(...array_values($parameters));",
    in_app=False,
)
ASPNET = dotnet_frame(
    "Microsoft.AspNetCore.Mvc.Infrastructure.ActionMethodExecutor+TaskOfIActionResultExecutor",
    "Execute",
    0,
    in_app=False,
)
