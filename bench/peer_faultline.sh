#!/usr/bin/env bash
# Faultline as a benchmark peer: a fresh database, migrations, a new project, the API and a Celery
# worker on loopback; prints the KEY=VALUE lines bench/run.py reads, and stops them again.
#
#   bench/peer_faultline.sh start [--port 8000] [--dir /tmp/faultline-bench]
#   bench/peer_faultline.sh stop  [--dir /tmp/faultline-bench]
#
# Storage: its own database `faultline_bench` and Redis db 14 (both emptied at each start unless
# KEEP_DB=1) on the local PostgreSQL 127.0.0.1:5432 (user postgres) and Redis 127.0.0.1:6379;
# when nothing answers there, the embedded PostgreSQL and Valkey `make run` uses.
# Never the DATABASE_URL / REDIS_URL of the environment: a benchmark must not write into a real
# installation. Override with BENCH_DATABASE_URL / BENCH_REDIS_URL.
#
# Knobs (environment): FAULTLINE_PY (the venv python), API_WORKERS (default: nproc), API_ARGS (extra
# uvicorn args), START_WORKER=0 (API only; bench/analysis_bench.py starts its own worker),
# WORKER_ARGS (extra celery worker args), KEEP_DB=1, and any app setting (LLM_PROVIDER …).
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
API_WORKERS="${API_WORKERS:-1}"
WORKER_ARGS="${WORKER_ARGS---pool=gevent --concurrency=100}"

log() { echo "[peer_faultline] $*" >&2; }

BENCH_DB_NAME=faultline_bench
# shellcheck source=bench/peer_common.sh
source "$REPO/bench/peer_common.sh"

stop() {
  local f pgid
  # Infrastructure last: the API and worker shut down cleanly while their servers are still there.
  for f in "$DIR"/run/api.pgid "$DIR"/run/worker.pgid "$DIR"/run/infra.pgid; do
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

start() {
  [[ -f "$REPO/backend/app/main.py" ]] || { log "backend/app/main.py not found"; exit 3; }
  stop
  rm -rf "$DIR"
  mkdir -p "$DIR/run"
  choose_servers
  fresh_database
  cd "$REPO/backend"
  log "migrating $DATABASE_URL"
  "$PY" -m app migrate >"$DIR/migrate.log" 2>&1
  # A benchmark measures throughput, not the per-project ingest quota (Bugsink's are raised too).
  export RATE_LIMIT_PER_MINUTE="${RATE_LIMIT_PER_MINUTE:-1000000000}"
  export PUBLIC_URL="http://127.0.0.1:$PORT"
  local name dsn
  name="bench-$(date +%s%N)"
  dsn="$("$PY" -m app create-project "$name" 2>>"$DIR/migrate.log" | tail -n 1)"
  [[ "$dsn" == http* ]] || { log "create-project printed no DSN; see $DIR/migrate.log"; exit 1; }

  # shellcheck disable=SC2086
  setsid "$PY" -m uvicorn app.main:app --host 127.0.0.1 --port "$PORT" --workers "$API_WORKERS" \
      --no-access-log --log-level warning ${API_ARGS:-} >"$DIR/api.log" 2>&1 </dev/null &
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

  for _ in $(seq 1 150); do
    if curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz"; then break; fi
    sleep 0.2
  done
  curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" || { log "API not up; see $DIR/api.log"; stop; exit 1; }
  sleep 0.5  # a server that lost the port to another one exits just after binding failed
  kill -0 "$apid" 2>/dev/null || { log "API exited (port $PORT taken?); see $DIR/api.log"; stop; exit 1; }
  log "up on 127.0.0.1:$PORT (api pid $apid, $API_WORKERS workers)"
  echo "URL=http://127.0.0.1:$PORT"
  echo "DSN=$dsn"
  echo "PROJECT_ID=${dsn##*/}"
  local key="${dsn#*://}"
  echo "PROJECT_KEY=${key%%@*}"  # the seed endpoint's project_key: the DSN public key
  echo "DB=$DATABASE_URL"
  echo "REDIS=$REDIS_URL"
  echo "PIDS=$pids"
  echo "EXTRA_PIDS=$(infra_pids)"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 {start|stop} [--port P] [--dir D]" >&2; exit 2 ;;
esac
