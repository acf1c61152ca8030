"""Rules for SQL databases: connection limits, pools, auth, schema, permissions, locks, constraint
violations, lost and failed connections (from driver messages, then weaker guesses from wording alone).
"""

from __future__ import annotations

from dataclasses import replace

from app.analysis.markdown import code_span
from app.analysis.providers.heuristic.registry import register
from app.analysis.providers.heuristic.rule import Evidence, Rule, Sig
from app.analysis.providers.heuristic.rules.patterns import REFUSED

_DB_WORDS = (
    r"\b(?:database|db|postgres(?:ql)?|mysql|mariadb|psycopg2?|asyncpg|sqlalchemy|pg8000|pymysql|mysqldb"
    r"|sqlite3?|mssql|sql server|oracle|jdbc|hikari\w*|activerecord|sequelize|prisma|knex|typeorm)\b|PG::"
    r"|\bpq: "
)

_DB_CODE = (
    r"psycopg|asyncpg|sqlalchemy|pymysql|MySQLdb|mysql|pg8000|django/db|django\.db|/pg/|sqlite3|activerecord"
)

_DB_PORTS = r"(?:[:\s,]|port )(?P<port>5432|3306|1433|1521|26257|5433)\b"

# Connection failures registered twice: once for their exact signatures, once (tried late, less
# confident) under a `-wording` id for the same failure recognised from wording alone.
_DB_CONNECT_TIMEOUT = Rule(
    id="db-connect-timeout",
    category="database_connection",
    severity="high",
    confidence=0.85,
    match=(
        Sig(
            text=r"connection to server at \"(?P<host>[^\"\n]+)\"(?: \([^)\n]*\))?, port (?P<port>\d+) "
            r"failed: (?:timeout expired|Connection timed out|Operation timed out)",
            confidence=0.9,
        ),
        Sig(text=r"could not connect to server: (?:Connection timed out|timeout expired)"),
        Sig(text=r"Can't connect to MySQL server on '(?P<addr>[^'\n]+)' \((?:110|60|10060)\)"),
        Sig(text=(r"i/o timeout|timed out|ETIMEDOUT", _DB_PORTS), confidence=0.8),
        Sig(type=r"TimeoutError|ConnectionTimeout\w*|ConnectTimeout\w*", code=_DB_CODE, confidence=0.6),
    ),
    summary="Connecting to {db}[[ at {addr}]] timed out",
    root_cause=(
        "The connection to the database was not established within the connect timeout. Either the "
        "host is unreachable (a wrong host/port for this environment, a firewall or security group "
        "dropping packets, the database in another network) or the server is overloaded or down and "
        "not answering. A refused connection fails at once; a timeout means nothing answered."
    ),
    fix=(
        "1. From the app's container test reachability: `pg_isready -h HOST -p PORT` or `nc -vz HOST PORT`.\n"
        "2. Check that the database is up and not saturated (CPU, connections), and that firewall / "
        "security-group rules admit this app's network.\n"
        "3. Set an explicit connect timeout (e.g. `connect_timeout=5`) and pool pre-ping so requests "
        "fail fast instead of hanging."
    ),
)

_DB_CONNECT_REFUSED = Rule(
    id="db-connect-refused",
    category="database_connection",
    severity="high",
    confidence=0.85,
    match=(
        Sig(
            text=r"connection to server at \"(?P<host>[^\"\n]+)\"(?: \([^)\n]*\))?, port (?P<port>\d+) "
            r"failed: Connection refused",
            confidence=0.9,
        ),
        Sig(text=r"could not connect to server: Connection refused", confidence=0.9),
        Sig(text=r"connection to server on socket \"(?P<addr>[^\"\n]+)\" failed"),
        Sig(text=r"Can't connect to (?:local )?MySQL server (?:on|through socket) '(?P<addr>[^'\n]+)'"),
        Sig(text=r"Connection to (?P<addr>[\w.-]+:\d+) refused", confidence=0.9),
        Sig(text=(REFUSED, _DB_PORTS)),
        Sig(text=(REFUSED, r"\bSQLSTATE\[")),  # PDO: "SQLSTATE[HY000] [2002] Connection refused"
        Sig(type=r"ConnectionBad", confidence=0.75),
    ),
    summary="{db}[[ at {addr}]] refused the connection",
    root_cause=(
        "Nothing accepted connections at[[ {addr}]] the database's address: the database server is down "
        "or restarting, listens on another port or interface (`listen_addresses`, `bind-address`), or "
        "the app is configured with the wrong host/port for this environment (e.g. `localhost` inside "
        "a container, where the database is another container). A refused connection means the host "
        "answered but no process listened on that port."
    ),
    fix=(
        "1. Check the database process/container is running and healthy (`pg_isready -h HOST -p PORT`, "
        "`docker ps`, the cloud console).\n"
        "2. Verify the host and port the app uses (`DATABASE_URL`); in Docker/Kubernetes use the service "
        "name, not `localhost`.\n"
        "3. If it restarted, find out why in its own log (OOM, disk full, crash), and let the app wait "
        "for the database at startup (health checks, retries)."
    ),
)

