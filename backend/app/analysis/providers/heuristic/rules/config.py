"""Rules for configuration and deployment: missing settings, modules, native libraries and import names."""

from __future__ import annotations

from app.analysis.providers.heuristic.registry import register
from app.analysis.providers.heuristic.rule import Rule, Sig

register(
    Rule(
        id="missing-config",
        category="missing_config",
        severity="high",
        confidence=0.85,
        match=(
            Sig(
                type=r"KeyError",
                text=r"^['\"]?(?P<name>[^'\"\n]+)['\"]?$",
                code=r"os\.environ|environ\[|getenv|ENV\[",
            ),
            Sig(type=r"ImproperlyConfigured"),
            Sig(text=r"ImproperlyConfigured: (?P<detail>[^\n]+)"),
            Sig(
                text=r"(?:environment variable|env var(?:iable)?"
                r"|setting)s?\s+['\"`]?(?P<name>(?-i:[A-Z][A-Z0-9_]{2,}))"
                r"['\"`]?\s+(?:is\s+)?(?:not set|not defined|missing|required|must be set|undefined|empty)"
            ),
            Sig(
                text=r"(?:Set|Define) the (?P<name>(?-i:[A-Z][A-Z0-9_]{2,})) (?:environment variable|setting)"
            ),
            Sig(
                text=r"['\"`]?(?P<name>(?-i:[A-Z][A-Z0-9]*_[A-Z0-9_]+))['\"`]? (?:environment variable )?"
                r"(?:is not set|must be set|is required|is missing|is not defined)",
                confidence=0.8,
            ),
            Sig(
                text=r"Missing (?:required )?(?:environment variables?|env(?:ironment)? vars?"
                r"|config(?:uration)?"
                r"(?: values?| keys?)?):?\s+['\"`]?(?P<name>[\w.]+)",
                confidence=0.8,
            ),
            Sig(text=r"Missing `(?P<name>\w+)` for '\w+' environment"),
            Sig(
                type=r"ValidationError",
                text=r"validation errors? for \w*(?:Settings|Config)\b(?:\n(?P<name>[\w.]+)\n)?",
                confidence=0.8,
            ),
            Sig(
                type=r"KeyError",
                text=r"^['\"]?(?P<name>(?-i:[A-Z][A-Z0-9]*_[A-Z0-9_]+))['\"]?$",
                confidence=0.55,
            ),
        ),
        summary="Required configuration {name} is not set in this environment",
        root_cause=(
            "The code reads {name} from the environment/settings at runtime[[ ({detail})]], and this "
            "deployment does not define it (or defines it empty). This usually appears right after a "
            "deploy that introduced the setting, in a new environment, or in a worker/cron process whose "
            "environment differs from the web process."
        ),
        fix=(
            "1. Set {name} in this environment's configuration (secret store, `.env`, Kubernetes "
            "Secret/ConfigMap, CI variables) for every process type — web, workers, cron — and restart "
            "them.\n"
            "2. Validate required settings at startup (e.g. a pydantic `Settings` class) so a missing value "
            "fails the deploy, not a user request.\n"
            "3. Document it in `.env.example` and the deployment notes."
        ),
        defaults={"name": "a required setting"},
    ),
    Rule(
        id="module-not-found",
        category="import_error",
        severity="high",
        confidence=0.85,
        match=(
            Sig(type=r"ModuleNotFoundError", text=r"No module named '(?P<module>[^'\n]+)'", confidence=0.9),
            Sig(text=r"No module named '?(?P<module>[\w.]+)'?"),
            Sig(text=r"Cannot find (?:module|package) '(?P<module>[^'\n]+)'", confidence=0.9),
            Sig(text=r"\bERR_MODULE_NOT_FOUND\b|\bMODULE_NOT_FOUND\b"),
            Sig(text=r"(?:ClassNotFoundException|NoClassDefFoundError)(?::|\s+)\s*(?P<module>[\w.$/]+)"),
            Sig(text=r"cannot load such file -- (?P<module>\S+)"),
            Sig(
                type=r"ModuleNotFoundError|ClassNotFoundException|NoClassDefFoundError|LoadError",
                confidence=0.8,
            ),
        ),
        summary="Module {module} could not be found by the running application",
        root_cause=(
            "The code imports {module}, but the runtime that executed it cannot find it. Typically the "
            "package is missing from the runtime dependency list, or was added there without rebuilding "
            "the image/virtualenv; it is a dev-only dependency that production does not install; the "
            "process runs with a different interpreter, virtualenv or working directory; or the name has a "
            "typo or wrong case (works on macOS, fails on Linux). If {module} is part of this codebase, the "
            "file is missing from the build or the import path (`PYTHONPATH`, classpath) is wrong."
        ),
        fix=(
            "1. Check the deployed environment itself: `pip show PACKAGE` / `npm ls PACKAGE` / `bundle "
            "list` inside the running container.\n"
            "2. Add the package (pinned) to the runtime dependencies — not only the dev ones — and rebuild "
            "and redeploy the image.\n"
            "3. Import the app in CI from a clean install (a smoke test) so a missing dependency fails "
            "the build."
        ),
    ),
    Rule(
        id="native-library-missing",
        category="import_error",
        severity="high",
        confidence=0.85,
        match=(
            Sig(text=r"(?P<module>\b[\w+-][\w.+-]{0,80}\.so(?:\.[\d.]+)*): cannot open shared object file"),
            Sig(
                text=r"Library not loaded: (?P<module>\S+)|DLL load failed(?: while importing "
                r"(?P<module2>\w+))?"
            ),
        ),
        summary="A native library ({module}) is missing from the runtime image",
        root_cause=(
            "A compiled extension needs the system library {module}, which is not installed in this "
            "image (common with slim/alpine images, or wheels built for another platform)."
        ),
        fix=(
            "1. Install the system package that provides it in the image (e.g. `libpq5` for `libpq.so`).\n"
            "2. Or use a wheel that bundles it (e.g. `psycopg[binary]`), built for this platform (glibc "
            "vs musl).\n"
            "3. Rebuild the image and run an import smoke test in CI."
        ),
    ),
    Rule(
        id="import-name",
        category="import_error",
        severity="high",
        confidence=0.85,
        match=(
            Sig(text=r"cannot import name '(?P<name>[^'\n]+)' from '(?P<module>[^'\n]+)'", confidence=0.9),
            Sig(text=r"cannot import name '(?P<name>[^'\n]+)'"),
            Sig(
                text=r"The requested module '(?P<module>[^'\n]+)' does not provide an export named "
                r"'(?P<name>[^'\n]+)'"
            ),
            Sig(type=r"ImportError", confidence=0.7),
        ),
        summary="An import failed[[: {module} does not provide {name}]]",
        root_cause=(
            "The module[[ {module}]] was found, but the name the code imports[[ ({name})]] is not "
            "defined in it. Either a dependency "
            "upgrade renamed or removed it (compare the installed version with the one the code was written "
            "for), a local module was refactored without updating this import, or — if the message says "
            "'partially initialized module' — two modules import each other (a circular import) and one is "
            "used before it finished loading."
        ),
        fix=(
            "1. Compare the installed version (`pip show`, `npm ls`) with the lock file; pin a compatible "
            "version or update the import to the new name.\n"
            "2. For a circular import, move the shared code into a third module or import inside the "
            "function that needs it.\n"
            "3. Add an import smoke test to CI."
        ),
    ),
)
