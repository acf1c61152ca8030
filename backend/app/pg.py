"""PostgreSQL connection settings shared by the API's engines (app/db.py) and the ingest digester
(app/ingest/digester.py), which imports no ORM."""

# Fail fast when PostgreSQL is gone, so ingest can answer 503 within its budget instead of hanging
# (2 s is libpq's minimum; ingest also has its own deadline, INGEST_DB_TIMEOUT_S). TCP keepalives and
# tcp_user_timeout let an open connection to a host that vanished (network partition) error out in
# about half a minute instead of hanging a worker until its hard time limit.
CONNECT_ARGS = {
    "connect_timeout": 2,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


# New JSONB values (event payloads, several KB each) are TOAST-compressed with lz4 where the server
# supports it: several times less CPU than the default pglz for a similar size. Reads are unaffected.
FAST_TOAST_SQL = (
    "SELECT set_config('default_toast_compression', 'lz4', false) FROM pg_settings"
    " WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
)


def libpq_url(database_url: str) -> str:
    """DATABASE_URL in our SQLAlchemy spelling (`postgresql+psycopg://…`) as libpq takes it.

    For the processes that speak psycopg only (the digester): SQLAlchemy's URL parser would cost them
    the whole ORM's memory for one string. Percent-escapes and query parameters pass through as they are.
    """
    scheme, separator, rest = database_url.partition("://")
    if separator and scheme.split("+", 1)[0] in ("postgresql", "postgres"):
        return f"postgresql://{rest}"
    return database_url
