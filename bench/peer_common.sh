# Shared by the two Faultline peers (peer_faultline.sh, peer_faultline_up.sh), sourced after they set
# REPO, PY, DIR, BENCH_DB_NAME and log(): where the bench's PostgreSQL and Redis are, a fresh database,
# and the servers' pids for memory reported apart.

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# DATABASE_URL and REDIS_URL for the bench: explicit, else local servers, else embedded ones.
choose_servers() {
  DATABASE_URL="${BENCH_DATABASE_URL:-}"
  REDIS_URL="${BENCH_REDIS_URL:-}"
  if [[ -z "$DATABASE_URL" ]] && answers 5432; then
    DATABASE_URL="postgresql://postgres@127.0.0.1:5432/${BENCH_DB_NAME}"
  fi
  if [[ -z "$REDIS_URL" ]] && answers 6379; then REDIS_URL="redis://127.0.0.1:6379/14"; fi
  if [[ -z "$DATABASE_URL" || -z "$REDIS_URL" ]]; then
    log "no local PostgreSQL/Redis answering: starting the embedded ones"
    setsid "$PY" "$REPO/bench/embedded_infra.py" "$DIR/infra" >"$DIR/infra.out" 2>"$DIR/infra.log" </dev/null &
    echo $! >"$DIR/run/infra.pgid"
    for _ in $(seq 1 300); do
      [[ "$(grep -c '_URL=' "$DIR/infra.out" 2>/dev/null)" == 2 ]] && break
      sleep 0.2
    done
    [[ -n "$DATABASE_URL" ]] || DATABASE_URL="$(sed -n 's/^DATABASE_URL=//p' "$DIR/infra.out")"
    [[ -n "$REDIS_URL" ]] || REDIS_URL="$(sed -n 's/^REDIS_URL=//p' "$DIR/infra.out")"
    [[ -n "$DATABASE_URL" && -n "$REDIS_URL" ]] || { log "embedded servers failed; see $DIR/infra.log"; exit 1; }
  fi
  export DATABASE_URL REDIS_URL
  export CELERY_BROKER_URL="$REDIS_URL"
}

# Empty the bench's Redis db and drop and create its database (KEEP_DB=1 keeps both).
fresh_database() {
  "$PY" - "${KEEP_DB:-0}" <<'EOF'
import os, sys
import psycopg, redis
if sys.argv[1] != "1":
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()  # tasks left by an earlier run
from psycopg import sql
from sqlalchemy import make_url
url = make_url(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1))
admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone()
    if exists and sys.argv[1] != "1":
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(url.database)))
        exists = None
    if not exists:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(url.database)))
EOF
}

infra_pids() {
  # Best effort: the PostgreSQL postmaster and the Redis server, for memory reported apart.
  "$PY" - <<'EOF' 2>/dev/null || true
import os, psycopg, redis
pids = []
try:
    with psycopg.connect(os.environ["DATABASE_URL"]) as c:
        backend = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        # Our backend's parent is the postmaster (loopback server on this machine).
        stat = open(f"/proc/{backend}/stat").read()
        pids.append(stat.rsplit(")", 1)[1].split()[1])
except Exception:
    pass
try:
    pids.append(str(redis.Redis.from_url(os.environ["REDIS_URL"]).info("server")["process_id"]))
except Exception:
    pass
print(" ".join(pids))
EOF
}
