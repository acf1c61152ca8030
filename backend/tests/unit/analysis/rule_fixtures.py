"""One event per heuristic rule id: the event that rule, and no rule before it, must recognise.

A new rule needs an entry here; test_heuristic_rules fails until the fixtures cover every registered id.
"""

from __future__ import annotations

from app.events.model import NormalizedEvent
from tests.unit.analysis.builders import event, exc, frame

_VIEW = frame("app/views.py", "create_order", 42, "order = service.create(payload)")

FIXTURES: dict[str, NormalizedEvent] = {
    # ---- resources -------------------------------------------------------------------------------
    "disk-full": event(None, exc("OSError", "[Errno 28] No space left on device: '/var/data/upload.tmp'")),
    "out-of-memory": event(
        None,
        exc("Error", "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"),
    ),
    "too-many-open-files": event(None, exc("OSError", "[Errno 24] Too many open files")),
    "worker-timeout": event("[CRITICAL] WORKER TIMEOUT (pid:4242)", status=None, path=None),
    "file-not-found": event(
        None,
        exc(
            "FileNotFoundError",
            "[Errno 2] No such file or directory: '/srv/app/templates/invoice.html'",
            frames=(_VIEW,),
        ),
    ),
    "permission-denied": event(
        None, exc("PermissionError", "[Errno 13] Permission denied: '/var/log/app/app.log'")
    ),
    # ---- Redis -----------------------------------------------------------------------------------
    "redis-maxmemory": event(
        None,
        exc(
            "ResponseError",
            "OOM command not allowed when used memory > 'maxmemory'.",
            module="redis.exceptions",
        ),
    ),
    "redis-misconf": event(
        None,
        exc(
            "ResponseError",
            "MISCONF Redis is configured to save RDB snapshots, but it's currently "
            "unable to persist to disk.",
            module="redis.exceptions",
        ),
    ),
    "redis-auth": event(
        None, exc("AuthenticationError", "NOAUTH Authentication required.", module="redis.exceptions")
    ),
    "redis-read-only": event(
        None,
        exc(
            "ReadOnlyError",
            "READONLY You can't write against a read only replica.",
            module="redis.exceptions",
        ),
    ),
    "redis-connection": event(
        None,
        exc(
            "ConnectionError",
            "Error 111 connecting to cache:6379. Connection refused.",
            module="redis.exceptions",
        ),
    ),
    "redis-connection-wording": event("Lost the redis session store: connect failed"),
    # ---- network ---------------------------------------------------------------------------------
    "dns-resolution": event(
        None,
        exc(
            "ConnectionError",
            "HTTPSConnectionPool(host='api.payments.test', port=443): Max retries "
            'exceeded with url: /v1/charges (Caused by NameResolutionError("Failed to resolve '
            "'api.payments.test' ([Errno -2] Name or service not known)\"))",
        ),
    ),
    "tls-certificate": event(
        None,
        exc(
            "SSLError",
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has "
            "expired (_ssl.c:1006)",
        ),
    ),
    "connection-reset": event(None, exc("ConnectionResetError", "[Errno 104] Connection reset by peer")),
    "broken-pipe": event(None, exc("BrokenPipeError", "[Errno 32] Broken pipe")),
    "connection-refused": event(
        None, exc("Error", "connect ECONNREFUSED 10.0.0.12:8080"), extra={"stack": "Error: at TCPConnect"}
    ),
    "network-unreachable": event(None, exc("OSError", "[Errno 101] Network is unreachable")),
    "timeout-generic": event(None, exc("TimeoutError", "operation did not complete in time")),
    "connection-error-generic": event(None, exc("ConnectionError", "the peer went away")),
    # ---- SQL databases ---------------------------------------------------------------------------
    "db-too-many-connections": event(
        None,
        exc(
            "OperationalError",
            'connection to server at "db" (10.0.0.5), port 5432 failed: FATAL:  '
            "sorry, too many clients already",
            module="psycopg",
        ),
    ),
    "db-pool-exhausted": event(
        None,
        exc(
            "TimeoutError",
            "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00",
            module="sqlalchemy.exc",
        ),
    ),
    "db-auth": event(
        None,
        exc(
            "OperationalError",
            'connection to server at "db" (10.0.0.5), port 5432 failed: FATAL:  '
            'password authentication failed for user "app"',
            module="psycopg",
        ),
    ),
    "db-schema-mismatch": event(
        None,
        exc(
            "UndefinedColumn",
            'column "discount" of relation "orders" does not exist',
            module="psycopg.errors",
        ),
    ),
    "db-permission": event(
        None,
        exc("InsufficientPrivilege", "permission denied for table invoices", module="psycopg.errors"),
    ),
    "db-deadlock": event(
        None,
        exc(
            "DeadlockDetected",
            "deadlock detected\nDETAIL:  Process 4242 waits for ShareLock on "
            "transaction 991; blocked by process 4343.",
            module="psycopg.errors",
        ),
    ),
    "db-lock-timeout": event(
        None,
        exc(
            "OperationalError",
            "(1205, 'Lock wait timeout exceeded; try restarting transaction')",
            module="pymysql.err",
        ),
    ),
    "db-statement-timeout": event(
        None,
        exc("QueryCanceled", "canceling statement due to statement timeout", module="psycopg.errors"),
    ),
    "db-serialization-failure": event(
        None,
        exc(
            "SerializationFailure",
            "could not serialize access due to concurrent update",
            module="psycopg.errors",
        ),
    ),
    "db-unique-violation": event(
        None,
        exc(
            "UniqueViolation",
            'duplicate key value violates unique constraint "users_email_key"\n'
            "DETAIL:  Key (email)=(a@example.test) already exists.",
            module="psycopg.errors",
        ),
    ),
    "db-foreign-key-violation": event(
        None,
        exc(
            "ForeignKeyViolation",
            'insert or update on table "orders" violates foreign key constraint "orders_customer_id_fkey"',
            module="psycopg.errors",
        ),
    ),
    "db-not-null-violation": event(
        None,
        exc(
            "NotNullViolation",
            'null value in column "email" of relation "users" violates not-null constraint',
            module="psycopg.errors",
        ),
    ),
    "db-invalid-value": event(
        None,
        exc(
            "StringDataRightTruncation",
            "value too long for type character varying(64)",
            module="psycopg.errors",
        ),
    ),
    "db-transaction-aborted": event(
        None,
        exc(
            "InFailedSqlTransaction",
            "current transaction is aborted, commands ignored until end of transaction block",
            module="psycopg.errors",
        ),
    ),
    "db-read-only": event(
        None,
        exc(
            "ReadOnlySqlTransaction",
            "cannot execute INSERT in a read-only transaction",
            module="psycopg.errors",
        ),
    ),
    "db-connection-lost": event(
        None,
        exc(
            "OperationalError",
            "server closed the connection unexpectedly\n\tThis probably means the "
            "server terminated abnormally",
            module="psycopg",
        ),
    ),
    "db-connect-timeout": event(
        None,
        exc(
            "OperationalError",
            'connection to server at "10.0.3.7", port 5432 failed: timeout expired',
            module="psycopg",
        ),
    ),
    "db-connect-refused": event(
        None,
        exc(
            "OperationalError",
            'connection to server at "db" (172.18.0.2), port 5432 failed: Connection refused',
            module="psycopg",
        ),
    ),
    "db-connect-timeout-wording": event("Database connection failed\nError: Connection timeout"),
    "db-connect-refused-wording": event("Could not reach the database: connection refused"),
    "db-connect-failed": event("Database connection failed"),
    # ---- upstream HTTP and requests --------------------------------------------------------------
    "upstream-rate-limited": event(
        None,
        exc("HTTPError", "429 Client Error: Too Many Requests for url: https://api.github.test/repos"),
    ),
    "upstream-auth": event(
        None,
        exc("HTTPError", "401 Client Error: Unauthorized for url: https://api.crm.test/v2/contacts"),
    ),
    "upstream-5xx": event(
        None,
        exc("HTTPError", "503 Server Error: Service Unavailable for url: https://crm.internal/api/users"),
    ),
    "upstream-read-timeout": event(
        None,
        exc(
            "ReadTimeout",
            "HTTPSConnectionPool(host='api.shipping.test', port=443): Read timed out. (read timeout=10)",
        ),
    ),
    "upstream-timeout": event(
        None,
        exc(
            "ConnectTimeout",
            "HTTPSConnectionPool(host='api.shipping.test', port=443): Max retries "
            "exceeded with url: /rates (Caused by ConnectTimeoutError(<urllib3.connection.HTTPSConnection "
            "object>, 'Connection to api.shipping.test timed out. (connect timeout=5)'))",
        ),
    ),
    "auth-token": event(None, exc("ExpiredSignatureError", "Signature has expired"), status=401),
    "record-not-found": event(None, exc("DoesNotExist", "Order matching query does not exist.")),
    "gateway-status": event("Bad Gateway", status=502),
    "http-not-found": event("Not Found", status=404),
    # ---- configuration and deployment ------------------------------------------------------------
    "missing-config": event(
        None,
        exc(
            "KeyError",
            "'STRIPE_API_KEY'",
            frames=(frame("app/settings.py", "<module>", 12, "STRIPE_KEY = os.environ['STRIPE_API_KEY']"),),
        ),
    ),
    "module-not-found": event(None, exc("ModuleNotFoundError", "No module named 'stripe'")),
    "native-library-missing": event(
        None,
        exc("ImportError", "libpq.so.5: cannot open shared object file: No such file or directory"),
    ),
    "import-name": event(None, exc("ImportError", "cannot import name 'soft_unicode' from 'markupsafe'")),
    # ---- everyday code bugs ----------------------------------------------------------------------
    "recursion": event(
        None,
        exc(
            "RecursionError",
            "maximum recursion depth exceeded",
            frames=tuple(frame("app/tree.py", "walk", 10, "return walk(node.parent)") for _ in range(4)),
        ),
    ),
    "orm-detached": event(
        None,
        exc(
            "DetachedInstanceError",
            "Parent instance <Order at 0x7f> is not bound to a Session; lazy "
            "load operation of attribute 'items' cannot proceed",
            module="sqlalchemy.orm.exc",
        ),
    ),
    "null-reference": event(
        None,
        exc("AttributeError", "'NoneType' object has no attribute 'email'", frames=(_VIEW,)),
    ),
    "missing-key": event(None, exc("KeyError", "'customer_id'", frames=(_VIEW,))),
    "index-out-of-range": event(None, exc("IndexError", "list index out of range", frames=(_VIEW,))),
    "bad-json": event(
        None,
        exc("SyntaxError", "Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON"),
    ),
    "serialization": event(None, exc("TypeError", "Object of type Decimal is not JSON serializable")),
    "division-by-zero": event(None, exc("ZeroDivisionError", "division by zero", frames=(_VIEW,))),
    "encoding": event(
        None,
        exc("UnicodeDecodeError", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
    ),
    "concurrency": event(None, exc("RuntimeError", "dictionary changed size during iteration")),
    "assertion": event(None, exc("AssertionError", "expected a positive total", frames=(_VIEW,))),
    "not-implemented": event(None, exc("NotImplementedError", "refunds are not supported yet")),
    "native-crash": event("Fatal Python error: Segmentation fault", status=None, path=None),
    "call-signature": event(
        None, exc("TypeError", "create_order() missing 1 required positional argument: 'customer'")
    ),
    "type-error": event(
        None, exc("TypeError", "unsupported operand type(s) for +: 'int' and 'str'", frames=(_VIEW,))
    ),
    "validation": event(
        None, exc("ValueError", "invalid literal for int() with base 10: 'abc'", frames=(_VIEW,))
    ),
    # ---- failures only a browser has -------------------------------------------------------------
    "browser-fetch-failed": event(None, exc("TypeError", "Failed to fetch")),
    "chunk-load-failed": event(None, exc("ChunkLoadError", "Loading chunk 482 failed.")),
    "cross-origin-script": event("Script error.", status=None, path=None),
    # ---- logged, no exception ----------------------------------------------------------------------
    "logged-error": event(
        "Failed to sync inventory for store 17 after 3 retries",
        status=None,
        path=None,
        logger="shop.inventory",
    ),
}
