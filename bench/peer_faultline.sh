#!/usr/bin/env bash
# Faultline as a benchmark peer: migrate, create a fresh project, start the API and a Celery worker on
# loopback, print the KEY=VALUE lines bench/run.py reads, and stop them again.
#
#   bench/peer_faultline.sh start [--port 8000] [--dir /tmp/faultline-bench]
#   bench/peer_faultline.sh stop  [--dir /tmp/faultline-bench]
#
# Needs a running PostgreSQL and Redis: DATABASE_URL and REDIS_URL (defaults below).
# Knobs (environment): FAULTLINE_PY, API_WORKERS (default: nproc), START_WORKER=0 (API only, used by
# bench/analysis_bench.py), WORKER_ARGS (extra celery worker args), any app setting (LLM provider …).
#
# TODO(lead): this script is written against DESIGN.md before the server exists. Check the marked
# lines against the real app: the ASGI entry point, the CLI that creates a project, the health path.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT=8000
DIR=/tmp/faultline-bench
cmd="${1:-}"
shift || true
while [[ $# -gt 0 ]]; do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --dir) DIR="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

if [[ -n "${FAULTLINE_PY:-}" ]]; then PY="$FAULTLINE_PY"
elif [[ -x "$REPO/.venv/bin/python" ]]; then PY="$REPO/.venv/bin/python"
else PY=python3; fi
export DATABASE_URL="${DATABASE_URL:-postgresql+psycopg://faultline:faultline@127.0.0.1:5432/faultline}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
API_WORKERS="${API_WORKERS:-$(nproc)}"

log() { echo "[peer_faultline] $*" >&2; }

stop() {
  local f pgid
  for f in "$DIR"/run/*.pgid; do
    [[ -e "$f" ]] || continue
    pgid="$(cat "$f")"
    if kill -0 -- "-$pgid" 2>/dev/null; then
      kill -TERM -- "-$pgid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

# A new project per start, so counts in error_events/issues start from zero for it.
create_project() {
  # TODO(lead): replace with the real CLI once it exists, e.g. `python -m app create-project NAME`,
  # printing the id and public key. Until then: the table's documented columns, through psycopg.
  "$PY" - "bench-$(date +%s%N)" <<'EOF'
import os, secrets, sys
import psycopg
url = os.environ["DATABASE_URL"].replace("+psycopg", "", 1)
with psycopg.connect(url) as conn:
    key = secrets.token_hex(16)
    pid = conn.execute(
        "INSERT INTO projects (name, public_key) VALUES (%s, %s) RETURNING id", (sys.argv[1], key)
    ).fetchone()[0]
print(pid, key)
EOF
}

infra_pids() {
  # Best effort: the PostgreSQL postmaster and the Redis server, for memory reported apart.
  "$PY" - <<'EOF' 2>/dev/null || true
import os, psycopg, redis
pids = []
try:
    with psycopg.connect(os.environ["DATABASE_URL"].replace("+psycopg", "", 1)) as c:
        d = c.execute("SHOW data_directory").fetchone()[0]
    pids.append(open(os.path.join(d, "postmaster.pid")).readline().strip())
except Exception:
    pass
try:
    pids.append(str(redis.Redis.from_url(os.environ["REDIS_URL"]).info("server")["process_id"]))
except Exception:
    pass
print(" ".join(pids))
EOF
}

start() {
  [[ -f "$REPO/backend/app/main.py" ]] || { log "backend/app/main.py not found: Faultline server not there yet"; exit 3; }
  stop
  rm -rf "$DIR"
  mkdir -p "$DIR/run"
  cd "$REPO/backend"
  log "migrating"
  "$PY" -m alembic upgrade head >"$DIR/migrate.log" 2>&1
  read -r PROJECT_ID KEY < <(create_project)

  # TODO(lead): the server and worker command lines are the knobs of issue 7; keep them here.
  setsid "$PY" -m uvicorn app.main:app --host 127.0.0.1 --port "$PORT" --workers "$API_WORKERS" \
      --no-access-log --log-level warning >"$DIR/api.log" 2>&1 </dev/null &
  local apid=$!
  echo "$apid" >"$DIR/run/api.pgid"
  local pids="$apid"
  if [[ "${START_WORKER:-1}" != "0" ]]; then
    # shellcheck disable=SC2086
    setsid "$PY" -m celery -A app.celery_worker worker --queues=ai_analysis --loglevel=warning \
        ${WORKER_ARGS:-} >"$DIR/worker.log" 2>&1 </dev/null &
    local wpid=$!
    echo "$wpid" >"$DIR/run/worker.pgid"
    pids="$pids $wpid"
  fi

  # TODO(lead): a real health path if there is one; any HTTP answer means the port is served.
  for _ in $(seq 1 150); do
    if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then break; fi
    sleep 0.2
  done
  curl -s -o /dev/null "http://127.0.0.1:$PORT/" || { log "API not up; see $DIR/api.log"; stop; exit 1; }
  log "up on 127.0.0.1:$PORT (api pid $apid)"
  echo "URL=http://127.0.0.1:$PORT"
  echo "DSN=http://$KEY@127.0.0.1:$PORT/$PROJECT_ID"
  echo "PROJECT_ID=$PROJECT_ID"
  echo "PROJECT_KEY=$KEY"
  echo "DB=$DATABASE_URL"
  echo "PIDS=$pids"
  echo "EXTRA_PIDS=$(infra_pids)"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 {start|stop} [--port P] [--dir D]" >&2; exit 2 ;;
esac
