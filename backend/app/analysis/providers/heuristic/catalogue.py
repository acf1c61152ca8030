"""The catalogue: every registered rule, in the order the engine tries them.

Order matters: the first matching rule wins, so specific signatures come first (disk full inside a
database error is still disk full; a DNS failure inside a Redis error is DNS), and guesses from wording
alone, with no driver message or telling exception type, come last. PRECEDENCE must name every
registered rule exactly once; importing this module fails otherwise.
"""

from __future__ import annotations

from app.analysis.providers.heuristic import rules as _rules  # noqa: F401  (registers every rule)
from app.analysis.providers.heuristic.registry import REGISTRY
from app.analysis.providers.heuristic.rule import Rule

PRECEDENCE: tuple[str, ...] = (
    # ---- resources -------------------------------------------------------------------------------
    "disk-full",
    "redis-maxmemory",
    "out-of-memory",
    "too-many-open-files",
    "redis-misconf",
    # ---- name resolution and TLS -----------------------------------------------------------------
    "dns-resolution",
    "tls-certificate",
    # ---- SQL databases ---------------------------------------------------------------------------
    "db-too-many-connections",
    "db-pool-exhausted",
    "db-auth",
    "db-schema-mismatch",
    "db-permission",
    "db-deadlock",
    "db-lock-timeout",
    "db-statement-timeout",
    "db-serialization-failure",
    "db-unique-violation",
    "db-foreign-key-violation",
    "db-not-null-violation",
    "db-invalid-value",
    "db-transaction-aborted",
    "db-read-only",
    "db-connection-lost",
    "db-connect-timeout",
    "db-connect-refused",
    # ---- Redis -----------------------------------------------------------------------------------
    "redis-auth",
    "redis-read-only",
    "redis-connection",
    # ---- workers and upstream HTTP ---------------------------------------------------------------
    "worker-timeout",
    "upstream-rate-limited",
    "upstream-auth",
    "upstream-5xx",
    "upstream-read-timeout",
    "upstream-timeout",
    "connection-reset",
    "broken-pipe",
    # Before connection-refused, which matches every refusal this guess does: the database named beside
    # the refusal is the better lead.
    "db-connect-refused-wording",
    "connection-refused",
    "network-unreachable",
    # ---- configuration and deployment ------------------------------------------------------------
    "missing-config",
    "module-not-found",
    "native-library-missing",
    "import-name",
    # ---- failures only a browser has (before the code bugs: `Failed to fetch` is a TypeError) --------
    "browser-fetch-failed",
    "chunk-load-failed",
    "cross-origin-script",
    # ---- everyday code bugs ----------------------------------------------------------------------
    "recursion",
    "orm-detached",
    "null-reference",
    "missing-key",
    "index-out-of-range",
    "bad-json",
    "serialization",
    "division-by-zero",
    "encoding",
    "file-not-found",
    "permission-denied",
    "auth-token",
    "record-not-found",
    "concurrency",
    "assertion",
    "not-implemented",
    "native-crash",
    "call-signature",
    "type-error",
    "validation",
    # ---- guesses from wording alone: no driver message, no telling exception type ----------------
    "db-connect-timeout-wording",
    "db-connect-failed",
    "redis-connection-wording",
    "timeout-generic",
    "connection-error-generic",
    "gateway-status",
    "http-not-found",
    # ---- an error the application logged, no exception: read from the log call itself -------------
    "logged-error",
)

RULES: tuple[Rule, ...] = REGISTRY.ordered(PRECEDENCE)
