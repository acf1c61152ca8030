"""The heuristic provider against real error texts, and the markdown it is rendered to."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.analysis.markdown import render_markdown
from app.analysis.providers.base import AnalysisInput, AnalysisResult
from app.analysis.providers.heuristic import HeuristicProvider, analyse_event, match_rule
from app.events.model import Frame, NormalizedEvent
from tests.unit.analysis.builders import event, exc, frame


def text_of(result: AnalysisResult) -> str:
    return "\n".join([result.summary, result.root_cause, result.suggested_fix])


# (event, expected category, a fact from the event that must appear in summary/root cause/fix)
CASES = [
    # ---- Python -----------------------------------------------------------------------------------
    pytest.param(
        event(
            None,
            exc(
                "OperationalError",
                'connection failed: connection to server at "db" (172.18.0.2), port 5432 failed: Connection '
                "refused\n\tIs the server running on that host and accepting TCP/IP connections?",
                module="psycopg",
                frames=(frame("app/db.py", "connect", 42, "conn = psycopg.connect(settings.database_url)"),),
            ),
        ),
        "database_connection",
        "db:5432",
        id="psycopg-refused",
    ),
    pytest.param(
        event(
            None,
            exc("OperationalError", 'connection to server at "10.0.3.7", port 5432 failed: timeout expired'),
        ),
        "database_connection",
        "10.0.3.7:5432",
        id="psycopg2-connect-timeout",
    ),
    pytest.param(
        event(None, exc("OperationalError", "connection failed: FATAL:  sorry, too many clients already")),
        "database_connection_limit",
        "max_connections",
        id="postgres-too-many-clients",
    ),
    pytest.param(
        event(
            None,
            exc(
                "TimeoutError",
                "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00 "
                "(Background on this error at: https://sqlalche.me/e/20/3o7r)",
                module="sqlalchemy.exc",
            ),
        ),
        "database_connection_limit",
        "30.00 s",
        id="sqlalchemy-queuepool",
    ),
    pytest.param(
        event(None, exc("OperationalError", "(1040, 'Too many connections')", module="pymysql.err")),
        "database_connection_limit",
        "PROCESSLIST",
        id="mysql-too-many-connections",
    ),
    pytest.param(
        event(
            None,
            exc(
                "OperationalError",
                "(2003, \"Can't connect to MySQL server on 'mysql' ([Errno 111] Connection refused)\")",
                module="pymysql.err",
            ),
        ),
        "database_connection",
        "mysql",
        id="mysql-refused",
    ),
    pytest.param(
        event(None, exc("OperationalError", "(2006, 'MySQL server has gone away')", module="MySQLdb")),
        "database_connection",
        "pool_pre_ping",
        id="mysql-gone-away",
    ),
    pytest.param(
        event(
            None,
            exc(
                "DeadlockDetected",
                "deadlock detected\nDETAIL:  Process 4121 waits for ShareLock on transaction 9812; "
                "blocked by "
                "process 4133.\nProcess 4133 waits for ShareLock on transaction 9811; blocked by process "
                "4121."
                "\nHINT:  See server log for query details.",
                module="psycopg.errors",
            ),
        ),
        "database_deadlock",
        "PostgreSQL",
        id="postgres-deadlock",
    ),
    pytest.param(
        event(
            None,
            exc(
                "OperationalError",
                "(1213, 'Deadlock found when trying to get lock; try restarting transaction')",
                module="pymysql.err",
            ),
        ),
        "database_deadlock",
        "MySQL",
        id="mysql-deadlock",
    ),
    pytest.param(
        event(
            None, exc("OperationalError", "(1205, 'Lock wait timeout exceeded; try restarting transaction')")
        ),
        "database_lock_timeout",
        "INNODB STATUS",
        id="mysql-lock-wait-timeout",
    ),
    pytest.param(
        event(None, exc("OperationalError", "database is locked", module="sqlite3")),
        "database_lock_timeout",
        "SQLite",
        id="sqlite-database-locked",
    ),
    pytest.param(
        event(
            None,
            exc(
                "IntegrityError",
                "(psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "
                '"users_email_key"'
                "\nDETAIL:  Key (email)=([redacted]) already exists.",
                module="sqlalchemy.exc",
            ),
        ),
        "database_unique_violation",
        "users_email_key",
        id="postgres-unique-violation",
    ),
    pytest.param(
        event(
            None,
            exc(
                "ForeignKeyViolation",
                'insert or update on table "orders" violates foreign key constraint "orders_user_id_fkey"\n'
                'DETAIL:  Key (user_id)=(42) is not present in table "users".',
                module="psycopg.errors",
            ),
        ),
        "database_foreign_key_violation",
        "orders_user_id_fkey",
        id="postgres-foreign-key",
    ),
    pytest.param(
        event(
            None,
            exc(
                "IntegrityError",
                "(1452, 'Cannot add or update a child row: a foreign key constraint fails (`shop`.`orders`, "
                "CONSTRAINT `orders_ibfk_1` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`))')",
                module="pymysql.err",
            ),
        ),
        "database_foreign_key_violation",
        "orders_ibfk_1",
        id="mysql-foreign-key",
    ),
    pytest.param(
        event(
            None,
            exc("QueryCanceled", "canceling statement due to statement timeout", module="psycopg.errors"),
        ),
        "database_query_timeout",
        "EXPLAIN",
        id="postgres-statement-timeout",
    ),
    pytest.param(
        event(
            None,
            exc(
                "UndefinedTable",
                'relation "invoices" does not exist\nLINE 1: SELECT * FROM invoices WHERE id = 1',
                module="psycopg.errors",
            ),
        ),
        "database_schema",
        "invoices",
        id="postgres-missing-table",
    ),
    pytest.param(
        event(
            None,
            exc(
                "OperationalError",
                'connection to server at "db" (10.0.0.5), port 5432 failed: FATAL:  password authentication '
                'failed for user "app"',
                module="psycopg",
            ),
        ),
        "database_auth",
        "app",
        id="postgres-password-failed",
    ),
    pytest.param(
        event(None, exc("PendingRollbackError", "Can't reconnect until invalid transaction is rolled back.")),
        "database_transaction_aborted",
        "rollback",
        id="sqlalchemy-pending-rollback",
    ),
    pytest.param(
        event(
            None,
            exc(
                "ConnectionError",
                "Error 111 connecting to localhost:6379. Connection refused.",
                module="redis.exceptions",
            ),
        ),
        "redis_connection",
        "localhost:6379",
        id="redis-py-refused",
    ),
    pytest.param(
        event(
            None,
            exc(
                "OutOfMemoryError",
                "OOM command not allowed when used memory > 'maxmemory'.",
                module="redis.exceptions",
            ),
        ),
        "out_of_memory",
        "maxmemory",
        id="redis-maxmemory",
    ),
    pytest.param(
        event(
            None,
            exc(
                "ResponseError",
                "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist "
                "to disk.",
            ),
        ),
        "redis_persistence",
        "BGSAVE",
        id="redis-misconf",
    ),
    pytest.param(
        event(
            None,
            exc(
                "ReadTimeout",
                "HTTPSConnectionPool(host='api.stripe.com', port=443): Read timed out. (read timeout=10)",
                module="requests.exceptions",
            ),
        ),
        "read_timeout",
        "api.stripe.com",
        id="requests-read-timeout",
    ),
    pytest.param(
        event(
            None,
            exc(
                "ConnectTimeout",
                "HTTPSConnectionPool(host='api.partner.io', port=443): Max retries exceeded with url: "
                "/v2/orders "
                "(Caused by ConnectTimeoutError(<urllib3.connection.HTTPSConnection object at "
                "0x7f3a2c1b5d90>, "
                "'Connection to api.partner.io timed out. (connect timeout=5)'))",
                module="requests.exceptions",
            ),
        ),
        "upstream_timeout",
        "api.partner.io",
        id="requests-connect-timeout",
    ),
    pytest.param(
        event(
            None,
            exc(
                "HTTPError",
                "429 Client Error: Too Many Requests for url: https://api.github.com/repos/acme/web/issues",
                module="requests.exceptions",
            ),
        ),
        "upstream_rate_limited",
        "https://api.github.com/repos/acme/web/issues",
        id="requests-429",
    ),
    pytest.param(
        event(
            None,
            exc(
                "HTTPStatusError",
                "Client error '401 Unauthorized' for url 'https://api.sendgrid.com/v3/mail/send'\nFor more "
                "information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/401",
                module="httpx",
            ),
        ),
        "upstream_auth",
        "https://api.sendgrid.com/v3/mail/send",
        id="httpx-401",
    ),
    pytest.param(
        event(
            None,
            exc(
                "HTTPError",
                "503 Server Error: Service Unavailable for url: https://payments.internal/api/charge",
            ),
        ),
        "upstream_error",
        "payments.internal",
        id="requests-503",
    ),
    pytest.param(
        event(
            None,
            exc(
                "ConnectionError",
                "HTTPConnectionPool(host='inventory-svc', port=8080): Max retries exceeded with url: /items "
                '(Caused by NameResolutionError("<urllib3.connection.HTTPConnection object at 0x7f0c>: '
                "Failed "
                "to resolve 'inventory-svc' ([Errno -2] Name or service not known)\"))",
                module="requests.exceptions",
            ),
        ),
        "dns_resolution",
        "inventory-svc",
        id="requests-dns",
    ),
    pytest.param(
        event(
            None,
            exc(
                "SSLCertVerificationError",
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired "
                "(_ssl.c:1006)",
                module="ssl",
            ),
        ),
        "tls_certificate",
        "certificate has expired",
        id="python-cert-expired",
    ),
    pytest.param(
        event(
            None,
            exc(
                "MemoryError",
                "",
                frames=(frame("app/reports.py", "build_export", 120, "rows = query.all()"),),
            ),
        ),
        "out_of_memory",
        "app/reports.py:120",
        id="python-memoryerror",
    ),
    pytest.param(
        event(None, exc("OSError", "[Errno 12] Cannot allocate memory")),
        "out_of_memory",
        "Cannot allocate memory",
        id="python-enomem",
    ),
    pytest.param(
        event(None, exc("OSError", "[Errno 28] No space left on device: '/var/lib/app/exports/report.csv'")),
        "disk_full",
        "/var/lib/app/exports/report.csv",
        id="python-disk-full",
    ),
    pytest.param(
        event(None, exc("OSError", "[Errno 24] Too many open files")),
        "file_descriptors_exhausted",
        "ulimit",
        id="python-emfile",
    ),
    pytest.param(
        event(None, exc("PermissionError", "[Errno 13] Permission denied: '/app/uploads/avatar.png'")),
        "permission_denied",
        "/app/uploads/avatar.png",
        id="python-permission",
    ),
    pytest.param(
        event(
            None,
            exc(
                "AttributeError",
                "'NoneType' object has no attribute 'email'",
                frames=(frame("app/services/users.py", "send_welcome", 88, "to = user.email"),),
            ),
        ),
        "null_reference",
        "app/services/users.py:88 in send_welcome",
        id="python-nonetype-attribute",
    ),
    pytest.param(
        event(None, exc("TypeError", "'NoneType' object is not subscriptable")),
        "null_reference",
        "None",
        id="python-nonetype-subscript",
    ),
    pytest.param(
        event(
            None,
            exc(
                "KeyError",
                "'STRIPE_API_KEY'",
                frames=(frame("app/billing.py", "client", 12, 'api_key = os.environ["STRIPE_API_KEY"]'),),
            ),
        ),
        "missing_config",
        "STRIPE_API_KEY",
        id="python-environ-keyerror",
    ),
    pytest.param(
        event(
            None,
            exc(
                "KeyError",
                "'customer_id'",
                frames=(frame("app/webhooks.py", "handle_invoice", 57, "cid = payload['customer_id']"),),
            ),
        ),
        "missing_key",
        "customer_id",
        id="python-keyerror",
    ),
    pytest.param(
        event(
            None,
            exc(
                "ImproperlyConfigured",
                "Set the SECRET_KEY environment variable",
                module="django.core.exceptions",
            ),
        ),
        "missing_config",
        "SECRET_KEY",
        id="django-improperly-configured",
    ),
    pytest.param(
        event(
            None,
            exc(
                "ValidationError",
                "1 validation error for Settings\ndatabase_url\n  Field required [type=missing, "
                "input_value={}, "
                "input_type=dict]\n    For further information visit "
                "https://errors.pydantic.dev/2.14/v/missing",
                module="pydantic_core._pydantic_core",
            ),
        ),
        "missing_config",
        "database_url",
        id="pydantic-settings-missing",
    ),
    pytest.param(
        event(
            None, exc("JSONDecodeError", "Expecting value: line 1 column 1 (char 0)", module="json.decoder")
        ),
        "bad_json",
        "empty or not JSON",
        id="python-jsondecodeerror",
    ),
    pytest.param(
        event(None, exc("ZeroDivisionError", "division by zero")),
        "division_by_zero",
        "divisor",
        id="python-zerodivision",
    ),
    pytest.param(
        event(None, exc("ModuleNotFoundError", "No module named 'stripe'")),
        "import_error",
        "stripe",
        id="python-module-not-found",
    ),
    pytest.param(
        event(
            None,
            exc(
                "ImportError",
                "cannot import name 'url_quote' from 'werkzeug.urls' "
                "(/usr/local/lib/python3.11/site-packages/werkzeug/urls.py)",
            ),
        ),
        "import_error",
        "url_quote",
        id="python-cannot-import-name",
    ),
    pytest.param(
        event(
            None,
            exc("ImportError", "libpq.so.5: cannot open shared object file: No such file or directory"),
        ),
        "import_error",
        "libpq.so.5",
        id="python-native-library-missing",
    ),
    pytest.param(
        event(None, exc("FileNotFoundError", "[Errno 2] No such file or directory: 'config/settings.yaml'")),
        "file_not_found",
        "config/settings.yaml",
        id="python-file-not-found",
    ),
    pytest.param(
        event(None, exc("RecursionError", "maximum recursion depth exceeded while calling a Python object")),
        "recursion",
        "base case",
        id="python-recursion",
    ),
    pytest.param(
        event(None, exc("TypeError", "unsupported operand type(s) for +: 'int' and 'str'")),
        "type_error",
        "unsupported operand type(s) for +: 'int' and 'str'",
        id="python-typeerror",
    ),
    pytest.param(
        event(None, exc("ValueError", "invalid literal for int() with base 10: 'abc'")),
        "validation",
        "abc",
        id="python-valueerror",
    ),
    pytest.param(
        event(None, exc("TypeError", "Object of type datetime is not JSON serializable")),
        "serialization",
        "datetime",
        id="python-not-json-serializable",
    ),
    pytest.param(
        event(
            None,
            exc(
                "UnicodeDecodeError", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
            ),
        ),
        "encoding",
        "utf-8",
        id="python-unicode-decode",
    ),
    pytest.param(
        event(None, exc("SoftTimeLimitExceeded", "SoftTimeLimitExceeded()", module="celery.exceptions")),
        "worker_timeout",
        "time limit",
        id="celery-soft-time-limit",
    ),
    pytest.param(
        event("WORKER TIMEOUT (pid:4242)", logger="gunicorn.error", status=None, level="fatal"),
        "worker_timeout",
        "gunicorn",
        id="gunicorn-worker-timeout",
    ),
    pytest.param(
        event(None, exc("BrokenPipeError", "[Errno 32] Broken pipe")),
        "connection_reset",
        "client",
        id="python-broken-pipe",
    ),
    pytest.param(
        event(
            None, exc("MissingGreenlet", "greenlet_spawn has not been called; can't call await_only() here.")
        ),
        "orm_session",
        "selectinload",
        id="sqlalchemy-missing-greenlet",
    ),
    pytest.param(
        event(None, exc("DoesNotExist", "Order matching query does not exist.")),
        "not_found",
        "Order",
        id="django-does-not-exist",
    ),
    pytest.param(
        event(None, exc("ExpiredSignatureError", "Signature has expired", module="jwt.exceptions")),
        "authentication",
        "401",
        id="pyjwt-expired",
    ),
    pytest.param(
        event(
            None,
            exc(
                "ClientError",
                "An error occurred (ThrottlingException) when calling the PutItem operation (reached max "
                "retries: 4): Rate exceeded",
                module="botocore.exceptions",
            ),
        ),
        "upstream_rate_limited",
        "Retry-After",
        id="aws-throttling",
    ),
    # ---- Node.js ----------------------------------------------------------------------------------
    pytest.param(
        event(None, exc("Error", "connect ECONNREFUSED 127.0.0.1:5432")),
        "database_connection",
        "127.0.0.1:5432",
        id="node-pg-econnrefused",
    ),
    pytest.param(
        event(None, exc("Error", "connect ECONNREFUSED 10.0.0.9:5672")),
        "connection_refused",
        "RabbitMQ",
        id="node-econnrefused-rabbitmq",
    ),
    pytest.param(
        event(None, exc("TypeError", "Cannot read properties of undefined (reading 'map')")),
        "null_reference",
        "map",
        id="node-undefined-property",
    ),
    pytest.param(
        event(None, exc("SyntaxError", "Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON")),
        "bad_json",
        "HTML",
        id="node-html-instead-of-json",
    ),
    pytest.param(
        event(
            "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory", status=None
        ),
        "out_of_memory",
        "JavaScript heap out of memory",
        id="node-heap-oom",
    ),
    pytest.param(
        event(None, exc("Error", "getaddrinfo ENOTFOUND api.mailgun.net")),
        "dns_resolution",
        "api.mailgun.net",
        id="node-enotfound",
    ),
    pytest.param(
        event(None, exc("Error", "read ECONNRESET")),
        "connection_reset",
        "keep-alive",
        id="node-econnreset",
    ),
    pytest.param(
        event(None, exc("Error", "Cannot find module 'express'\nRequire stack:\n- /app/server.js")),
        "import_error",
        "express",
        id="node-cannot-find-module",
    ),
    pytest.param(
        event(None, exc("Error", "ENOSPC: no space left on device, write")),
        "disk_full",
        "df -h",
        id="node-enospc",
    ),
    pytest.param(
        event(None, exc("RangeError", "Maximum call stack size exceeded")),
        "recursion",
        "stack",
        id="node-call-stack",
    ),
    pytest.param(
        event(None, exc("Error", "EACCES: permission denied, open '/var/log/app/access.log'")),
        "permission_denied",
        "/var/log/app/access.log",
        id="node-eacces",
    ),
    pytest.param(
        event(None, exc("AxiosError", "Request failed with status code 429")),
        "upstream_rate_limited",
        "backoff",
        id="axios-429",
    ),
    pytest.param(
        event(None, exc("AxiosError", "timeout of 5000ms exceeded")),
        "read_timeout",
        "5000ms",
        id="axios-timeout",
    ),
    # ---- Java -------------------------------------------------------------------------------------
    pytest.param(
        event(
            None,
            exc(
                "PSQLException",
                "Connection to localhost:5432 refused. Check that the hostname and port are correct and that "
                "the postmaster is accepting TCP/IP connections.",
                module="org.postgresql.util",
            ),
        ),
        "database_connection",
        "localhost:5432",
        id="java-psql-refused",
    ),
    pytest.param(
        event(
            None,
            exc(
                "NullPointerException",
                'Cannot invoke "String.length()" because "<local1>" is null',
                module="java.lang",
            ),
        ),
        "null_reference",
        "String.length()",
        id="java-npe",
    ),
    pytest.param(
        event(None, exc("OutOfMemoryError", "Java heap space", module="java.lang")),
        "out_of_memory",
        "Java heap space",
        id="java-oom",
    ),
    pytest.param(
        event(None, exc("SocketTimeoutException", "Read timed out", module="java.net")),
        "read_timeout",
        "read timeout",
        id="java-read-timed-out",
    ),
    pytest.param(
        event(
            None,
            exc(
                "SSLHandshakeException",
                "PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: "
                "unable "
                "to find valid certification path to requested target",
                module="javax.net.ssl",
            ),
        ),
        "tls_certificate",
        "PKIX path building failed",
        id="java-pkix",
    ),
    pytest.param(
        event(None, exc("ArithmeticException", "/ by zero", module="java.lang")),
        "division_by_zero",
        "divisor",
        id="java-divide-by-zero",
    ),
    pytest.param(
        event(None, exc("StackOverflowError", "", module="java.lang")),
        "recursion",
        "recursion",
        id="java-stackoverflow",
    ),
    pytest.param(
        event(
            None,
            exc(
                "SQLIntegrityConstraintViolationException",
                "Duplicate entry 'ann@example.test' for key 'users.email'",
                module="java.sql",
            ),
        ),
        "database_unique_violation",
        "users.email",
        id="java-duplicate-entry",
    ),
    pytest.param(
        event(
            None,
            exc(
                "SQLTransientConnectionException",
                "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
                module="java.sql",
            ),
        ),
        "database_connection_limit",
        "30000ms",
        id="java-hikari-pool",
    ),
    # ---- Go ---------------------------------------------------------------------------------------
    pytest.param(
        event("dial tcp 10.0.1.12:5432: connect: connection refused"),
        "database_connection",
        "10.0.1.12:5432",
        id="go-dial-refused",
    ),
    pytest.param(
        event(None, exc("runtime.Error", "runtime error: invalid memory address or nil pointer dereference")),
        "null_reference",
        "nil",
        id="go-nil-pointer",
    ),
    pytest.param(
        event(
            None,
            exc(
                "*url.Error",
                'Get "https://api.example.com/v1/users": context deadline exceeded (Client.Timeout exceeded '
                "while awaiting headers)",
            ),
        ),
        "read_timeout",
        "api.example.com",
        id="go-client-timeout",
    ),
    pytest.param(
        event(
            None, exc("*tls.CertificateVerificationError", "x509: certificate signed by unknown authority")
        ),
        "tls_certificate",
        "certificate signed by unknown authority",
        id="go-x509",
    ),
    pytest.param(
        event('pq: duplicate key value violates unique constraint "accounts_username_key"'),
        "database_unique_violation",
        "accounts_username_key",
        id="go-pq-unique",
    ),
    pytest.param(
        event("runtime error: index out of range [5] with length 3"),
        "index_out_of_range",
        "5",
        id="go-index-out-of-range",
    ),
    pytest.param(
        event("dial tcp: lookup postgres on 127.0.0.11:53: no such host"),
        "dns_resolution",
        "postgres",
        id="go-no-such-host",
    ),
    pytest.param(
        event("open /etc/app/config.yaml: no such file or directory"),
        "file_not_found",
        "/etc/app/config.yaml",
        id="go-open-enoent",
    ),
    pytest.param(
        event("fatal error: concurrent map writes", status=None, level="fatal"),
        "concurrency",
        "concurrent map writes",
        id="go-concurrent-map-writes",
    ),
    # ---- Ruby -------------------------------------------------------------------------------------
    pytest.param(
        event(None, exc("NoMethodError", "undefined method `name' for nil:NilClass")),
        "null_reference",
        "name",
        id="ruby-nil-nomethod",
    ),
    pytest.param(
        event(
            None,
            exc(
                "PG::ConnectionBad",
                "could not connect to server: Connection refused\n\tIs the server running on host "
                '"localhost" '
                "(127.0.0.1) and accepting\n\tTCP/IP connections on port 5432?",
            ),
        ),
        "database_connection",
        "localhost:5432",
        id="ruby-pg-connection-bad",
    ),
    pytest.param(
        event(
            None,
            exc(
                "ActiveRecord::RecordNotUnique",
                "PG::UniqueViolation: ERROR:  duplicate key value violates unique constraint "
                '"index_users_on_email"',
            ),
        ),
        "database_unique_violation",
        "index_users_on_email",
        id="ruby-record-not-unique",
    ),
    pytest.param(
        event(
            None,
            exc(
                "Redis::CannotConnectError",
                "Error connecting to Redis on localhost:6379 (Errno::ECONNREFUSED)",
            ),
        ),
        "redis_connection",
        "localhost:6379",
        id="ruby-redis-cannot-connect",
    ),
    pytest.param(
        event(None, exc("Net::ReadTimeout", "Net::ReadTimeout with #<TCPSocket:(closed)>")),
        "read_timeout",
        "idempotent",
        id="ruby-net-read-timeout",
    ),
    pytest.param(
        event(None, exc("ZeroDivisionError", "divided by 0")),
        "division_by_zero",
        "divisor",
        id="ruby-zero-division",
    ),
    pytest.param(
        event(None, exc("LoadError", "cannot load such file -- nokogiri")),
        "import_error",
        "nokogiri",
        id="ruby-load-error",
    ),
    # ---- other stacks and message-only events -----------------------------------------------------
    pytest.param(
        event("Container api was OOMKilled (exit code 137)", status=None),
        "out_of_memory",
        "OOM",
        id="k8s-oomkilled",
    ),
    pytest.param(
        event('Warning: Undefined array key "email" in /var/www/app/signup.php on line 14'),
        "missing_key",
        "email",
        id="php-undefined-array-key",
    ),
    pytest.param(
        event("Bad Gateway", status=502),
        "upstream_error",
        "502",
        id="status-502-only",
    ),
]


@pytest.mark.parametrize(("evt", "category", "fact"), CASES)
def test_recognises_real_error_texts(evt: NormalizedEvent, category: str, fact: str) -> None:
    result = analyse_event(evt)
    assert result.category == category, (match_rule(evt), result.summary)
    assert fact in text_of(result)
    assert 0.25 <= result.confidence <= 0.95


def test_seed_server_error_is_unknown_and_says_so() -> None:
    result = analyse_event(event("Server error", path="/api/test"))
    assert result.category == "unknown"
    assert result.confidence <= 0.2
    assert "`GET /api/test`" in result.summary and "500" in result.summary
    assert "not recognised by the rule-based analyser" in result.root_cause
    assert "not an LLM" in result.root_cause
    assert "no stack trace was sent" in result.root_cause
    assert result.severity == "medium"
    assert "2. Report the exception itself, not only a message" in result.suggested_fix


@pytest.mark.parametrize(
    "evt",
    [
        pytest.param(
            event("Database connection failed", exc("Error", "Connection timeout"), path="/api/users"),
            id="stack-as-exception",
        ),
        pytest.param(
            event(
                "Database connection failed", path="/api/users", extra={"stack": "Error: Connection timeout"}
            ),
            id="stack-as-text",
        ),
        pytest.param(
            event("Database connection failed\nError: Connection timeout", path="/api/users"),
            id="message-only",
        ),
    ],
)
def test_seed_database_timeout_is_a_database_connection_timeout(evt: NormalizedEvent) -> None:
    result = analyse_event(evt)
    assert result.category == "database_connection"
    assert "timed out" in result.summary
    assert "`GET /api/users`" in result.summary
    # Only words to go on, no driver message: an honest middle confidence, and it says so.
    assert 0.4 <= result.confidence <= 0.6
    assert "`Database connection failed`" in result.root_cause
    assert "a lead, not a diagnosis" in result.root_cause
    assert result.severity == "high"


@pytest.mark.parametrize(
    ("evt", "category", "fact"),
    [
        pytest.param(
            event(
                None,
                exc(
                    "ConnectionError",
                    "Error -2 connecting to redis:6379. Name or service not known.",
                    module="redis.exceptions",
                ),
            ),
            "dns_resolution",
            "`redis`",
            id="dns-failure-inside-a-redis-error",
        ),
        pytest.param(
            event(
                None,
                exc(
                    "DiskFull",
                    'could not extend file "base/16384/16397": No space left on device\nHINT:  Check free'
                    " disk "
                    "space.",
                    module="psycopg.errors",
                ),
            ),
            "disk_full",
            "df -h",
            id="disk-full-inside-a-postgres-error",
        ),
        pytest.param(
            event(
                "Database connection failed",
                exc(
                    "HTTPError",
                    "503 Server Error: Service Unavailable for url: https://crm.internal/api/users",
                ),
            ),
            "upstream_error",
            "`https://crm.internal/api/users`",
            id="a-driver-like-signature-beats-wording",
        ),
        pytest.param(
            event(
                None,
                exc(
                    "OperationalError",
                    'connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: No such '
                    "file or "
                    "directory\n\tIs the server running locally and accepting connections on that socket?",
                    module="psycopg",
                ),
            ),
            "database_connection",
            "/var/run/postgresql/.s.PGSQL.5432",
            id="postgres-socket-is-not-a-missing-file",
        ),
        pytest.param(
            event(
                None,
                exc("KeyError", "'DATABASE_URL'"),
            ),
            "missing_config",
            "DATABASE_URL",
            id="env-like-key-without-frames-is-a-config-guess",
        ),
    ],
)
def test_the_more_specific_failure_wins(evt: NormalizedEvent, category: str, fact: str) -> None:
    result = analyse_event(evt)
    assert result.category == category, match_rule(evt)
    assert fact in text_of(result)


def test_unrecognised_error_is_unknown_with_low_confidence_and_facts() -> None:
    raising = frame("app/flux.py", "charge_capacitor", 88, "capacitor.charge(gigawatts)")
    result = analyse_event(
        event(None, exc("FluxCapacitorError", "1.21 gigawatts required", frames=(raising,)), path="/api/time")
    )
    assert result.category == "unknown"
    assert result.confidence <= 0.2
    assert "not recognised" in result.summary.lower()
    assert "not an LLM" in result.root_cause
    assert "`app/flux.py:88 in charge_capacitor`" in result.root_cause
    assert "`capacitor.charge(gigawatts)`" in result.root_cause
    assert "FluxCapacitorError: 1.21 gigawatts required" in result.summary
    # It has a stack trace: no advice to send one; the steps are numbered without a gap.
    assert "only a message" not in result.suggested_fix
    assert "\n2. For a deeper analysis configure an LLM provider" in result.suggested_fix


def test_an_empty_event_is_unknown_with_the_lowest_confidence() -> None:
    result = analyse_event(event(None, status=None, path=None))
    assert result.category == "unknown"
    assert result.confidence <= 0.05


def test_unambiguous_signatures_are_confident_guesses_are_not() -> None:
    module = analyse_event(event(None, exc("ModuleNotFoundError", "No module named 'stripe'")))
    assert 0.8 <= module.confidence <= 0.9
    verbatim = analyse_event(
        event(
            None, exc("OperationalError", 'connection to server at "db", port 5432 failed: timeout expired')
        )
    )
    words_only = analyse_event(event("Database connection failed", exc("Error", "Connection timeout")))
    assert verbatim.category == words_only.category == "database_connection"
    assert verbatim.confidence > words_only.confidence
    status_only = analyse_event(event("Bad Gateway", status=503))
    assert status_only.confidence <= 0.35


def test_severity_follows_category_status_and_level() -> None:
    disk = analyse_event(event(None, exc("OSError", "[Errno 28] No space left on device")))
    assert disk.severity == "critical"
    assert analyse_event(event(None, exc("MemoryError", ""))).severity in ("high", "critical")
    assert analyse_event(event("Not Found", status=404)).severity == "low"
    assert analyse_event(event(None, exc("KeyError", "'x'"), status=422)).severity == "medium"
    fatal = analyse_event(event(None, exc("KeyError", "'x'"), level="fatal"))
    assert fatal.severity == "high"
    assert analyse_event(event(None, exc("KeyError", "'x'"))).severity == "medium"


def test_the_raising_frame_and_route_reach_the_analysis() -> None:
    frames = (
        Frame(filename="site-packages/psycopg/connection.py", function="connect", lineno=119, in_app=False),
        frame("app/db.py", "get_connection", 42, "return psycopg.connect(DSN)"),
        Frame(filename="site-packages/psycopg/connection.py", function="_connect", lineno=301, in_app=False),
    )
    evt = event(
        None,
        exc(
            "OperationalError",
            'connection to server at "pg-primary" (10.1.2.3), port 5432 failed: Connection refused',
            module="psycopg",
            frames=frames,
        ),
        method="POST",
        path="/api/orders",
    )
    result = analyse_event(evt)
    assert result.summary == (
        "PostgreSQL at `pg-primary:5432` refused the connection (on `POST /api/orders`, HTTP 500)."
    )
    assert "Raised at `app/db.py:42 in get_connection`: `return psycopg.connect(DSN)`." in result.root_cause


def test_same_input_gives_the_same_output() -> None:
    evt = event(
        None, exc("KeyError", "'customer_id'", frames=(frame("app/x.py", "f", 1, "d['customer_id']"),))
    )
    provider = HeuristicProvider()
    first = provider.analyze(AnalysisInput(event=evt, issue_title="KeyError: 'customer_id'"))
    second = provider.analyze(AnalysisInput(event=evt, issue_title="KeyError: 'customer_id'"))
    assert first == second
    assert first.provider == "heuristic" and first.model == "heuristic-v1"
    assert first.tokens_in == first.tokens_out == 0


def test_issue_title_is_used_when_the_event_has_no_text() -> None:
    result = analyse_event(event(None), issue_title="ZeroDivisionError: division by zero")
    assert result.category == "division_by_zero"


# ---- markdown ----------------------------------------------------------------------------------------

HOSTILE = (
    "<script>alert(1)</script> [click me](http://evil.test/phish) ![px](http://evil.test/p.png)\n"
    "# Fake heading\n> quoted\n| a | b |\n```\ncode fence\n```\n    indented code\n<img src=x "
    "onerror=alert(1)>"
)


def test_markdown_has_sections_facts_and_heuristic_credit() -> None:
    result = analyse_event(event(None, exc("ModuleNotFoundError", "No module named 'stripe'")))
    text = render_markdown(result, provider="heuristic", model="heuristic-v1")
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == ["## Summary", "## Root cause", "## Suggested fix"]
    assert "- **Severity:** high" in text
    assert "- **Category:** `import_error`" in text
    assert f"- **Confidence:** {result.confidence:.2f}" in text
    assert "Analysed by heuristic-v1 (rule-based, not an LLM)" in text
    assert "`stripe`" in text
    assert "\n1. " in text and "\n2. " in text  # the fix's steps stay a list


def test_markdown_credits_an_llm_without_the_rule_based_note() -> None:
    result = AnalysisResult(
        summary="s", root_cause="r", suggested_fix="f", severity="low", category="misc", confidence=0.5
    )
    text = render_markdown(result, provider="openai", model="gpt-4o-mini")
    assert "rule-based" not in text
    assert "`gpt-4o-mini`" in text and "openai" in text


def test_markdown_neutralises_html_and_markdown_from_untrusted_fields() -> None:
    result = AnalysisResult(
        summary=HOSTILE,
        root_cause=HOSTILE,
        suggested_fix=HOSTILE,
        severity="high",
        category="<b>x</b>",
        confidence=1,
    )
    text = render_markdown(result, provider="openai", model="m")
    assert "<" not in text and ">" not in text
    assert "&lt;script&gt;" in text
    assert not re.search(r"(?<!\\)[\[\]]", text)  # every link/image bracket is escaped
    assert "\\[click me\\]" in text
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == ["## Summary", "## Root cause", "## Suggested fix"]
    # "&gt;" at a line start is an entity, not a block quote; the rest would open a block.
    assert not any(line.startswith(("    ", "```", "|", ">")) for line in text.splitlines())
    assert "\\# Fake heading" in text


def test_event_text_reaches_markdown_only_as_inert_text() -> None:
    hostile_key = "<script>alert(`1`)</script>](http://evil.test)"
    result = analyse_event(event(None, exc("KeyError", repr(hostile_key)), path="/api/<b>x</b>"))
    assert result.category == "missing_key"
    assert "`<script>alert(1)</script>](http://evil.test)`" in result.summary  # backticks stripped
    text = render_markdown(result, provider="heuristic", model="heuristic-v1")
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;" in text
    assert not re.search(r"(?<!\\)[\[\]]", text)


def test_code_spans_survive_rendering() -> None:
    result = analyse_event(event(None, exc("KeyError", "'customer_id'")))
    text = render_markdown(result, provider="heuristic", model="heuristic-v1")
    assert "`customer_id`" in text
    assert "\\`" not in text


@settings(max_examples=60, deadline=None)
@given(message=st.text(max_size=300), value=st.text(max_size=300), type_=st.text(max_size=40))
def test_any_event_text_is_analysed_and_rendered_without_raw_html(
    message: str, value: str, type_: str
) -> None:
    evt = event(message or None, exc(type_, value))
    result = analyse_event(evt)
    assert analyse_event(evt) == result
    text = render_markdown(result, provider="heuristic", model="heuristic-v1")
    assert "<" not in text
    assert [line for line in text.splitlines() if re.match(r"#{1,6} ", line)] == [
        "## Summary",
        "## Root cause",
        "## Suggested fix",
    ]


def test_huge_or_pathological_text_is_analysed_quickly() -> None:
    started = time.process_time()  # CPU time: the work done (no catastrophic backtracking), not the load
    for text in (
        "Connection refused " + "a" * 200_000,
        "1." * 50_000,
        "x:" * 50_000,
        "lookup " + "a." * 50_000,
    ):
        analyse_event(event(text, exc("Error", text)))
    assert time.process_time() - started < 10.0  # a guard against blowups (minutes), not a speed target


def _null_dereference(platform: str, sdk: str, type_: str, value: str) -> str:
    ev = event(None, exc(type_, value))
    ev.platform, ev.sdk = platform, {"name": sdk, "version": "1.0.0"}
    result = analyse_event(ev)
    assert result.category == "null_reference"
    return result.suggested_fix


def test_a_browser_null_dereference_gets_browser_advice_never_http_statuses():
    fix = _null_dereference(
        "javascript",
        "sentry.javascript.browser",
        "TypeError",
        "Cannot read properties of undefined (reading 'map')",
    )
    assert "loading or empty state" in fix and "DOM element" in fix and "optional chaining" in fix
    assert "404" not in fix and "500" not in fix and "Optional" not in fix


def test_server_null_dereferences_keep_their_advice_in_their_own_terms():
    node = _null_dereference(
        "node", "sentry.javascript.node", "TypeError", "Cannot read properties of null (reading 'id')"
    )
    assert "404 or validation error" in node and "strict null checks" in node and "Optional" not in node
    python = _null_dereference(
        "python", "sentry.python", "AttributeError", "'NoneType' object has no attribute 'email'"
    )
    assert "404 or validation error" in python and "`Optional` type hints" in python