_DB_CONNECT_FAILED = Rule(
    id="db-connect-failed",
    category="database_connection",
    severity="high",
    confidence=0.5,
    match=(
        Sig(
            text=(
                _DB_WORDS,
                r"connect(?:ion)?\b[^\n]*\b(?:fail|error|refused|lost|closed|unavailable|reset)"
                r"|(?:unable|could not|can't|cannot|failed) to connect",
            ),
        ),
        Sig(
            type=r"OperationalError|InterfaceError|CommunicationsException",
            code=_DB_CODE,
            confidence=0.45,
        ),
    ),
    summary="The app failed to connect to {db}",
    root_cause=(
        "The event reports a failed database connection but not the driver's reason (refused, timeout, "
        "authentication or DNS), so this rule-based analysis cannot narrow it further: {error}. The "
        "usual causes are the database being down or restarting, a wrong host/port/credentials for this "
        "environment, a network rule blocking the app, or the server's connection limit."
    ),
    fix=(
        "1. Test from the app's container: `pg_isready -h HOST -p PORT` (or `mysqladmin ping`), and "
        "check the database's own log at the time of the event.\n"
        "2. Verify `DATABASE_URL` for this environment.\n"
        "3. Log the driver's full exception (type and message) so the next event says which of these it is."
    ),
)


def _schema_object(ev: Evidence, facts: dict[str, str]) -> dict[str, str]:
    """`object`: the missing column (of its table) or table, as trusted markdown."""
    column, table = facts.get("column"), facts.get("table")
    if column:
        return {"object": f"column {code_span(column)}" + (f" of table {code_span(table)}" if table else "")}
    return {"object": f"table {code_span(table)}"} if table else {}


