"""The `heuristic` analysis provider: offline, deterministic, rule-based — and honest that it is not an LLM.

`RULES` is a catalogue of common failure signatures (database, network, resources, configuration,
everyday code bugs), ordered most specific first. Each rule holds one or more signatures over the
event (exception type, text of the message/exception values, source of the stack frames, status
code, logger) and templates for the summary, root cause and fix. The first rule with a matching
signature wins; its templates are filled with facts pulled out of the event — the host:port that
refused, the missing key, the module, the file path, the route, the raising frame. Every fact taken
from the event goes into a code span (`markdown.code_span`), so rendering can never be steered by
event text. No match gives category "unknown", a low confidence and a plain admission.

Templates use `{fact}` placeholders (a missing fact falls back to the rule's `defaults`, then to
`FACT_DEFAULTS`) and `[[ ... ]]` optional segments, kept only when every fact inside is known.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cache
from urllib.parse import urlsplit

from app.analysis.markdown import code_span
from app.analysis.providers.base import AnalysisInput, AnalysisResult, ProviderAnswer, Severity
from app.events.model import ExceptionInfo, Frame, NormalizedEvent

PROVIDER_NAME = "heuristic"
MODEL_NAME = "heuristic-v1"

UNKNOWN_CATEGORY = "unknown"
MAX_TEXT = 4000  # characters of each message/value/stack the rules look at
GUESS_BELOW = 0.6  # a match less confident than this says it is only a lead


@dataclass(frozen=True)
class Sig:
    """One signature. Every part given must match; a rule matches when any of its signatures does.

    type:   regex, full match on an exception's type, short (`KeyError`) or dotted
            (`psycopg.OperationalError`).
    text:   regex (or tuple of regexes, all required), case-insensitive. With `type`: searched in that
            exception's value; without: anywhere in the message, exception lines and plain-text stack.
    code:   regex searched in the frames' module, file name, function and source line.
    status: the event's HTTP status code is one of these.
    logger: regex searched in the logger name.
    confidence: replaces the rule's confidence for this (stronger or weaker) signature.
    Named groups become facts; a trailing digit is dropped (`host2` -> `host`) so alternatives can share one.
    """

    type: str | None = None
    text: str | tuple[str, ...] = ()
    code: str | None = None
    status: tuple[int, ...] = ()
    logger: str | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class Rule:
    """A failure class: how to recognise it and what to tell the on-call engineer."""

    id: str
    category: str
    severity: Severity
    confidence: float
    match: tuple[Sig, ...]
    summary: str
    root_cause: str
    fix: str
    defaults: dict[str, str] = field(default_factory=dict)


# Plain-text fallbacks for facts the event does not give.
FACT_DEFAULTS: dict[str, str] = {
    "addr": "its configured address",
    "host": "the remote host",
    "url": "the upstream service",
    "path": "the file",
    "key": "the key",
    "module": "the module",
    "name": "the setting",
    "culprit": "the raising line",
    "route": "this endpoint",
    "db": "the database",
    "timeout": "the configured timeout",
    "error": "the error",
    "nullish": "null/None",
    "upstream_status": "an error status",
    "constraint": "a unique constraint",
    "columns": "the unique columns",
}

_DB_WORDS = (
    r"\b(?:database|db|postgres(?:ql)?|mysql|mariadb|psycopg2?|asyncpg|sqlalchemy|pg8000|pymysql|mysqldb"
    r"|sqlite3?|mssql|sql server|oracle|jdbc|hikari\w*|activerecord|sequelize|prisma|knex|typeorm)\b|PG::"
    r"|\bpq: "
)
_DB_CODE = (
    r"psycopg|asyncpg|sqlalchemy|pymysql|MySQLdb|mysql|pg8000|django/db|django\.db|/pg/|sqlite3|activerecord"
)
_REFUSED = (
    r"Connection refused|ECONNREFUSED|connect: connection refused|\[Errno 111\]|\(111\)|actively refused"
)
_DB_PORTS = r"(?:[:\s,]|port )(?P<port>5432|3306|1433|1521|26257|5433)\b"

# Rules that appear twice in the catalogue: once for their exact signatures, once (later, less
# confident) for the same failure recognised from wording alone.
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
        Sig(text=(_REFUSED, _DB_PORTS)),
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


_REDIS_CONNECTION = Rule(
    id="redis-connection",
    category="redis_connection",
    severity="high",
    confidence=0.85,
    match=(
        Sig(
            text=r"Error (?:111|110|104|113|99|61|10061) connecting to (?P<addr>[\w.-]+:\d+)",
            confidence=0.9,
        ),
        Sig(text=r"Error connecting to Redis on (?P<addr>[\w.-]+:\d+)", confidence=0.9),
        Sig(text=r"Error while reading from (?P<addr>[\w.-]+:\d+)"),
        Sig(text=r"Timeout (?:reading from|connecting to|writing to) (?:socket|server)"),
        Sig(text=r"max number of clients reached"),
        Sig(text=r"(?:Unable to connect to|RedisConnectionException)[^\n]*?:6379", confidence=0.85),
        Sig(text=r"JedisConnectionException|Could not get a resource from the pool", confidence=0.8),
        Sig(text=(_REFUSED + r"|ETIMEDOUT|ECONNRESET", r":6379\b")),
        Sig(
            type=r"redis\.\w*\.?(?:ConnectionError|TimeoutError)|Redis::(?:CannotConnectError"
            r"|TimeoutError|ConnectionError)|CannotConnectError"
        ),
    ),
    summary="The app could not talk to Redis[[ at {addr}]]",
    root_cause=(
        "Redis refused, dropped or did not answer the connection: the Redis server/container is down or "
        "restarting, the host/port in `REDIS_URL` is wrong for this environment, it reached `maxclients`, "
        "or the network path is blocked. Everything using Redis here (cache, sessions, task broker, "
        "rate limits) fails with it."
    ),
    fix=(
        "1. `redis-cli -h HOST -p PORT ping` from the app's container; check the Redis process and its log.\n"
        "2. Verify `REDIS_URL` for this environment (the service name, not `localhost`, inside containers).\n"
        "3. Decide whether Redis is optional on this code path: with a short socket timeout, treat a "
        "cache outage as a miss instead of failing the request."
    ),
)


# --------------------------------------------------------------------------------------------------
# The catalogue. Order matters: the first matching rule wins, so specific signatures come first
# (disk full inside a database error is still disk full; a DNS failure inside a Redis error is DNS).
# --------------------------------------------------------------------------------------------------
RULES: tuple[Rule, ...] = (
    # ---- resources -------------------------------------------------------------------------------
    Rule(
        id="disk-full",
        category="disk_full",
        severity="critical",
        confidence=0.9,
        match=(
            Sig(text=r"No space left on device(?:: '(?P<path>[^'\n]+)')?"),
            Sig(text=r"\bENOSPC\b(?:: no space left on device, \w+ '(?P<path>[^'\n]+)')?"),
            Sig(text=r"\[Errno 28\]|Disk quota exceeded|\bEDQUOT\b|database or disk is full"),
            Sig(text=r"The table '(?P<table>[^'\n]+)' is full|\bdisk (?:is )?full\b", confidence=0.8),
        ),
        summary="A write to {path} failed: no space left on the device",
        root_cause=(
            "The filesystem (or quota) behind {path} has no free blocks or inodes left, so the operating "
            "system rejected the write (ENOSPC). Usual culprits: logs that are not rotated, temp files or "
            "uploads never cleaned up, a database WAL/binlog growing without bound, or old container "
            "images and volumes piling up. Writes that failed are lost unless the client retries them."
        ),
        fix=(
            "1. Free space now: `df -h` and `df -i` on the host/container, then `du -xh --max-depth=1 / | "
            "sort -h` to find what grew.\n"
            "2. Remove or rotate the culprit (logrotate, temp-file cleanup, `docker system prune`, archive "
            "old WAL/binlogs) and grow the volume if it is simply too small.\n"
            "3. Alert on disk usage above 80% so this is caught before writes fail, and replay the failed"
            " writes."
        ),
        defaults={"path": "disk"},
    ),
    Rule(
        id="redis-maxmemory",
        category="out_of_memory",
        severity="high",
        confidence=0.9,
        match=(Sig(text=r"OOM command not allowed when used memory > 'maxmemory'"),),
        summary="Redis refused a write: it is at its `maxmemory` limit",
        root_cause=(
            "Redis reached `maxmemory` and its eviction policy (`noeviction`, or volatile-* with no keys "
            "carrying a TTL) does not allow it to free space, so every write command fails. Typically keys "
            "are written without an expiry, a queue/stream grows because nothing consumes it, or the "
            "instance is simply too small for the data set."
        ),
        fix=(
            "1. Inspect memory: `redis-cli INFO memory`, `redis-cli --bigkeys`, and queue lengths (`LLEN`).\n"
            "2. Set TTLs on cache keys and pick a suitable `maxmemory-policy` (e.g. `allkeys-lru` for a pure "
            "cache); never evict a broker's or session store's keys silently.\n"
            "3. Drain or trim the growing structure, or give the instance more memory."
        ),
    ),
    Rule(
        id="out-of-memory",
        category="out_of_memory",
        severity="high",
        confidence=0.85,
        match=(
            Sig(type=r"MemoryError"),
            Sig(text=r"(?P<detail>JavaScript heap out of memory)", confidence=0.9),
            Sig(text=r"OutOfMemoryError(?::\s*(?P<detail>[^\n]+))?", confidence=0.9),
            Sig(text=r"\bOOMKilled\b|\bOOM[- ]killer\b|Out of memory: Kill(?:ed)? process", confidence=0.9),
            Sig(text=r"(?:\[Errno 12\] )?(?P<detail>Cannot allocate memory)|\bENOMEM\b|\[Errno 12\]"),
            Sig(text=r"(?P<detail>runtime: out of memory|fatal error: out of memory|std::bad_alloc)"),
            Sig(text=r"\bMemoryError\b|failed to allocate \d+ bytes|Allocation failed"),
            Sig(text=r"was sent SIGKILL! Perhaps out of memory", confidence=0.75),
            Sig(text=r"signal 9 \(SIGKILL\)|exit(?:ed with)? code 137\b", confidence=0.55),
        ),
        summary="The process ran out of memory[[ ({detail})]]",
        root_cause=(
            "The process needed more memory than the runtime, container or host allows, so an allocation "
            "failed or the kernel OOM killer ended it (exit code 137 / SIGKILL). Typical causes: loading a "
            "whole table, file or API response into memory (unbounded query, `.all()`, reading a large "
            "upload at once), a cache or list that grows without limit (a leak), too many workers for the "
            "container's memory limit, or a heap limit (`--max-old-space-size`, `-Xmx`) set below real needs."
        ),
        fix=(
            "1. Check the memory graph of the container/host around the event and the limit it runs under "
            "(`kubectl describe pod` shows `OOMKilled`; `dmesg` shows the OOM killer).\n"
            "2. Find the allocation at {culprit}: stream or paginate large data, bound caches and batch "
            "sizes, and release references to big objects.\n"
            "3. If usage is legitimate, raise the limit or the heap size, or run fewer workers per container."
        ),
    ),
    Rule(
        id="too-many-open-files",
        category="file_descriptors_exhausted",
        severity="high",
        confidence=0.85,
        match=(Sig(text=r"Too many open files|\bEMFILE\b|\[Errno 24\]"),),
        summary="The process ran out of file descriptors (too many open files or sockets)",
        root_cause=(
            "Every file, socket and pipe uses a descriptor, and the process hit its limit (`ulimit -n`). "
            "Usually files or HTTP/database connections are opened and never closed (a leak, e.g. a new "
            "HTTP client or session per request), or the limit is left at a low default (1024) for a "
            "service with many concurrent connections."
        ),
        fix=(
            "1. Count and inspect open descriptors: `ls /proc/PID/fd | wc -l` and `lsof -p PID`.\n"
            "2. Close what you open (context managers, `finally`), and reuse one HTTP client / connection "
            "pool instead of creating one per request.\n"
            "3. Raise `LimitNOFILE` / `ulimit -n` (or the container's `nofile` ulimit) if the load really"
            " needs it."
        ),
    ),
    Rule(
        id="redis-misconf",
        category="redis_persistence",
        severity="high",
        confidence=0.9,
        match=(Sig(text=r"MISCONF Redis is configured to save RDB snapshots"),),
        summary="Redis refused writes because it cannot persist its snapshot to disk",
        root_cause=(
            "Redis failed its last background save (RDB) and, with `stop-writes-on-bgsave-error yes`, now "
            "rejects every write. The save usually fails because the Redis data volume is full, Redis "
            "cannot write to its working directory (permissions), or fork() failed for lack of memory."
        ),
        fix=(
            "1. Read the Redis log for the bgsave error and check `redis-cli INFO persistence` "
            "(`rdb_last_bgsave_status`).\n"
            "2. Fix the cause: free disk space on the Redis volume, fix directory permissions, or allow "
            "overcommit (`vm.overcommit_memory=1`).\n"
            "3. Trigger `BGSAVE` and confirm it succeeds; writes resume automatically."
        ),
    ),
    # ---- name resolution and TLS -----------------------------------------------------------------
    Rule(
        id="dns-resolution",
        category="dns_resolution",
        severity="high",
        confidence=0.9,
        match=(
            Sig(text=r"Failed to resolve '(?P<host>[^'\n]+)'"),
            Sig(text=r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN) (?P<host>[\w.-]+)"),
            Sig(text=r"lookup (?P<host>[\w.-]+)(?: on [\w.:\[\]]+)?: (?:no such host|server misbehaving)"),
            Sig(text=r"UnknownHostException(?::\s*(?P<host>[\w.-]+))?"),
            Sig(text=r"could not translate host name \"(?P<host>[^\"\n]+)\" to address"),
            Sig(
                text=r"Name or service not known|nodename nor servname provided|Temporary failure in name "
                r"resolution|No address associated with hostname|getaddrinfo failed|\[Errno -[235]\]"
                r"|\[Errno 11001\]|NameResolutionError|\bEAI_AGAIN\b|\bENOTFOUND\b"
            ),
            Sig(type=r"gaierror"),
        ),
        summary="DNS lookup failed for {host}",
        root_cause=(
            "The hostname {host} could not be resolved to an IP address, so no connection was even "
            "attempted. Either the name is wrong for this environment (a typo, a Docker Compose or "
            "Kubernetes service name used outside that network, an internal name used from outside the "
            "VPC), the DNS record was removed, or the resolver itself failed (`Temporary failure` / "
            "`EAI_AGAIN` means the resolver timed out or is overloaded)."
        ),
        fix=(
            "1. Resolve it from the app's own container: `getent hosts HOST` or `nslookup HOST`.\n"
            "2. Fix the configured hostname or the DNS record / service name; in containers make sure the "
            "app and the target share a network.\n"
            "3. For intermittent `EAI_AGAIN`, check the resolver (CoreDNS, systemd-resolved) and retry "
            "with backoff."
        ),
        defaults={"host": "a hostname"},
    ),
    Rule(
        id="tls-certificate",
        category="tls_certificate",
        severity="high",
        confidence=0.9,
        match=(
            Sig(text=r"CERTIFICATE_VERIFY_FAILED\]? certificate verify failed: (?P<detail>[^(\n]+)"),
            Sig(
                text=r"(?P<detail>CERT_HAS_EXPIRED|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN"
                r"|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|ERR_TLS_CERT_ALTNAME_INVALID"
                r"|certificate has expired|self[- ]signed certificate(?: in certificate chain)?"
                r"|unable to verify the first certificate|Hostname/IP does not match certificate's altnames)"
            ),
            Sig(text=r"x509: (?P<detail>[^\n]+)"),
            Sig(
                text=r"(?P<detail>PKIX path building failed|No subject alternative (?:DNS )?names? "
                r"matching[^\n]*)"
            ),
            Sig(text=r"CERTIFICATE_VERIFY_FAILED|SSLCertVerificationError"),
            Sig(text=r"SSLHandshakeException(?::\s*(?P<detail>[^\n]+))?", confidence=0.8),
            Sig(
                text=r"(?P<detail>WRONG_VERSION_NUMBER|tlsv1 alert[^\n]*|sslv3 alert handshake failure"
                r"|SSL routines[^\n]*)",
                confidence=0.75,
            ),
            Sig(text=r"\bSSLError\b", confidence=0.65),
        ),
        summary="TLS handshake with {host} failed[[: {detail}]]",
        root_cause=(
            "The TLS connection was rejected during the handshake[[ ({detail})]]. Common causes: the "
            "server's certificate expired or was not renewed, the server sends an incomplete chain "
            "(missing intermediate), the client's CA bundle is outdated or missing in the image "
            "(`ca-certificates`, `certifi`), a self-signed or corporate-proxy certificate, a hostname "
            "that does not match the certificate, or plain HTTP spoken on a TLS port "
            "(`WRONG_VERSION_NUMBER`)."
        ),
        fix=(
            "1. Inspect the certificate: `openssl s_client -connect HOST:443 -servername HOST -showcerts` "
            "(expiry dates, chain, names).\n"
            "2. If the server's certificate is expired or its chain incomplete, fix it on the server; if the "
            "client's CA store is stale, update `ca-certificates`/`certifi` in the image.\n"
            "3. For an internal CA, add it to the trust store (`REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`, "
            "the JVM truststore) — do not turn verification off."
        ),
        defaults={"host": "the remote host"},
    ),
    # ---- SQL databases ---------------------------------------------------------------------------
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
            "2. Turn a remaining duplicate into a 409 Conflict with a clear message instead of a 500.\n"
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
            "1. Validate referenced ids before writing and answer 404/422 for a missing parent instead of"
            " 500.\n"
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
    # ---- Redis -----------------------------------------------------------------------------------
    Rule(
        id="redis-auth",
        category="redis_auth",
        severity="high",
        confidence=0.9,
        match=(Sig(text=r"NOAUTH Authentication required|WRONGPASS invalid username-password pair"),),
        summary="Redis rejected the app's credentials",
        root_cause=(
            "The Redis server requires a password/ACL user and the app sent none or a wrong one. This "
            "follows enabling `requirepass`/ACLs, a rotated password, or a `REDIS_URL` without the "
            "password part in this environment."
        ),
        fix=(
            "1. Check `REDIS_URL` (`redis://:PASSWORD@host:6379/0` or `redis://USER:PASSWORD@...`) for every "
            "process: web, workers, beat.\n"
            '2. Test with `redis-cli -u "$REDIS_URL" ping`.\n'
            "3. Restart processes after rotating the password."
        ),
    ),
    Rule(
        id="redis-read-only",
        category="redis_read_only",
        severity="high",
        confidence=0.9,
        match=(Sig(text=r"READONLY You can't write against a read only replica"),),
        summary="A write was sent to a read-only Redis replica",
        root_cause=(
            "The app's connection reaches a Redis replica, typically after a failover in which the old "
            "primary became a replica while the app kept its connections or a stale address."
        ),
        fix=(
            "1. Point writes at the primary (Sentinel/cluster-aware client, or the managed service's primary "
            "endpoint).\n"
            "2. Make clients reconnect after failover (Sentinel support, connection health checks).\n"
            "3. Check `redis-cli INFO replication` on the address the app uses."
        ),
    ),
    _REDIS_CONNECTION,
    # ---- workers and upstream HTTP ---------------------------------------------------------------
    Rule(
        id="worker-timeout",
        category="worker_timeout",
        severity="high",
        confidence=0.85,
        match=(
            Sig(text=r"WORKER TIMEOUT \(pid:(?P<pid>\d+)\)", confidence=0.9),
            Sig(type=r"SoftTimeLimitExceeded|TimeLimitExceeded", confidence=0.9),
            Sig(
                text=r"SoftTimeLimitExceeded|TimeLimitExceeded|Hard time limit \((?P<timeout>[\d.]+s?)\) "
                r"exceeded"
            ),
            Sig(text=r"Task timed out after (?P<timeout>[\d.]+ seconds)", confidence=0.9),
            Sig(text=r"\bHARAKIRI\b|harakiri"),
            Sig(
                text=r"upstream timed out \(110: (?:Connection|Operation) timed out\) while reading "
                r"response header"
            ),
        ),
        summary="The request or task ran past the worker's time limit and was killed",
        root_cause=(
            "A watchdog (gunicorn `--timeout`, Celery time limits, uWSGI harakiri, a serverless timeout, or "
            "the proxy's read timeout) ended the work because it did not finish in time[[ ({timeout})]]. "
            "Either the work is genuinely slow (a slow query, a large payload, an N+1 loop) or it was "
            "blocked on something without its own timeout (an HTTP call, a lock, a pool checkout). A sync "
            "worker stuck like this also stops serving other requests."
        ),
        fix=(
            "1. Find what it was doing when killed: the stack in this event, the slow-query log, APM spans "
            "for {route}.\n"
            "2. Put explicit, shorter timeouts on every outbound call and query so they fail before the "
            "worker limit does.\n"
            "3. Move long work to a background job, or paginate/stream; raise the limit only for work that "
            "is legitimately long."
        ),
    ),
    Rule(
        id="upstream-rate-limited",
        category="upstream_rate_limited",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"429 Client Error: Too Many Requests for url: (?P<url>\S+)", confidence=0.9),
            Sig(text=r"Client error '429 [^'\n]*' for url '(?P<url>[^'\n]+)'", confidence=0.9),
            Sig(text=r"Request failed with status code 429|\b429 Too Many Requests\b|\bTooManyRequests\b"),
            Sig(
                text=r"\bRateLimitError\b|ThrottlingException|Throttling: Rate exceeded|rate limit(?:ed)? "
                r"(?:exceeded|reached)|\bRate exceeded\b|RESOURCE_EXHAUSTED|Too Many Requests",
                confidence=0.8,
            ),
        ),
        summary="Rate-limited by a dependency: {url} answered 429 Too Many Requests",
        root_cause=(
            "The app sends more requests to this dependency than its quota allows (per second, per minute "
            "or per day), so the excess is rejected. Usual triggers: a traffic spike or fan-out (one user "
            "action making many API calls), a retry loop without backoff that multiplies traffic, many "
            "workers sharing one API key, or a lowered plan/quota."
        ),
        fix=(
            "1. Honour `Retry-After` and retry with exponential backoff and jitter, with a cap — never a "
            "tight retry loop.\n"
            "2. Reduce call volume: cache responses, batch, deduplicate, and throttle on the client side "
            "with a limiter shared by all workers.\n"
            "3. Check the provider's dashboard for the quota that was hit and ask for more if the traffic "
            "is legitimate."
        ),
        defaults={"url": "the upstream service"},
    ),
    Rule(
        id="upstream-auth",
        category="upstream_auth",
        severity="high",
        confidence=0.8,
        match=(
            Sig(
                text=r"(?P<upstream_status>401|403) Client Error: (?:Unauthorized|Forbidden) for url: "
                r"(?P<url>\S+)",
                confidence=0.9,
            ),
            Sig(
                text=r"Client error '(?P<upstream_status>401|403) [^'\n]*' for url '(?P<url>[^'\n]+)'",
                confidence=0.9,
            ),
            Sig(text=r"Request failed with status code (?P<upstream_status>401|403)"),
            Sig(
                text=r"HttpClientErrorException\$(?:Unauthorized|Forbidden)|(?P<upstream_status>401) "
                r"Unauthorized: \["
            ),
            Sig(
                text=r"Invalid API Key provided|Incorrect API key provided|invalid_api_key|InvalidAccessKeyId"
                r"|SignatureDoesNotMatch|\bExpiredToken\b|InvalidClientTokenId|UnrecognizedClientException"
                r"|The security token included in the request is (?:invalid|expired)|\binvalid_grant\b"
                r"|\binvalid_client\b|\bBad credentials\b"
            ),
            Sig(type=r"AuthenticationError|PermissionDeniedError", confidence=0.7),
        ),
        summary="A dependency rejected the app's credentials: {url} answered {upstream_status}",
        root_cause=(
            "The call to {url} was refused as unauthenticated (401: a missing, invalid or expired key or "
            "token) or unauthorised (403: a missing scope or permission, an IP allow-list, a disabled "
            "account). This typically follows a secret rotation that did not reach every process, an "
            "expired OAuth/refresh token or temporary cloud credential, a key from the wrong environment "
            "(test vs live), or a revoked key."
        ),
        fix=(
            "1. Check which credential this call uses in this environment (variable/secret name, key "
            "prefix such as test/live) and try it directly against the dependency with curl.\n"
            "2. Rotate or renew the key/token, update the secret store, and restart or reload every worker "
            "that caches it.\n"
            "3. Refresh OAuth/cloud tokens before they expire, and alert on 401/403 from dependencies "
            "separately from your own errors."
        ),
        defaults={"url": "the upstream service", "upstream_status": "401/403"},
    ),
    Rule(
        id="upstream-5xx",
        category="upstream_error",
        severity="medium",
        confidence=0.8,
        match=(
            Sig(
                text=r"(?P<upstream_status>5\d\d) Server Error: [^\n]*? for url: (?P<url>\S+)",
                confidence=0.85,
            ),
            Sig(
                text=r"Server error '(?P<upstream_status>5\d\d)[^'\n]*' for url '(?P<url>[^'\n]+)'",
                confidence=0.85,
            ),
            Sig(text=r"Request failed with status code (?P<upstream_status>5\d\d)"),
            Sig(
                text=r"HttpServerErrorException|\b(?P<upstream_status>50[234]) (?:Bad Gateway|Service "
                r"Unavailable|Gateway Time-?out)\b",
                confidence=0.7,
            ),
            Sig(
                text=r"upstream connect error or disconnect/reset before headers|no healthy upstream",
                confidence=0.75,
            ),
        ),
        summary="A dependency failed: {url} answered HTTP {upstream_status}",
        root_cause=(
            "A service this app calls returned a server error (502/503/504 usually come from the gateway or "
            "load balancer in front of it: the upstream is down, overloaded, being deployed, or too slow). "
            "The app passed the failure on as its own error instead of degrading gracefully."
        ),
        fix=(
            "1. Check the dependency's health/status page and whether the errors line up with its deploys "
            "or incidents.\n"
            "2. Retry idempotent calls with backoff inside a short overall deadline, and add a circuit "
            "breaker so an outage of the dependency does not tie up every worker.\n"
            "3. Answer a clear 502/503 (or serve cached/degraded data) instead of a 500."
        ),
        defaults={"url": "an upstream service", "upstream_status": "5xx"},
    ),
    Rule(
        id="upstream-read-timeout",
        category="read_timeout",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"Read timed out\.?(?: \(read timeout=(?P<timeout>[\d.]+)\))?", confidence=0.9),
            Sig(type=r"ReadTimeout(?:Error|Exception)?"),
            Sig(
                text=r"Net::ReadTimeout|ESOCKETTIMEDOUT|Client\.Timeout exceeded while awaiting headers"
                r"|timeout of (?P<timeout>\d+ ?ms) exceeded|timeout awaiting '?response'?|\bReadTimeout\b"
            ),
        ),
        summary="Read timeout: {host} accepted the connection but sent no response within {timeout}",
        root_cause=(
            "The connection to {host} was established, so the dependency is reachable, but it did not send "
            "a response in time. The dependency is slow or overloaded for this request (heavy work on its "
            "side, a large response, a cold start), or the timeout is too tight for this endpoint. The "
            "upstream may still complete the work, so blindly retrying a non-idempotent call can "
            "duplicate it."
        ),
        fix=(
            "1. Check the dependency's latency for this endpoint (its dashboards/status page, your APM).\n"
            "2. Set the read timeout from the endpoint's real p99 latency plus margin, and keep it below "
            "your own request/worker timeout.\n"
            "3. Retry only idempotent calls (or use idempotency keys), with backoff; move slow calls to a "
            "background job."
        ),
        defaults={"host": "the upstream server", "timeout": "the read timeout"},
    ),
    Rule(
        id="upstream-timeout",
        category="upstream_timeout",
        severity="medium",
        confidence=0.8,
        match=(
            Sig(text=r"ConnectTimeout(?:Error)?|Connection to (?P<host>[\w.-]+) timed out", confidence=0.85),
            Sig(type=r"ConnectTimeout\w*|ConnectTimeoutException|Net::OpenTimeout|OpenTimeout"),
            Sig(
                text=r"connect(?:ion)? timed out|\bETIMEDOUT\b|\[Errno 110\]|context deadline exceeded"
                r"|i/o timeout|Net::OpenTimeout|Timeout was reached|\bconnect timeout\b|Operation timed out"
                r"|deadline exceeded"
            ),
        ),
        summary="An outbound call to {host} timed out",
        root_cause=(
            "The call to {host} did not complete within its timeout. A connect timeout (`ETIMEDOUT`, "
            "`Connection timed out`, `ConnectTimeout`) means nothing answered at all: the host is down, the "
            "address is wrong, or a firewall/security group (including this app's egress rules) silently "
            "drops the traffic. An overall deadline means the dependency was reachable but too slow."
        ),
        fix=(
            "1. From the app's container: `curl -v --max-time 10 URL` or `nc -vz HOST PORT`, to tell "
            "'unreachable' from 'slow'.\n"
            "2. Check the dependency's status and any recent network, firewall or egress change.\n"
            "3. Keep explicit connect and read timeouts on every client, retry idempotent calls with "
            "backoff, and degrade gracefully (cached data, 503) while the dependency is out."
        ),
        defaults={"host": "an upstream service"},
    ),
    Rule(
        id="connection-reset",
        category="connection_reset",
        severity="medium",
        confidence=0.8,
        match=(
            Sig(
                text=r"Connection reset by peer|\bECONNRESET\b|\[Errno 104\]|socket hang up|\[WinError "
                r"10054\]|connection was forcibly closed|Remote end closed connection without response"
                r"|RemoteDisconnected|ServerDisconnectedError|Server disconnected|Connection aborted"
                r"|EOF occurred in violation of protocol|unexpected EOF"
            ),
            Sig(type=r"ConnectionResetError|ConnectionAbortedError|RemoteDisconnected"),
        ),
        summary="The other side reset the connection[[ to {addr}]] mid-request",
        root_cause=(
            "The peer closed the TCP connection abruptly while this app was using it. Common causes: "
            "reusing a keep-alive connection the server or load balancer had already closed (its idle "
            "timeout is shorter than the client pool's), the upstream process crashed or restarted "
            "mid-request, or a proxy/NAT dropped the connection."
        ),
        fix=(
            "1. Make the client's keep-alive idle time shorter than the server/load balancer's idle timeout, "
            "or validate pooled connections before use.\n"
            "2. Retry idempotent requests once on a reset.\n"
            "3. Check the peer's logs for crashes or restarts at the time of the event."
        ),
    ),
    Rule(
        id="broken-pipe",
        category="connection_reset",
        severity="low",
        confidence=0.8,
        match=(
            Sig(text=r"Broken pipe|\bEPIPE\b|\[Errno 32\]|ClientDisconnect(?:ed)?|ClientAbortException"),
            Sig(type=r"BrokenPipeError"),
        ),
        summary="Broken pipe: the app wrote to a connection the other end had already closed",
        root_cause=(
            "If this happened while sending the HTTP response, the client (a browser, mobile app, or a proxy "
            "with a shorter timeout) gave up before the response was ready — a symptom of a slow endpoint, "
            "not a bug in the write itself. If it happened on an outbound or database socket, that peer "
            "closed the connection (restart, idle timeout)."
        ),
        fix=(
            "1. Check where it was raised ({culprit}): writing the response (client gone: look at this "
            "endpoint's latency and the proxy's timeout) or an outbound/DB socket (use pool pre-ping and "
            "keep-alive settings that match the peer).\n"
            "2. Make the endpoint faster, or move the work to a background job, so clients stop giving up.\n"
            "3. Treat client disconnects as expected: log them at info level instead of reporting errors."
        ),
    ),
    Rule(
        id="connection-refused",
        category="connection_refused",
        severity="high",
        confidence=0.8,
        match=(
            Sig(text=r"(?:ECONNREFUSED|Connection refused)[^\n]*?(?P<addr>\[?[\w.:-]{1,253}\]?:\d{2,5})\b"),
            Sig(text=_REFUSED + r"|\[WinError 10061\]|Errno::ECONNREFUSED|ConnectException"),
            Sig(type=r"ConnectionRefusedError|ConnectException"),
        ),
        summary="Connection refused by {addr}[[ (port {port} is usually {service})]]",
        root_cause=(
            "The host was reachable but nothing accepted connections on that port: the target service is "
            "down, restarting or crash-looping, it listens on another port or only on localhost, or the "
            "configured address is wrong for this environment (e.g. `localhost` inside a container)."
        ),
        fix=(
            "1. Check the target is running and listening: `ss -ltnp` on its host, `docker ps` / `kubectl "
            "get pods`, its health endpoint.\n"
            "2. Verify the address the app is configured with for this environment; inside containers use "
            "the service name.\n"
            "3. If the service crashed, its own logs hold the real error; let the app wait for its "
            "dependencies at startup (health checks, retries)."
        ),
        defaults={"addr": "the target service"},
    ),
    Rule(
        id="network-unreachable",
        category="network_unreachable",
        severity="high",
        confidence=0.8,
        match=(
            Sig(
                text=r"Network is unreachable|No route to host|\bEHOSTUNREACH\b|\bENETUNREACH\b|\[Errno "
                r"11[03]\]"
            ),
        ),
        summary="No network route to {addr}",
        root_cause=(
            "The operating system has no route to the target: the host is down or its address changed, the "
            "container/VM has no network (or no IPv6 while the name resolved to an IPv6 address), or a "
            "firewall answers with 'host unreachable'."
        ),
        fix=(
            "1. From the app's container: `ip route`, `ping HOST`, `nc -vz HOST PORT`.\n"
            "2. Check the target's address and the network/VPC routing and firewall rules between them.\n"
            "3. If IPv6 is involved, prefer IPv4 or enable IPv6 networking."
        ),
        defaults={"addr": "the target host"},
    ),
    # ---- configuration and deployment ------------------------------------------------------------
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
    # ---- everyday code bugs ----------------------------------------------------------------------
    Rule(
        id="recursion",
        category="recursion",
        severity="medium",
        confidence=0.9,
        match=(
            Sig(type=r"RecursionError|StackOverflowError|SystemStackError"),
            Sig(
                text=r"maximum recursion depth exceeded|Maximum call stack size exceeded|StackOverflowError"
                r"|stack level too deep|goroutine stack exceeds|fatal error: stack overflow"
            ),
        ),
        summary="Runaway recursion exhausted the call stack",
        root_cause=(
            "A function keeps calling itself (directly or through a cycle) without reaching a base case, "
            "until the runtime's stack limit is hit.[[ The repeating frame is {repeating}.]] Typical causes: "
            "a missing or wrong base case, cyclic data (a parent/child loop, a self-referencing object being "
            "serialised), a property, `__getattr__` or setter that calls itself, or hooks/signals that "
            "trigger each other."
        ),
        fix=(
            "1. Follow the repeating frames in the stack trace to find the cycle and the input that "
            "triggers it.\n"
            "2. Fix the termination condition, or track visited nodes for cyclic data.\n"
            "3. Rewrite deep recursion iteratively if the depth is legitimately large; do not just raise "
            "the recursion limit."
        ),
    ),
    Rule(
        id="orm-detached",
        category="orm_session",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"lazy load operation of attribute '(?P<attr>[^'\n]+)' cannot proceed"),
            Sig(
                text=r"DetachedInstanceError|is not bound to a Session|MissingGreenlet|greenlet_spawn has"
                r" not been called|LazyInitializationException|could not initialize proxy - no Session"
            ),
        ),
        summary="An ORM attribute[[ ({attr})]] was lazy-loaded outside its session",
        root_cause=(
            "An ORM object's lazy-loaded attribute was accessed after its session/transaction closed (or,"
            " with async SQLAlchemy, implicitly outside the async context), so the ORM could not load it."
        ),
        fix=(
            "1. Load what is needed eagerly in the query (`selectinload`/`joinedload`, `JOIN FETCH`) or "
            "access it while the session is open.\n"
            "2. Return plain data (DTOs/schemas) from the data layer instead of live ORM objects.\n"
            "3. With SQLAlchemy, consider `expire_on_commit=False` for objects used after commit; with "
            "asyncio never rely on lazy loading."
        ),
    ),
    Rule(
        id="null-reference",
        category="null_reference",
        severity="medium",
        confidence=0.9,
        match=(
            Sig(
                type=r"AttributeError",
                text=r"'(?P<nullish>NoneType)' object has no attribute '(?P<attr>[^'\n]+)'",
            ),
            Sig(text=r"'(?P<nullish>NoneType)' object (?:has no attribute '(?P<attr>[^'\n]+)'|is not \w+)"),
            Sig(
                text=r"Cannot read propert(?:y|ies) of (?P<nullish>undefined|null)(?: \(reading "
                r"'(?P<attr>[^'\n]+)'\))?"
            ),
            Sig(text=r"Cannot read property '(?P<attr>[^'\n]+)' of (?P<nullish>undefined|null)"),
            Sig(
                text=r"Cannot set propert(?:y|ies) of (?P<nullish>undefined|null)(?: \(setting "
                r"'(?P<attr>[^'\n]+)'\))?"
            ),
            Sig(
                text=r"(?P<nullish>undefined|null) is not an object \(evaluating '(?P<attr>[^'\n]+)'\)",
                confidence=0.85,
            ),
            Sig(text=r"undefined method [`'](?P<attr>[^`'\s]+)' for (?P<nullish>nil)\b", confidence=0.9),
            Sig(text=r"(?P<nullish>nil) pointer dereference"),
            Sig(text=r"NullPointerException(?::\s*(?P<detail>[^\n]+))?", confidence=0.85),
            Sig(
                text=r"NullReferenceException|Object reference not set to an instance of an object",
                confidence=0.85,
            ),
            Sig(text=r"Call to a member function (?P<attr>\w+)\(\) on (?P<nullish>null)"),
            Sig(text=r"\bNoneType\b", confidence=0.7),
        ),
        summary="{nullish} was used as an object[[ when accessing {attr}]]",
        root_cause=(
            "The code dereferenced a value that was {nullish}[[ ({detail})]]. Usually a lookup returned "
            "nothing — a query with no row, a missing dict/JSON field, an optional relation, a cache miss, a "
            "failed regex match — and the result was used without a check; or a function has a path that "
            "returns nothing."
        ),
        fix=(
            "1. At {culprit}, find the expression that was {nullish}[[ (the one whose {attr} was read)]] and "
            "trace where it comes from.\n"
            "2. Handle the empty case explicitly: a 404 or validation error when a record is missing, or a "
            "default — instead of a 500.\n"
            "3. Add a regression test with the missing value; `Optional` type hints / strict null checks "
            "catch the rest."
        ),
    ),
    Rule(
        id="missing-key",
        category="missing_key",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(type=r"KeyError", text=r"^['\"]?(?P<key>[^\n]+?)['\"]?$"),
            Sig(text=r"KeyError: ['\"]?(?P<key>[^'\"\n]+)['\"]?", confidence=0.8),
            Sig(text=r"Undefined (?:index|array key|offset):?\s*['\"]?(?P<key>[^'\"\n]+)['\"]?"),
            Sig(text=r"key not found: (?P<key>\S+)"),
            Sig(type=r"KeyError", confidence=0.75),
        ),
        summary="Key {key} was missing from a dict/mapping",
        root_cause=(
            "The code indexes a mapping with {key}, and this input did not contain it. Typical sources: a "
            "request body, query or webhook payload that omits an optional field, a third-party API response "
            "whose shape changed, a config dict without a default, or a cached entry in an older format."
        ),
        fix=(
            "1. At {culprit}, decide whether {key} is required: if so, validate the input at the boundary "
            "(schema/serializer) and answer 400/422 naming the field; if optional, use `.get()` with a "
            "default.\n"
            "2. If the data comes from an external API, validate its shape and handle the missing field.\n"
            "3. Add a test with a payload that lacks the key."
        ),
    ),
    Rule(
        id="index-out-of-range",
        category="index_out_of_range",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"Index (?P<index>-?\d+) out of bounds for length (?P<length>\d+)"),
            Sig(text=r"index out of range \[(?P<index>-?\d+)\] with length (?P<length>\d+)"),
            Sig(
                text=r"(?:list|tuple|string|bytearray) index out of range|IndexOutOfBoundsException"
                r"|ArrayIndexOutOfBoundsException|index out of range|Undefined offset"
            ),
            Sig(type=r"IndexError", confidence=0.8),
        ),
        summary="An index past the end of a sequence was read[[ (index {index}, length {length})]]",
        root_cause=(
            "The code assumed a list/array had more elements than it did — most often `items[0]` on an empty "
            "result (no rows, an empty API list, a `split()` that produced fewer parts) or an off-by-one "
            "in a loop."
        ),
        fix=(
            "1. At {culprit}, check the length (or use a safe accessor like `.first()` / `next(iter(x), "
            "None)`) before indexing.\n"
            "2. Handle the empty case explicitly (404, a default) instead of a 500.\n"
            "3. Add a test with an empty/short input."
        ),
    ),
    Rule(
        id="bad-json",
        category="bad_json",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(type=r"JSONDecodeError", confidence=0.9),
            Sig(
                text=r"Unexpected token '?(?P<token>[^\s',]+)'?,?[^\n]*(?:in JSON|is not valid JSON)",
                confidence=0.9,
            ),
            Sig(text=r"Unexpected end of JSON input|\bis not valid JSON\b", confidence=0.9),
            Sig(text=r"invalid character '(?P<token>[^'\n])' looking for beginning of value"),
            Sig(
                text=r"Unexpected character \('(?P<token>[^'\n])' \(code \d+\)\)|Unrecognized token "
                r"'(?P<token2>[^'\n]+)'"
            ),
            Sig(
                text=r"JSONDecodeError|JSON::ParserError|JsonParseException|JSON\.parse|unexpected end of"
                r" JSON input"
            ),
            Sig(
                text=r"Expecting (?:value|property name enclosed in double quotes|',' delimiter): line "
                r"\d+ column \d+"
                r"|Extra data: line \d+ column \d+|Unterminated string starting at|Invalid control "
                r"character at",
                confidence=0.8,
            ),
        ),
        summary="A JSON payload could not be parsed[[ — {body_hint}]]",
        root_cause=(
            "The text handed to the JSON parser is not valid JSON.[[ {body_hint_long}]] Common sources: an "
            "upstream call that returned an HTML error page or an empty body (the status code was not "
            "checked before parsing), a request body sent with the wrong `Content-Type` or truncated, or a "
            "stored value written in another format (a Python repr, single quotes)."
        ),
        fix=(
            "1. At {culprit}, log the status code, `Content-Type` and the first bytes of the body (redacted) "
            "to see what actually arrived.\n"
            "2. Check the HTTP status and `Content-Type` before parsing a response, and raise a clear "
            "upstream error otherwise.\n"
            "3. For client input, answer 400 on invalid JSON instead of 500."
        ),
    ),
    Rule(
        id="serialization",
        category="serialization",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"Object of type '?(?P<type_name>[\w.]+)'? is not JSON serializable", confidence=0.9),
            Sig(
                text=r"Converting circular structure to JSON|Do not know how to serialize a "
                r"(?P<type_name>BigInt)",
                confidence=0.9,
            ),
            Sig(text=r"(?:Can't|cannot) pickle (?P<type_name>[^\n:]+)"),
            Sig(text=r"No serializer found for class (?P<type_name>[\w.$]+)"),
            Sig(text=r"json: unsupported (?:type|value): (?P<type_name>\S+)"),
            Sig(text=r"is not JSON serializable|PicklingError|EncodeError|SerializationException"),
            Sig(type=r"PicklingError|EncodeError|SerializationException|InvalidDefinitionException"),
        ),
        summary="A value[[ of type {type_name}]] could not be serialised",
        root_cause=(
            "The code tried to encode an object the serializer does not support (e.g. `datetime`, `Decimal`, "
            "`UUID`, `set`, bytes, ORM instances, `BigInt`) or a structure with a reference cycle. This "
            "often appears when a new field is added to a response or task payload, or an ORM object is "
            "returned or queued instead of plain data."
        ),
        fix=(
            "1. Convert the value explicitly before encoding (ISO 8601 strings for dates, `str` for UUID and "
            "Decimal, a schema/serializer for models) or use an encoder that supports it (FastAPI "
            "`jsonable_encoder`, `orjson`).\n"
            "2. Pass ids and plain dicts to task queues, not objects.\n"
            "3. Add a test that serialises this payload."
        ),
    ),
    Rule(
        id="division-by-zero",
        category="division_by_zero",
        severity="medium",
        confidence=0.9,
        match=(
            Sig(type=r"ZeroDivisionError|DivideByZeroException|DivisionByZeroError"),
            Sig(
                text=r"ZeroDivisionError|division by zero|divided by 0|division or modulo by zero|/ by zero"
                r"|integer divide by zero|divide by zero|DivisionByZeroError"
            ),
        ),
        summary="Division by zero",
        root_cause=(
            "A divisor was 0 — typically a count, total, duration or rate computed from data that can "
            "legitimately be empty (no items, zero quantity, equal start and end times) or a 0 default for "
            "a missing value."
        ),
        fix=(
            "1. At {culprit}, decide what the result should be when the divisor is 0 (0, none/'n/a', or a "
            "validation error) and handle that case explicitly.\n"
            "2. Validate inputs that must be non-zero at the boundary.\n"
            "3. Add a test with the empty/zero case."
        ),
    ),
    Rule(
        id="encoding",
        category="encoding",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"'(?P<codec>[\w-]+)' codec can't (?:decode|encode)"),
            Sig(text=r"invalid byte sequence for encoding \"(?P<codec>[^\"\n]+)\""),
            Sig(
                text=r"UnicodeDecodeError|UnicodeEncodeError|MalformedInputException|incompatible character "
                r"encodings|invalid UTF-8|Invalid byte sequence"
            ),
        ),
        summary="Text could not be decoded/encoded[[ with codec {codec}]]",
        root_cause=(
            "Bytes were decoded with the wrong character set (e.g. a Latin-1 or binary file read as UTF-8), "
            "or text was encoded into a charset that cannot represent it (often an ASCII default from a "
            "missing locale such as `LANG=C` in a container)."
        ),
        fix=(
            "1. Find the source of the bytes at {culprit} (upload, file, upstream response) and decode "
            "with its "
            'real encoding, or `errors="replace"` where exact text does not matter.\n'
            '2. Pass `encoding="utf-8"` explicitly when opening files; set `LANG=C.UTF-8` / '
            "`PYTHONIOENCODING` in the image.\n"
            "3. Treat binary files as bytes, not text."
        ),
    ),
    Rule(
        id="file-not-found",
        category="file_not_found",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"No such file or directory(?::\s*'(?P<path>[^'\n]+)')?"),
            Sig(text=r"ENOENT: no such file or directory, \w+ '(?P<path>[^'\n]+)'"),
            Sig(text=r"open (?P<path>\S+): no such file or directory"),
            Sig(text=r"FileNotFoundException: (?P<path>\S+)"),
            Sig(text=r"NoSuchFileException: (?P<path>\S+)"),
            Sig(text=r"@ rb_sysopen - (?P<path>\S+)"),
            Sig(text=r"(?:TemplateNotFound|TemplateDoesNotExist):? (?P<path>\S+)", confidence=0.8),
            Sig(type=r"FileNotFoundError|NoSuchFileException|FileNotFoundException|ENOENT"),
        ),
        summary="File {path} does not exist",
        root_cause=(
            "The code opened {path}, which does not exist on this host/container. Typical causes: a relative "
            "path resolved against an unexpected working directory, a file present in development but not "
            "shipped in the image (`.dockerignore`, a missing `COPY`, not in package data), a volume not "
            "mounted in this environment, or a file written by another instance (no shared storage) or "
            "removed by a temp-file cleaner."
        ),
        fix=(
            "1. Check inside the running container: `ls -l PATH` and the process's working directory.\n"
            "2. Build absolute paths from the module location (`Path(__file__).parent`) or a setting; "
            "ship the file in the image or mount the volume.\n"
            "3. If the file is optional, handle its absence explicitly."
        ),
        defaults={"path": "a file the code opened"},
    ),
    Rule(
        id="permission-denied",
        category="permission_denied",
        severity="high",
        confidence=0.85,
        match=(
            Sig(text=r"\[Errno 13\] Permission denied(?::\s*'(?P<path>[^'\n]+)')?"),
            Sig(text=r"EACCES: permission denied, \w+ '(?P<path>[^'\n]+)'"),
            Sig(text=r"listen EACCES: permission denied (?P<path>\S+)"),
            Sig(text=r"AccessDeniedException: (?P<path>\S+)"),
            Sig(text=r"open (?P<path>\S+): permission denied"),
            Sig(text=r"Errno::EACCES|\bEACCES\b|Permission denied"),
            Sig(type=r"PermissionError|AccessDeniedException"),
            Sig(text=r"Operation not permitted|\bEPERM\b", confidence=0.75),
        ),
        summary="The process was denied access to {path}",
        root_cause=(
            "The operating system refused the operation because the user the process runs as lacks "
            "permission on {path}. Common after switching the container to a non-root user, with a mounted "
            "volume owned by another UID, a read-only filesystem, a file created by root during the "
            "build, or binding a port below 1024 without privileges."
        ),
        fix=(
            "1. Check owner and mode: `ls -ld PATH` and `id` of the process user inside the container.\n"
            "2. Fix ownership in the image (`COPY --chown`, `chown` on the volume, `fsGroup` in "
            "Kubernetes) or write to a directory the user owns (configured, not hard-coded).\n"
            "3. Do not 'fix' it by running as root; grant only the access needed."
        ),
        defaults={"path": "a file or resource"},
    ),
    Rule(
        id="auth-token",
        category="authentication",
        severity="medium",
        confidence=0.8,
        match=(
            Sig(
                text=r"(?P<detail>ExpiredSignatureError|Signature has expired|jwt expired|TokenExpiredError"
                r"|InvalidSignatureError|Signature verification failed|JsonWebTokenError|jwt malformed"
                r"|InvalidTokenError|Not enough segments)"
            ),
        ),
        summary="Verifying an authentication token failed ({detail}) and surfaced as a server error",
        root_cause=(
            "A JWT/session token sent to this app was expired, malformed or signed with a different key, and "
            "the verification exception escaped the auth layer. Expired tokens are normal client behaviour; "
            "bad signatures for many users at once point to a rotated or mismatched signing key between "
            "instances or services."
        ),
        fix=(
            "1. Catch token verification errors in the auth layer and answer 401 (with `WWW-Authenticate`) "
            "instead of 500.\n"
            "2. If signatures are invalid, check that every instance/service uses the same signing key/JWKS "
            "and algorithm.\n"
            "3. Have clients refresh tokens before expiry; allow a little clock skew (`leeway`)."
        ),
    ),
    Rule(
        id="record-not-found",
        category="not_found",
        severity="medium",
        confidence=0.8,
        match=(
            Sig(text=r"\b(?P<model>\w{1,80}) matching query does not exist", confidence=0.85),
            Sig(text=r"Couldn't find (?P<model>\w+) with", confidence=0.85),
            Sig(
                text=r"No row was found when one was required|NoResultFound|RecordNotFound"
                r"|EntityNotFoundException|sql: no rows in result set|ObjectDoesNotExist|\bDoesNotExist\b"
            ),
            Sig(type=r"Http404|NotFound|NotFoundError|NotFoundException", confidence=0.6),
        ),
        summary="A lookup found no record[[ ({model})]] and the miss was not handled",
        root_cause=(
            "The code fetched a single record by id/key (`get()`, `.one()`, `find`, a scan expecting one "
            "row) "
            "and it did not exist — a deleted or never-created record, a stale id from a client, or data not "
            "yet committed/replicated. Unhandled, the miss becomes a server error instead of a 404."
        ),
        fix=(
            "1. If the record can legitimately be missing, answer 404 (`get_object_or_404`, `one_or_none()` "
            "plus an explicit 404).\n"
            "2. If it must exist, find why it does not (deleted by another flow, a wrong id, replica lag, "
            "reading before the writing transaction committed).\n"
            "3. Add a test for the missing-record case."
        ),
    ),
    Rule(
        id="concurrency",
        category="concurrency",
        severity="medium",
        confidence=0.8,
        match=(
            Sig(
                text=r"(?P<detail>dictionary changed size during iteration|Set changed size during iteration"
                r"|ConcurrentModificationException|concurrent map (?:writes|read and map write|iteration and "
                r"map write)|all goroutines are asleep - deadlock!|This event loop is already running"
                r"|attached to a different (?:event )?loop|Event loop is closed|DATA RACE)"
            ),
        ),
        summary="A concurrency bug: {detail}",
        root_cause=(
            "Shared state was modified while another part of the program was iterating over or using it (a "
            "collection changed during iteration, a map written from several goroutines/threads), or async "
            "code used an event loop it does not own. These bugs are timing-dependent, so they appear under "
            "load and are hard to reproduce."
        ),
        fix=(
            "1. At {culprit}, iterate over a copy (`list(d.items())`) or collect changes and apply them "
            "after the loop.\n"
            "2. Guard shared state with a lock/`sync.Mutex`, or use concurrent-safe structures; for asyncio, "
            "create clients inside the loop that uses them.\n"
            "3. Run the tests with a race detector (`go test -race`) or stress them concurrently."
        ),
    ),
    Rule(
        id="assertion",
        category="assertion",
        severity="medium",
        confidence=0.6,
        match=(
            Sig(type=r"AssertionError"),
            Sig(text=r"AssertionError|assertion failed|Assertion `[^\n]*' failed"),
        ),
        summary="An assertion failed: the code reached a state its author considered impossible",
        root_cause=(
            "An `assert`/invariant check failed: {error}. Either the invariant is wrong for some real input, "
            "or an earlier step produced an inconsistent state. (Python drops `assert` under `-O`, so "
            "production asserts are an unreliable guard.)"
        ),
        fix=(
            "1. At {culprit}, read the asserted condition and find the input that broke it.\n"
            "2. Replace the assert with explicit validation that raises a meaningful error (or handles the "
            "case).\n"
            "3. Add a test with that input."
        ),
    ),
    Rule(
        id="not-implemented",
        category="not_implemented",
        severity="medium",
        confidence=0.75,
        match=(
            Sig(type=r"NotImplementedError|UnsupportedOperationException|NotImplementedException"),
            Sig(text=r"NotImplementedError|UnsupportedOperationException"),
        ),
        summary="A code path that is not implemented was reached",
        root_cause=(
            "A placeholder (`raise NotImplementedError`) or an unsupported operation was hit in "
            "production: a "
            "branch for a case the author did not expect to happen, a missing override in a subclass, or an "
            "immutable collection being modified."
        ),
        fix=(
            "1. At {culprit}, see which input reached this branch.\n"
            "2. Implement it, or reject that input earlier with a clear 4xx error.\n"
            "3. Add a test for the case."
        ),
    ),
    Rule(
        id="native-crash",
        category="native_crash",
        severity="high",
        confidence=0.8,
        match=(
            Sig(
                text=r"(?P<detail>Segmentation fault|SIGSEGV|signal 11\b|Fatal Python error[^\n]*|core "
                r"dumped|SIGABRT|EXC_BAD_ACCESS)"
            ),
        ),
        summary="The process crashed in native code ({detail})",
        root_cause=(
            "A crash below the language runtime: a bug in a C extension or native library, incompatible "
            "binary wheels (built for another platform or library version), sharing a native client across "
            "fork()/threads, or memory corruption."
        ),
        fix=(
            "1. Enable `faulthandler` (Python) or core dumps to get the native stack; note which "
            "extension is on top.\n"
            "2. Upgrade/pin that extension and rebuild for this platform; do not share native clients "
            "across fork (create them after the worker forks).\n"
            "3. Reproduce under the same image and load."
        ),
    ),
    Rule(
        id="call-signature",
        category="type_error",
        severity="medium",
        confidence=0.75,
        match=(
            Sig(text=r"missing \d+ required (?:positional|keyword-only) arguments?: (?P<detail>[^\n]+)"),
            Sig(text=r"got an unexpected keyword argument '(?P<detail>[^'\n]+)'"),
            Sig(text=r"takes (?:\d+|from \d+ to \d+) positional arguments? but \d+ (?:was|were) given"),
            Sig(text=r"wrong number of arguments \(given \d+, expected \d+\)"),
        ),
        summary="A function was called with arguments that do not match its signature: {error}",
        root_cause=(
            "A caller and the called function disagree on the arguments[[ ({detail})]]: a caller was not "
            "updated after the signature changed, a library upgrade changed an API, or old and new code "
            "versions run side by side (e.g. background tasks queued by the previous release)."
        ),
        fix=(
            "1. At {culprit}, compare the call with the current signature (and the installed library "
            "version).\n"
            "2. Update the caller, or keep the old parameter working (a default/deprecated alias) until "
            "every producer is upgraded.\n"
            "3. Run a type checker in CI to catch call mismatches."
        ),
    ),
    Rule(
        id="type-error",
        category="type_error",
        severity="medium",
        confidence=0.6,
        match=(
            Sig(text=r"ClassCastException|interface conversion: ", confidence=0.75),
            Sig(
                text=r"unsupported operand type\(s\)|can only concatenate|must be str, not|is not a function",
                confidence=0.7,
            ),
            Sig(type=r"TypeError|AttributeError|NoMethodError|InvalidCastException"),
            Sig(text=r"\bTypeError\b|\bNoMethodError\b|\bAttributeError\b", confidence=0.55),
        ),
        summary="A value had the wrong type: {error}",
        root_cause=(
            "An operation received a value of a type it does not support ({error}). Usually data from "
            "outside "
            "(JSON, form fields, query params and env vars are strings), a DB column or API field that "
            "can be null or changed type, or a function whose return type differs across branches."
        ),
        fix=(
            "1. At {culprit}, inspect the actual type and value of the operands.\n"
            "2. Convert and validate at the boundary (parse numbers and dates once, with a schema) so "
            "internal code gets the types it expects.\n"
            "3. Add type hints and run a type checker (mypy, pyright, TypeScript strict) in CI."
        ),
    ),
    Rule(
        id="validation",
        category="validation",
        severity="medium",
        confidence=0.6,
        match=(
            Sig(
                type=r"ValidationError",
                text=r"validation errors? for (?P<model>\w+)(?:\n(?P<field>[\w.\[\]]+))?",
                confidence=0.8,
            ),
            Sig(text=r"invalid literal for int\(\) with base \d+: '(?P<input>[^'\n]*)'", confidence=0.8),
            Sig(text=r"could not convert string to float: '(?P<input>[^'\n]*)'", confidence=0.8),
            Sig(text=r"NumberFormatException: For input string: \"(?P<input>[^\"\n]*)\"", confidence=0.8),
            Sig(
                text=r"strconv\.\w+: parsing \"(?P<input>[^\"\n]*)\": (?:invalid syntax|value out of range)",
                confidence=0.8,
            ),
            Sig(
                text=r"time data '(?P<input>[^'\n]*)' does not match format|Invalid isoformat string: "
                r"'(?P<input2>[^'\n]*)'",
                confidence=0.8,
            ),
            Sig(text=r"Validation failed: (?P<detail>[^\n]+)", confidence=0.8),
            Sig(
                type=r"ValueError|IllegalArgumentException|ArgumentError|ValidationError|InvalidArgument\w*",
                confidence=0.5,
            ),
            Sig(text=r"\bValueError\b|IllegalArgumentException|\bValidationError\b", confidence=0.5),
        ),
        summary="Input failed validation or conversion: {error}",
        root_cause=(
            "A value did not have the expected format or range[[ (input {input})]][[ (field {field} of "
            "{model})]], and the exception escaped as a server error. Either client input is parsed without "
            "validation at the API boundary, or internal data (database rows, upstream responses, config) "
            "holds an unexpected value."
        ),
        fix=(
            "1. Validate and parse input at the boundary (a request schema) and answer 400/422 naming the "
            "offending field instead of 500.\n"
            "2. If the value came from your own data or a dependency, find where the bad value was "
            "written or returned.\n"
            "3. Add a test with this input."
        ),
    ),
    # ---- guesses from wording alone: no driver message, no telling exception type ----------------
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
        match=(Sig(text=(_DB_WORDS, _REFUSED)),),
    ),
    _DB_CONNECT_FAILED,
    replace(
        _REDIS_CONNECTION,
        id="redis-connection-wording",
        confidence=0.55,
        match=(Sig(text=(r"\bredis\b", r"connect|timed? ?out|refused")),),
    ),
    Rule(
        id="timeout-generic",
        category="timeout",
        severity="medium",
        confidence=0.4,
        match=(
            Sig(type=r"TimeoutError|Timeout|\w*TimeoutException|TimeoutExpired|\w*Timeout"),
            Sig(text=r"timed out|timeout|deadline exceeded"),
        ),
        summary="An operation timed out; the event does not say what it was waiting for",
        root_cause=(
            "Something this code waited on (a network call, a database, a lock, a subprocess or a queue) did "
            "not answer in time: {error}. The rule-based analysis cannot tell which dependency from this "
            "event."
        ),
        fix=(
            "1. At {culprit}, identify the call that timed out and its timeout value.\n"
            "2. Check that dependency's health and latency at the time of the event.\n"
            "3. Give every external call an explicit timeout with a clear error message naming the "
            "dependency, so the next event says what was slow."
        ),
    ),
    Rule(
        id="connection-error-generic",
        category="connection_error",
        severity="medium",
        confidence=0.4,
        match=(
            Sig(
                text=r"Failed to establish a new connection|Max retries exceeded with url"
                r"|\bConnectionError\b|\bConnectError\b"
            ),
            Sig(type=r"ConnectionError|ConnectError|\w*ConnectionException"),
        ),
        summary="A network connection[[ to {host}]] failed",
        root_cause=(
            "An outbound connection failed, but the event does not include the operating-system reason "
            "(refused, timeout, reset, DNS): {error}. The target may be down, unreachable from this network, "
            "or misconfigured for this environment."
        ),
        fix=(
            "1. From the app's container: `curl -v URL` or `nc -vz HOST PORT` against the target.\n"
            "2. Check the target's health and the configured address for this environment.\n"
            "3. Log the full exception chain so the underlying reason is visible next time."
        ),
    ),
    Rule(
        id="gateway-status",
        category="upstream_error",
        severity="medium",
        confidence=0.3,
        match=(Sig(status=(502, 503, 504)),),
        summary="No recognisable cause, but the status suggests a dependency or backend was unavailable",
        root_cause=(
            "Only the status code points anywhere here: 502 Bad Gateway, 503 Service Unavailable and 504 "
            "Gateway Timeout usually mean a proxy could not get a timely answer from the service behind "
            "it, or "
            "the app itself reported a dependency outage or overload. This is an inference from the status "
            "code alone."
        ),
        fix=(
            "1. Check the health of the backend/dependencies behind {route} at the time of the event, and "
            "the proxy's error log.\n"
            "2. Look for deploys, restarts or saturation (CPU, workers, connections) at that time.\n"
            "3. Send the underlying exception with the event so its cause can be identified."
        ),
    ),
    Rule(
        id="http-not-found",
        category="not_found",
        severity="low",
        confidence=0.5,
        match=(Sig(status=(404, 410)),),
        summary="The requested resource does not exist",
        root_cause=(
            "A client requested a URL or record that does not exist: a stale link or bookmark, a client "
            "calling a removed or renamed API route, a deleted record, or a scanner/bot probing paths."
        ),
        fix=(
            "1. If the route should exist, check the router/prefix configuration and recent renames.\n"
            "2. If clients still call an old route, add a redirect or keep a compatibility route.\n"
            "3. Otherwise this is expected traffic: consider not reporting 404s as errors."
        ),
    ),
)

# --------------------------------------------------------------------------------------------------
# Facts: values pulled out of the event for the templates.
# --------------------------------------------------------------------------------------------------

# Tried in order, over the matched exception's value first, then all of the event's text.
_EXTRACTORS: dict[str, tuple[str, ...]] = {
    "url": (r"(?P<url>https?://[^\s'\"<>()\[\]{}`,]+)",),
    "addr": (
        r"connection to server at \"(?P<host>[^\"\n]+)\"(?: \([^)\n]*\))?, port (?P<port>\d+)",
        r"host='(?P<host>[^'\n]+)', port=(?P<port>\d+)",
        r"on host \"(?P<host>[^\"\n]+)\"[^?]{0,120}?on port (?P<port>\d+)",
        r"(?:ECONNREFUSED|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|dial tcp|connecting to|connect to|Connection to"
        r"|Error connecting to Redis on|connect to host|open TCP connection to|reading from)"
        r" (?P<addr>\[?[\w.:-]{1,253}?\]?:\d{1,5})\b",
        r"MySQL server on '(?P<addr>[^'\n]+)'",
        r"\b(?P<addr>(?:\d{1,3}\.){3}\d{1,3}:\d{2,5})\b",
    ),
    "host": (
        r"host='(?P<host>[^'\n]+)'",
        r"Failed to resolve '(?P<host>[^'\n]+)'",
        r"(?:ENOTFOUND|EAI_AGAIN) (?P<host>[\w.-]+)",
        r"lookup (?P<host>[\w.-]+)(?: on \S+)?: no such host",
        r"could not translate host name \"(?P<host>[^\"\n]+)\"",
        r"Connection to (?P<host>[\w.-]+) timed out",
    ),
    "path": (
        r"No such file or directory: '(?P<path>[^'\n]+)'",
        r"Permission denied: '(?P<path>[^'\n]+)'",
        r"(?:ENOENT|EACCES|ENOSPC): [^,\n]+, \w+ '(?P<path>[^'\n]+)'",
    ),
    "timeout": (
        r"\((?:read |connect )?timeout=(?P<timeout>[\d.]+)\)",
        r"timed out after (?P<timeout>\d+(?:\.\d+)? ?(?:ms|s|sec|seconds?))\b",
        r"timeout of (?P<timeout>\d+ ?ms) exceeded",
    ),
}

_SERVICE_PORTS = {
    "5432": "PostgreSQL",
    "3306": "MySQL",
    "1433": "SQL Server",
    "1521": "Oracle",
    "6379": "Redis",
    "27017": "MongoDB",
    "5672": "RabbitMQ",
    "9200": "Elasticsearch",
    "11211": "Memcached",
    "9092": "Kafka",
    "2181": "ZooKeeper",
    "8500": "Consul",
}

_DB_ENGINES = (
    (
        "PostgreSQL",
        r"postgres|psycopg|asyncpg|\bPG::|\bpq: |libpq|PSQLException|pg_hba|\bpg8000\b|:5432\b|port 5432",
    ),
    ("MySQL", r"mysql|mariadb|pymysql|:3306\b|\((?:1040|1045|1062|1205|1213|1452|2002|2003|2006|2013),"),
    ("SQLite", r"sqlite"),
    ("SQL Server", r"sql ?server|mssql|pyodbc|:1433\b"),
    ("Oracle", r"\boracle\b|\bORA-\d+"),
    ("MongoDB", r"mongo|E11000"),
)

# Facts we compute ourselves (trusted text); every other fact is event text and goes in a code span.
_TRUSTED_FACTS = frozenset({"db", "service", "body_hint", "body_hint_long", "object", "status"})

_OPTIONAL = re.compile(r"\[\[(.+?)\]\]", re.S)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_TRAILING_DIGITS = re.compile(r"\d+$")


@cache
def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.MULTILINE)


@cache
def _type_rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@dataclass
class _Exc:
    """One exception of the chain, prepared for matching."""

    short_type: str
    full_type: str
    value: str
    line: str  # "Type: value", the form rules search when no type is given
    frames: list[Frame]
    code: str


@dataclass
class _Evidence:
    """What the rules may look at, gathered once from the event."""

    event: NormalizedEvent
    exceptions: list[_Exc]  # oldest (the cause) first
    lines: list[tuple[str, _Exc | None]]  # searchable text, each with the exception it belongs to
    text: str
    code: str
    route: str | None

    @property
    def frames(self) -> list[Frame]:
        return [frame for exc in self.exceptions for frame in exc.frames]


@dataclass
class _Hit:
    rule: Rule
    sig: Sig
    confidence: float
    exc: _Exc | None
    facts: dict[str, str]


def _clip(text: str | None) -> str:
    return (text or "")[:MAX_TEXT]


def _frame_code(frames: list[Frame]) -> str:
    return "\n".join(
        " ".join(part for part in (f.module, f.filename or f.abs_path, f.function, f.context_line) if part)
        for f in frames
    )


def _prepare_exception(exc: ExceptionInfo) -> _Exc:
    type_name = (exc.type or "").strip()
    short = re.split(r"\.|::", type_name)[-1] if type_name else ""
    full = (
        f"{exc.module}.{type_name}"
        if exc.module and "." not in type_name and "::" not in type_name
        else type_name
    )
    value = _clip(exc.value)
    line = f"{type_name}: {value}" if type_name and value else type_name or value
    return _Exc(short, full, value, line, list(exc.frames), _frame_code(exc.frames))


def _route(event: NormalizedEvent) -> str | None:
    request = event.request or {}
    method = str(request.get("method") or "").upper()
    path = request.get("path")
    if not path and request.get("url"):
        path = urlsplit(str(request["url"])).path or None
    if path:
        path = str(path).split("?", 1)[0]
        return f"{method} {path}".strip()
    return event.transaction or None


def _gather(event: NormalizedEvent, issue_title: str) -> _Evidence:
    exceptions = [_prepare_exception(exc) for exc in event.exceptions]
    lines: list[tuple[str, _Exc | None]] = [(exc.line, exc) for exc in exceptions if exc.line]
    if event.message:
        lines.append((_clip(event.message), None))
    for key in ("stack", "stacktrace", "traceback"):
        stack = (event.extra or {}).get(key)
        if isinstance(stack, str) and stack.strip():
            lines.append((_clip(stack), None))
    if not lines and issue_title:
        lines.append((_clip(issue_title), None))
    return _Evidence(
        event=event,
        exceptions=exceptions,
        lines=lines,
        text="\n".join(text for text, _ in lines),
        code="\n".join(exc.code for exc in exceptions if exc.code),
        route=_route(event),
    )


def _groups(match: re.Match[str]) -> dict[str, str]:
    return {
        _TRAILING_DIGITS.sub("", name): value.strip()
        for name, value in match.groupdict().items()
        if value and value.strip()
    }


def _search_all(patterns: tuple[str, ...], text: str) -> dict[str, str] | None:
    facts: dict[str, str] = {}
    for pattern in patterns:
        match = _rx(pattern).search(text)
        if match is None:
            return None
        facts = {**_groups(match), **facts}
    return facts


def _match_sig(sig: Sig, ev: _Evidence) -> tuple[_Exc | None, dict[str, str]] | None:
    event = ev.event
    if sig.status and event.status_code not in sig.status:
        return None
    if sig.logger and not (event.logger and _rx(sig.logger).search(event.logger)):
        return None
    texts = (sig.text,) if isinstance(sig.text, str) else sig.text
    if sig.type:
        type_rx = _type_rx(sig.type)
        for exc in ev.exceptions:
            if not (type_rx.fullmatch(exc.short_type) or type_rx.fullmatch(exc.full_type)):
                continue
            facts = _search_all(texts, exc.value)
            if facts is None:
                continue
            if sig.code and not _rx(sig.code).search(exc.code or ev.code):
                continue
            return exc, facts
        return None
    owner: _Exc | None = None
    facts = {}
    if texts:
        found = _search_all(texts, ev.text)
        if found is None:
            return None
        facts = found
        first = _rx(texts[0])
        owner = next((exc for text, exc in ev.lines if first.search(text)), None)
    if sig.code and not _rx(sig.code).search(ev.code):
        return None
    return owner, facts


def _find_rule(ev: _Evidence) -> _Hit | None:
    for rule in RULES:
        for index, sig in enumerate(rule.match):
            matched = _match_sig(sig, ev)
            if matched is None:
                continue
            exc, facts = matched
            # The rule's other signatures may name what this one did not (a path, a setting's name).
            for other in rule.match[index + 1 :]:
                more = _match_sig(other, ev)
                if more is not None:
                    facts = {**more[1], **facts}
            confidence = sig.confidence if sig.confidence is not None else rule.confidence
            return _Hit(rule, sig, confidence, exc, facts)
    return None


def _culprit_frame(ev: _Evidence, exc: _Exc | None) -> Frame | None:
    chains = ([exc] if exc else []) + list(reversed(ev.exceptions))
    for chain in chains:
        in_app = [f for f in chain.frames if f.in_app]
        if in_app:
            return in_app[-1]
    for chain in chains:
        usable = [f for f in chain.frames if f.in_app is not False] or chain.frames
        if usable:
            return usable[-1]
    return None


def _describe_frame(frame: Frame) -> str | None:
    where = frame.filename or frame.abs_path or frame.module
    if not where:
        return frame.function
    if frame.lineno:
        where = f"{where}:{frame.lineno}"
    return f"{where} in {frame.function}" if frame.function else where


def _repeating_frame(ev: _Evidence) -> str | None:
    counts = Counter(
        (f.filename or f.module or "", f.function or "") for f in ev.frames if f.function or f.filename
    )
    if not counts:
        return None
    (where, function), seen = counts.most_common(1)[0]
    return f"{where} in {function}".strip() if seen >= 3 else None


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0]


def _raw_facts(ev: _Evidence, exc: _Exc | None, found: dict[str, str]) -> dict[str, str]:
    facts = dict(found)
    scope = (exc.value + "\n" if exc else "") + ev.text
    for name, patterns in _EXTRACTORS.items():
        if name in facts:
            continue
        for pattern in patterns:
            match = _rx(pattern).search(scope)
            if match:
                facts = {**_groups(match), **facts}
                break
    if "addr" not in facts and "host" in facts and "port" in facts:
        facts["addr"] = f"{facts['host']}:{facts['port']}"
    if "addr" in facts:
        host, _, port = facts["addr"].rpartition(":")
        if port.isdigit() and host:
            facts.setdefault("host", host.strip("[]"))
            facts.setdefault("port", port)
    if "url" in facts:
        facts["url"] = facts["url"].split("?", 1)[0].rstrip(".;:'\"")
        facts.setdefault("host", urlsplit(facts["url"]).hostname or "")
    if facts.get("port") in _SERVICE_PORTS:
        facts["service"] = _SERVICE_PORTS[facts["port"]]
    if facts.get("timeout", "").replace(".", "", 1).isdigit():
        facts["timeout"] += " s"
    if "table" in facts or "column" in facts:
        column, table = facts.get("column"), facts.get("table")
        facts["object"] = (
            f"column {code_span(column)}" + (f" of table {code_span(table)}" if table else "")
            if column
            else f"table {code_span(table)}"
        )
    if facts.get("nullish") == "NoneType" or "NoneType" in ev.text:
        facts["nullish"] = "None"
    elif "nullish" not in facts and re.search(r"Null(?:Pointer|Reference)Exception", ev.text):
        facts["nullish"] = "null"

    where = " ".join([ev.text, ev.code, *(e.full_type for e in ev.exceptions)])
    facts["db"] = next((name for name, rx in _DB_ENGINES if _rx(rx).search(where)), "")

    token = facts.get("token", "")
    lowered = ev.text.lower()
    if token.startswith("<") or "<!doctype" in lowered or "<html" in lowered:
        facts["body_hint"] = "the body was HTML, not JSON"
        facts["body_hint_long"] = (
            "The body starts with `<`: it was HTML (typically an error or login page from a proxy, load "
            "balancer or the upstream itself), not JSON."
        )
    elif re.search(r"\(char 0\)|position 0\b|Unexpected end of JSON input|line 1 column 1 ", ev.text, re.I):
        facts["body_hint"] = "the body was empty or not JSON at all"
        facts["body_hint_long"] = (
            "Parsing failed at the very first character, so the body was empty or not JSON at all."
        )

    error_source = exc.line if exc else (ev.lines[0][0] if ev.lines else "")
    facts["error"] = _first_line(error_source)
    frame = _culprit_frame(ev, exc)
    if frame is not None:
        facts["culprit"] = _describe_frame(frame) or ""
        facts["context_line"] = (frame.context_line or "").strip()
    facts["repeating"] = _repeating_frame(ev) or ""
    facts["route"] = ev.route or ""
    if ev.event.status_code is not None:
        facts["status"] = str(ev.event.status_code)
    return {name: value for name, value in facts.items() if value}


def _render_facts(raw: dict[str, str]) -> dict[str, str]:
    return {name: value if name in _TRUSTED_FACTS else code_span(value) for name, value in raw.items()}


def _fill(template: str, facts: dict[str, str], defaults: dict[str, str]) -> str:
    def optional(match: re.Match[str]) -> str:
        segment = match.group(1)
        if all(facts.get(name) for name in _PLACEHOLDER.findall(segment)):
            return _PLACEHOLDER.sub(lambda m: facts[m.group(1)], segment)
        return ""

    def required(match: re.Match[str]) -> str:
        name = match.group(1)
        return facts.get(name) or defaults.get(name) or FACT_DEFAULTS.get(name, "")

    return _PLACEHOLDER.sub(required, _OPTIONAL.sub(optional, template))


def _evidence(ev: _Evidence) -> str:
    return " and ".join(code_span(_first_line(text)) for text, _ in ev.lines[:3])


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] if text[:1].islower() else text


def _context_suffix(facts: dict[str, str]) -> str:
    route, status = facts.get("route"), facts.get("status")
    if route and status:
        return f" (on {route}, HTTP {status})"
    if route:
        return f" (on {route})"
    if status:
        return f" (HTTP {status})"
    return ""


def _where_sentence(facts: dict[str, str]) -> str:
    culprit = facts.get("culprit")
    if not culprit:
        return ""
    line = facts.get("context_line")
    return f" Raised at {culprit}" + (f": {line}." if line else ".")


_SEVERITY_ORDER: tuple[Severity, ...] = ("low", "medium", "high", "critical")


def _adjust_severity(base: Severity, event: NormalizedEvent) -> Severity:
    rank = _SEVERITY_ORDER.index(base)
    status = event.status_code
    if status is not None and 400 <= status < 500:
        rank = 0 if status in (404, 405, 410) else min(rank, 1)
    if event.level == "fatal":
        rank = max(rank, 2)
    elif event.level == "warning":
        rank = min(rank, 1)
    elif event.level in ("info", "debug"):
        rank = 0
    return _SEVERITY_ORDER[rank]


def _recognised(hit: _Hit, ev: _Evidence) -> AnalysisResult:
    rule = hit.rule
    facts = _render_facts(_raw_facts(ev, hit.exc, hit.facts))
    summary = _sentence(_fill(rule.summary, facts, rule.defaults).rstrip(".")) + _context_suffix(facts) + "."
    root_cause = _fill(rule.root_cause, facts, rule.defaults) + _where_sentence(facts)
    if hit.confidence < GUESS_BELOW and hit.sig.text:
        root_cause += (
            f" This reading rests on the event's wording ({_evidence(ev)}), not on an unambiguous error "
            "signature: treat it as a lead, not a diagnosis."
        )
    return AnalysisResult(
        summary=summary,
        root_cause=root_cause,
        suggested_fix=_fill(rule.fix, facts, rule.defaults),
        severity=_adjust_severity(rule.severity, ev.event),
        category=rule.category,
        confidence=hit.confidence,
    )


def _unrecognised(ev: _Evidence) -> AnalysisResult:
    facts = _render_facts(_raw_facts(ev, ev.exceptions[-1] if ev.exceptions else None, {}))
    event = ev.event
    seen: list[str] = []
    if ev.exceptions:
        seen.append("the exception " + code_span(_first_line(ev.exceptions[-1].line)))
    if event.message:
        seen.append("the message " + code_span(_first_line(event.message)))
    if facts.get("route") or facts.get("status"):
        seen.append(
            "the request"
            + (f" {facts['route']}" if facts.get("route") else "")
            + (f" answered HTTP {facts['status']}" if facts.get("status") else "")
        )
    if facts.get("culprit"):
        seen.append(
            "it was raised at "
            + facts["culprit"]
            + (f" ({facts['context_line']})" if facts.get("context_line") else "")
        )
    else:
        seen.append("no stack trace was sent")
    if event.logger:
        seen.append("the logger was " + code_span(event.logger))
    what = facts.get("error") or "An error"
    has_text = bool(ev.lines)
    severity: Severity = "medium"
    if event.status_code is not None and event.status_code < 500:
        severity = "low"
    severity = _adjust_severity(severity, event)
    return AnalysisResult(
        summary=f"Not recognised by the rule-based analyser: {what}{_context_suffix(facts)}.",
        root_cause=(
            f"This error was not recognised by the rule-based analyser ({MODEL_NAME}, not an LLM), so it "
            f"does "
            "not guess a root cause. What the event shows: " + "; ".join(seen) + "."
        ),
        suggested_fix=_fill(
            "1. Open the event's stack trace and breadcrumbs[[ starting at {culprit}]] and reproduce it with "
            "the same request[[ ({route})]].\n"
            "2. If the client sends only a message, report the exception itself (a Sentry SDK, or a `stack` "
            "field) so the raising line is known.\n"
            "3. For a deeper analysis configure an LLM provider (`LLM_PROVIDER=openai` or `anthropic`) and "
            "re-analyse this issue.",
            facts,
            {},
        ),
        severity=severity,
        category=UNKNOWN_CATEGORY,
        confidence=0.1 if has_text else 0.05,
    )


def match_rule(event: NormalizedEvent, issue_title: str = "") -> Rule | None:
    """The catalogue rule that recognises this event, or None."""
    hit = _find_rule(_gather(event, issue_title))
    return hit.rule if hit else None


def analyse_event(event: NormalizedEvent, issue_title: str = "") -> AnalysisResult:
    """Analyse one (already redacted) event with the rule catalogue; deterministic and offline."""
    ev = _gather(event, issue_title)
    hit = _find_rule(ev)
    return _recognised(hit, ev) if hit else _unrecognised(ev)


class HeuristicProvider:
    """The default provider: the rule catalogue above, no network, no tokens."""

    name = PROVIDER_NAME
    model = MODEL_NAME

    def analyze(self, analysis_input: AnalysisInput) -> ProviderAnswer:
        """Analyse one event; never raises a ProviderError (there is nothing to retry)."""
        result = analyse_event(analysis_input.event, analysis_input.issue_title)
        return ProviderAnswer(result=result, provider=self.name, model=self.model, tokens_in=0, tokens_out=0)