register(
    Rule(
        id="db-too-many-connections",
        category="database_connection_limit",
        severity="high",
        confidence=0.9,
        match=(
            Sig(text=r"sorry, too many clients already|remaining connection slots are reserved"),
            Sig(text=r"too many connections for (?:role|database) \"(?P<name>[^\"\n]+)\""),
            Sig(text=r"\(1040, 'Too many connections'\)|ER_CON_COUNT_ERROR|\bToo many connections\b"),
        ),
        summary="{db} refused a new connection: its connection limit is used up",
        root_cause=(
            "The database server has reached `max_connections`[[ (limit hit for {name})]] and rejects new "
            "clients. Usually the sum of every process's pool (processes x (pool_size + max_overflow)) "
            "exceeds the server limit, connections leak (sessions never closed or returned), or a traffic "
            "spike or autoscaling started more workers than the database can serve."
        ),
        fix=(
            "1. See who holds the connections: `SELECT usename, application_name, state, count(*) FROM "
            "pg_stat_activity GROUP BY 1, 2, 3 ORDER BY 4 DESC;` (MySQL: `SHOW PROCESSLIST`).\n"
            "2. Make processes x pool size fit under `max_connections` with headroom, or put PgBouncer / "
            "ProxySQL in front.\n"
            "3. Close or return every session (context managers, `finally`) and cut idle transactions "
            "(`idle_in_transaction_session_timeout`)."
        ),
    ),
    Rule(
        id="db-pool-exhausted",
        category="database_connection_limit",
        severity="high",
        confidence=0.85,
        match=(
            Sig(
                text=r"QueuePool limit of size (?P<size>\d+) overflow (?P<overflow>-?\d+) reached"
                r"(?:, connection timed out, timeout (?P<timeout>[\d.]+))?",
                confidence=0.9,
            ),
            Sig(text=r"Connection is not available, request timed out after (?P<timeout>\d+ ?ms)"),
            Sig(text=r"Timeout acquiring a connection\. The pool is probably full"),
            Sig(text=r"couldn't get a connection after (?P<timeout>[\d.]+ ?sec)"),
            Sig(text=r"could not obtain a connection from the pool within (?P<timeout>[\d.]+ ?seconds)"),
            Sig(text=r"pool timed out while waiting for an open connection"),
            Sig(type=r"PoolTimeout|ConnectionTimeoutError", confidence=0.75),
        ),
        summary="The app's database connection pool was exhausted; a request waited {timeout} and gave up",
        root_cause=(
            "Every connection in the application-side pool[[ (size {size}, overflow {overflow})]] was "
            "checked out, so the request timed out waiting for one. Connections are held too long (slow "
            "queries, long transactions, outbound HTTP calls made while a transaction is open), leaked "
            "(sessions never closed), or the pool is smaller than the number of concurrent requests/threads."
        ),
        fix=(
            "1. Make sure every session is closed/returned (`with Session() as session:`, a request "
            "dependency that always closes); look for leaks on error paths.\n"
            "2. Do not hold a transaction open across HTTP calls or sleeps; find slow queries in "
            "`pg_stat_activity` / the slow-query log.\n"
            "3. Size the pool to the concurrency of each process while keeping processes x (pool_size + "
            "max_overflow) under the server's `max_connections`."
        ),
        defaults={"timeout": "its full timeout"},
    ),
    Rule(
        id="db-auth",
        category="database_auth",
        severity="high",
        confidence=0.9,
        match=(
            Sig(text=r"password authentication failed for user \"(?P<user>[^\"\n]+)\""),
            Sig(text=r"Access denied for user '(?P<user>[^'\n]+)'@'[^'\n]*'"),
            Sig(text=r"database \"(?P<database>[^\"\n]+)\" does not exist"),
            Sig(text=r"Unknown database '(?P<database>[^'\n]+)'"),
            Sig(text=r"role \"(?P<user>[^\"\n]+)\" does not exist"),
            Sig(
                text=r"no pg_hba\.conf entry for host \"(?P<host>[^\"\n]+)\"(?:, user "
                r"\"(?P<user>[^\"\n]+)\")?"
            ),
            Sig(type=r"InvalidPassword|InvalidAuthorizationSpecification", confidence=0.85),
        ),
        summary="{db} rejected the app's login[[ as {user}]][[ to database {database}]]",
        root_cause=(
            "The connection reached the database server, but authentication or database selection failed: "
            "a wrong password, a user/role or database that does not exist on this server, or a "
            "`pg_hba.conf` / grant that does not admit this client. This usually follows a credential "
            "rotation that did not reach every process, a new environment whose database was never "
            "created, or a connection string pointing at the wrong server."
        ),
        fix=(
            "1. Compare the connection settings the app really uses (host, port, user, database) with the "
            "server, e.g. `psql \"$DATABASE_URL\" -c 'select 1'` from the app's container.\n"
            "2. If the password was rotated, update the secret and restart every process that holds it.\n"
            "3. Create the missing role/database, or add the `pg_hba.conf` line / GRANT for this client, "
            "and reload the server."
        ),
    ),
    Rule(
        id="db-schema-mismatch",
        category="database_schema",
        severity="high",
        confidence=0.85,
        match=(
            Sig(text=r"relation \"(?P<table>[^\"\n]+)\" does not exist"),
            Sig(
                text=r"column \"(?P<column>[^\"\n]+)\"(?: of relation \"(?P<table>[^\"\n]+)\")? does not "
                r"exist"
            ),
            Sig(text=r"column (?P<column>\w+\.\w+) does not exist"),
            Sig(text=r"Table '(?P<table>[^'\n]+)' doesn't exist"),
            Sig(text=r"Unknown column '(?P<column>[^'\n]+)' in '[^'\n]*'"),
            Sig(text=r"no such table: (?P<table>[\w.]+)"),
            Sig(text=r"no such column: (?P<column>[\w.]+)"),
            Sig(text=r"table (?P<table>\w+) has no column named (?P<column>\w+)"),
            Sig(type=r"UndefinedTable|UndefinedColumn", confidence=0.8),
        ),
        summary="A query references {object}, which does not exist in the connected database",
        root_cause=(
            "The code and the database schema disagree: the code expects {object}, but the connected "
            "database has no such object. Most often a migration was not applied in this environment "
            "(the deploy ran before `alembic upgrade head` / `manage.py migrate` / `rails db:migrate`), a "
            "migration renamed or dropped it while old code is still running, or the app is connected to "
            "the wrong database or schema (`search_path`)."
        ),
        fix=(
            "1. Check migration state here (`alembic current` vs `alembic heads`, `manage.py "
            "showmigrations`, `rails db:migrate:status`) and apply what is pending.\n"
            "2. Run migrations as a deploy step that must succeed before new code takes traffic; for renames "
            "and drops use expand-then-contract so old and new code both work.\n"
            "3. Confirm the connection string and `search_path` point at the intended database."
        ),
        defaults={"object": "a table or column"},
        derive=_schema_object,
        trusted=frozenset({"object"}),
    ),
    Rule(
        id="db-permission",
        category="database_permission",
        severity="high",
        confidence=0.85,
        match=(
            Sig(
                text=r"permission denied for (?:table|relation|schema|sequence|database|function|view) "
                r"(?P<name>[\w.\"]+)"
            ),
            Sig(text=r"must be owner of (?:table|relation|schema|sequence) (?P<name>[\w.\"]+)"),
            Sig(
                text=r"(?:SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|REFERENCES) command denied to user "
                r"'(?P<user>[^'\n]+)'@'[^'\n]*' for table '(?P<name>[^'\n]+)'"
            ),
            Sig(type=r"InsufficientPrivilege", confidence=0.8),
        ),
        summary="The database user lacks a privilege[[ on {name}]]",
        root_cause=(
            "The app's database role[[ {user}]] is not allowed to run this statement[[ on {name}]]. "
            "Typically a migration created the object as another role (owner) and did not grant access to "
            "the app's role, a new table/sequence is not covered by default privileges, or the app is "
            "running with a read-only role."
        ),
        fix=(
            "1. Grant the needed privilege to the app's role (e.g. `GRANT SELECT, INSERT, UPDATE, DELETE ON "
            "ALL TABLES IN SCHEMA public TO app;` and the same for sequences).\n"
            "2. Set `ALTER DEFAULT PRIVILEGES` so objects created by migrations are usable by the app.\n"
            "3. Run migrations as the owning role consistently."
        ),
    ),
    Rule(
        id="db-deadlock",
        category="database_deadlock",
        severity="medium",
        confidence=0.9,
        match=(
            Sig(text=r"deadlock detected|Deadlock found when trying to get lock|\(1213,|ER_LOCK_DEADLOCK"),
            Sig(text=r"was deadlocked on lock resources"),
            Sig(type=r"DeadlockDetected|DeadlockLoserDataAccessException|TransactionRollbackError"),
        ),
        summary="The database aborted this transaction to resolve a deadlock",
        root_cause=(
            "Two transactions each held a lock the other needed, so {db} rolled one of them back (this "
            "one) to break the cycle. It happens when concurrent code paths lock or update the same rows "
            "in different orders, or keep transactions open while doing other work, which widens the window."
        ),
        fix=(
            "1. Retry the whole transaction on a deadlock error (safe: the loser was rolled back), a bounded "
            "number of times with jitter.\n"
            "2. Lock and update rows in one consistent order everywhere (sort ids before `UPDATE ... WHERE "
            "id IN`, `SELECT ... ORDER BY id FOR UPDATE`).\n"
            "3. Keep transactions short; the server log (`log_lock_waits`, `SHOW ENGINE INNODB STATUS`) "
            "names both statements involved."
        ),
    ),
    Rule(
        id="db-lock-timeout",
        category="database_lock_timeout",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"Lock wait timeout exceeded|\(1205,|ER_LOCK_WAIT_TIMEOUT"),
            Sig(text=r"canceling statement due to lock timeout|could not obtain lock on (?:row|relation)"),
            Sig(text=r"database is locked|SQLITE_BUSY", confidence=0.8),
            Sig(type=r"LockNotAvailable|PessimisticLockException|CannotAcquireLockException|LockTimeout"),
        ),
        summary="A statement gave up waiting for a lock held by another transaction",
        root_cause=(
            "Another transaction held a lock on the same rows/table for longer than the lock timeout, so "
            "this statement was cancelled. The holder is usually a long-running transaction: a batch job or "
            "migration, a request that keeps a transaction open across slow work, or an idle-in-transaction "
            "session. With SQLite, another writer holds the whole database."
        ),
        fix=(
            "1. Find the blocker while it happens: `SELECT pid, state, query, now() - xact_start FROM "
            "pg_stat_activity WHERE wait_event_type = 'Lock' OR state LIKE 'idle in transaction%';` (MySQL: "
            "`SHOW ENGINE INNODB STATUS`).\n"
            "2. Shorten the holding transaction, run batch jobs in small chunks, and schedule migrations "
            "that lock tables off-peak.\n"
            "3. Retry the statement with backoff where that is safe."
        ),
    ),
    Rule(
        id="db-statement-timeout",
        category="database_query_timeout",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"canceling statement due to statement timeout"),
            Sig(text=r"maximum statement execution time exceeded|Query execution was interrupted"),
            Sig(text=r"Execution Timeout Expired", confidence=0.8),
            Sig(type=r"QueryCanceled(?:Error)?", confidence=0.7),
        ),
        summary="A query ran longer than the database's statement timeout and was cancelled",
        root_cause=(
            "The query exceeded `statement_timeout` (or `max_execution_time`). Usually it lacks an index "
            "for this filter/sort and scans a large table, the table grew past the point where the plan "
            "was fast, the query fetches far more rows than needed, or it waited behind other load."
        ),
        fix=(
            "1. Find the statement (slow-query log, `pg_stat_statements`) and run `EXPLAIN (ANALYZE, "
            "BUFFERS)` on it.\n"
            "2. Add the missing index, paginate, or narrow the query; move heavy reports to a background "
            "job or a replica.\n"
            "3. Keep the timeout: it protects the database; raise it only for jobs that really need it."
        ),
    ),
    Rule(
        id="db-serialization-failure",
        category="database_serialization_failure",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"could not serialize access due to (?:concurrent update|read/write dependencies)"),
            Sig(type=r"SerializationFailure"),
        ),
        summary="A concurrent transaction changed the same data; the database refused to serialise this one",
        root_cause=(
            "The transaction runs at REPEATABLE READ or SERIALIZABLE isolation and another transaction "
            "committed a conflicting change first. This is expected behaviour at that isolation level; the "
            "application is supposed to retry."
        ),
        fix=(
            "1. Wrap the transaction in a retry loop for serialization failures (SQLSTATE 40001), bounded "
            "and with jitter.\n"
            "2. Keep such transactions short and touching as few rows as possible.\n"
            "3. Use READ COMMITTED with explicit row locks if serialisable semantics are not required."
        ),
    ),
    Rule(
        id="db-unique-violation",
        category="database_unique_violation",
        severity="medium",
        confidence=0.9,
        match=(
            Sig(text=r"duplicate key value violates unique constraint \"(?P<constraint>[^\"\n]+)\""),
            Sig(text=r"Duplicate entry '[^\n]*' for key '(?P<constraint>[^'\n]+)'"),
            Sig(text=r"UNIQUE constraint failed: (?P<columns>[\w.]+(?:, [\w.]+)*)"),
            Sig(text=r"E11000 duplicate key error collection: (?P<table>\S+) index: (?P<constraint>\S+)"),
            Sig(type=r"UniqueViolation|RecordNotUnique|DuplicateKeyException"),
            Sig(type=r"IntegrityError|SQLIntegrityConstraintViolationException", text=r"duplicate|unique"),
        ),
        summary="A write violated unique constraint {constraint}[[ on {columns}]]",
        root_cause=(
            "The code inserted (or updated to) a value that already exists under a unique index[[ ("
            "{columns})]]. Typically a check-then-insert race (two requests both saw 'not found' and both "
            "inserted), a retried or double-submitted request, or an import/backfill that is not idempotent. "
            "The database protected the data; the bug is that the conflict surfaces as a server error."
        ),
        fix=(
            "1. Make the write idempotent: `INSERT ... ON CONFLICT ... DO NOTHING` / `DO UPDATE` (MySQL: "
            "`ON DUPLICATE KEY UPDATE`) on {columns}, or get-or-create that catches the integrity error and "
            "re-reads.\n"
            "2. {duplicate_answer}\n"
            "3. For double submits, accept an idempotency key from the client."
        ),
    ),
    Rule(
        id="db-foreign-key-violation",
        category="database_foreign_key_violation",
        severity="medium",
        confidence=0.9,
        match=(
            Sig(
                text=r"(?:on table \"(?P<table>[^\"\n]+)\" )?violates foreign key constraint "
                r"\"(?P<constraint>[^\"\n]+)\""
            ),
            Sig(
                text=r"Cannot (?:add or update a child row|delete or update a parent row): a foreign key "
                r"constraint fails(?: \([^\n]*?CONSTRAINT `(?P<constraint>[^`\n]+)`)?"
            ),
            Sig(text=r"FOREIGN KEY constraint failed"),
            Sig(type=r"ForeignKeyViolation|InvalidForeignKey"),
        ),
        summary="A write violated foreign key constraint {constraint}",
        root_cause=(
            "Either a row was inserted/updated pointing at a parent that does not exist (a wrong or stale "
            "id from the client, the parent deleted concurrently, or written in a different transaction "
            "that has not committed), or a parent row[[ in {table}]] was deleted while child rows still "
            "reference it."
        ),
        fix=(
            "1. Validate referenced ids before writing; for a missing parent, {reject_input}.\n"
            "2. For deletes, decide the intended behaviour: delete or detach children first, or declare "
            "`ON DELETE CASCADE` / `SET NULL` in a migration.\n"
            "3. Make sure parent and child are written in the right order within one transaction."
        ),
        defaults={"constraint": "a foreign key constraint"},
    ),
    Rule(
        id="db-not-null-violation",
        category="database_not_null_violation",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(
                text=r"null value in column \"(?P<column>[^\"\n]+)\"(?: of relation \"(?P<table>[^\"\n]+)\")?"
                r" violates not-null constraint"
            ),
            Sig(text=r"Column '(?P<column>[^'\n]+)' cannot be null"),
            Sig(text=r"NOT NULL constraint failed: (?P<column>[\w.]+)"),
            Sig(type=r"NotNullViolation"),
        ),
        summary="A write left required column {column} empty (NOT NULL violation)",
        root_cause=(
            "The row being written has no value for {column}[[ in table {table}]], which the schema "
            "requires. Usually the input lacked the field and nothing validated it, the model/ORM has no "
            "default while the column has none either, or a recent migration made the column NOT NULL "
            "while some code path still omits it."
        ),
        fix=(
            "1. Validate the field at the API boundary and answer 422 when it is missing.\n"
            "2. Give the column or the model a sensible default if one exists.\n"
            "3. Search for code paths (imports, background jobs, admin actions) that create this row "
            "without the field."
        ),
        defaults={"column": "a column"},
    ),
    Rule(
        id="db-invalid-value",
        category="database_invalid_value",
        severity="medium",
        confidence=0.8,
        match=(
            Sig(text=r"value too long for type (?P<detail>character varying\(\d+\))"),
            Sig(text=r"Data too long for column '(?P<column>[^'\n]+)'"),
            Sig(text=r"invalid input syntax for type (?P<detail>\w+)"),
            Sig(text=r"(?P<detail>numeric field overflow|out of range for type \w+)"),
            Sig(text=r"Out of range value for column '(?P<column>[^'\n]+)'"),
            Sig(text=r"Incorrect (?P<detail>integer|decimal|datetime|date|string) value"),
            Sig(type=r"StringDataRightTruncation|InvalidTextRepresentation|NumericValueOutOfRange|DataError"),
        ),
        summary="The database rejected a value[[ for column {column}]][[ ({detail})]]",
        root_cause=(
            "A value did not fit the column's type or size[[ ({detail})]]. The input was not validated "
            "against the schema's limits before writing, e.g. a string longer than the column, a "
            "non-numeric/non-UUID string bound to a typed parameter, or a number outside the type's range."
        ),
        fix=(
            "1. Validate length, format and range at the API boundary with the same limits as the schema, "
            "and answer 422.\n"
            "2. If longer/larger values are legitimate, widen the column in a migration.\n"
            "3. Parse ids (UUIDs, integers) before querying so malformed ones become 404/422."
        ),
    ),
    Rule(
        id="db-transaction-aborted",
        category="database_transaction_aborted",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"current transaction is aborted, commands ignored until end of transaction block"),
            Sig(text=r"transaction has been rolled back due to a previous exception during flush"),
            Sig(text=r"Can't reconnect until invalid transaction is rolled back"),
            Sig(type=r"InFailedSqlTransaction|PendingRollbackError"),
        ),
        summary="The code kept using a database transaction after an earlier statement in it had failed",
        root_cause=(
            "An earlier statement in the same transaction failed, the exception was caught or ignored, and "
            "the code went on using the same connection/session without rolling back. This error is a "
            "symptom: the real failure is the earlier one (see the breadcrumbs, or the previous error from "
            "the same worker)."
        ),
        fix=(
            "1. Find and fix the first error in the transaction (breadcrumbs, logs just before this event).\n"
            "2. Wherever a database exception is caught, call `session.rollback()` (or use a SAVEPOINT via "
            "`session.begin_nested()` for failures you expect) before reusing the session.\n"
            "3. Do not share one session across requests or tasks."
        ),
    ),
    Rule(
        id="db-read-only",
        category="database_read_only",
        severity="high",
        confidence=0.85,
        match=(
            Sig(text=r"cannot execute (?P<statement>\w+) in a read-only transaction"),
            Sig(text=r"running with the --read-only option so it cannot execute this statement"),
            Sig(type=r"ReadOnlySqlTransaction"),
        ),
        summary="A write was sent to a read-only database connection[[ ({statement})]]",
        root_cause=(
            "The connection points at a read replica, or at a primary that was demoted during a failover, or "
            "the transaction was opened read-only. Writes are routed to the wrong endpoint: a stale DNS "
            "entry "
            "or cached connection after failover, or read/write routing sending this query to the replica."
        ),
        fix=(
            "1. Check the endpoint the app writes to (`SELECT pg_is_in_recovery();` is true on a replica).\n"
            "2. After a failover, recycle pooled connections (pre-ping, `pool_recycle`) so they reach the"
            " new primary.\n"
            "3. Route this code path to the primary/writer endpoint."
        ),
    ),
    Rule(
        id="db-connection-lost",
        category="database_connection",
        severity="high",
        confidence=0.8,
        match=(
            Sig(text=r"server closed the connection unexpectedly", confidence=0.85),
            Sig(
                text=r"MySQL server has gone away|\(2006,|Lost connection to (?:MySQL )?server during "
                r"query|\(2013,"
            ),
            Sig(text=r"SSL SYSCALL error: EOF detected|SSL connection has been closed unexpectedly"),
            Sig(text=r"terminating connection due to administrator command"),
            Sig(text=r"the database system is (?:shutting down|starting up|in recovery mode)"),
            Sig(text=r"Communications link failure", confidence=0.8),
            Sig(text=r"connection already closed|connection is closed", code=_DB_CODE, confidence=0.7),
        ),
        summary="The connection to {db} was lost in the middle of a query",
        root_cause=(
            "The database server closed or lost a connection the app was using: the server restarted or "
            "failed over, an idle connection was cut by a firewall, NAT or proxy or by the server's own "
            "idle timeout (`wait_timeout`), or an admin/`pg_terminate_backend` killed it. Pools that hand "
            "out such stale connections fail the first query that uses them."
        ),
        fix=(
            "1. Enable validation on the pool: `create_engine(..., pool_pre_ping=True, pool_recycle=1800)`, "
            "Hikari `maxLifetime` below the server/proxy idle timeout.\n"
            "2. Check the database's log and uptime for a restart or failover at the time of the event.\n"
            "3. Retry idempotent reads once on a disconnect error."
        ),
    ),
    _DB_CONNECT_TIMEOUT,
    _DB_CONNECT_REFUSED,
    # Guesses from wording alone: no driver message, no telling exception type.
    replace(
        _DB_CONNECT_TIMEOUT,
        id="db-connect-timeout-wording",
        confidence=0.55,
        match=(Sig(text=(_DB_WORDS, r"connect", r"time[ds]? ?out|timeout")),),
    ),
    replace(
        _DB_CONNECT_REFUSED,
        id="db-connect-refused-wording",
        confidence=0.6,
        match=(Sig(text=(_DB_WORDS, REFUSED)),),
    ),
    _DB_CONNECT_FAILED,
)
