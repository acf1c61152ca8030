#!/usr/bin/env bash
# Faultline as users run it, as a benchmark peer: `python -m app up --port P` (what `make run` calls)
# with its defaults (web workers, digesters, analysis worker and its pool, beat) untouched; prints the
# KEY=VALUE lines bench/run.py reads, taken from up's banner, and stops it again.
#
#   bench/peer_faultline_up.sh start [--port 8000] [--dir /tmp/faultline-bench-up]
#   bench/peer_faultline_up.sh stop  [--dir /tmp/faultline-bench-up]
#
# Only what a benchmark must change is set: DATABASE_URL (its own database `faultline_bench_up`,
# emptied at each start; `up` migrates it and creates its default project), REDIS_URL (Redis db 14,
# flushed at each start, the same db as bench/peer_faultline.sh: run.py never runs both at once),
# PUBLIC_URL for the port, and RATE_LIMIT_PER_MINUTE raised (the per-project quota would otherwise
# throttle the load; Bugsink's quotas are raised too). Local PostgreSQL 127.0.0.1:5432 (user postgres)
# and Redis 127.0.0.1:6379, else the embedded ones via bench/embedded_infra.py; override with
# BENCH_DATABASE_URL / BENCH_REDIS_URL. Never the DATABASE_URL / REDIS_URL of the environment.
#
# `up` keeps its state in `.data/` next to `backend/` (logs, the persistent SECRET_KEY, beat's
# schedule), found from its own source path, with no setting to move it. So that a benchmark does not
# write into the checkout's real `.data/`, `up` runs from a copy of backend/{app,alembic,alembic.ini}
# under DIR/tree (the same code; its `.data/` and logs land in DIR/tree/.data). UP_IN_REPO=1 runs it
# from the checkout's own backend/ instead (then it appends to .data/logs/ and uses .data/secret_key).
#
# PIDS is up's own process, the root of every process it starts (API workers and their digesters,
# or digesters it supervises itself; the analysis worker; beat), so memory covers them all. `up` runs
# in a session of its own (setsid), as from a terminal: all its processes share one scheduler group.
# stop sends SIGTERM to up's process group and to any group a process of its tree leads (a supervisor
# may start children in groups of their own), waits for them to end, then SIGKILLs what is left.
#
# Knobs (environment): FAULTLINE_PY (the venv python), UP_ARGS (extra `up` arguments, e.g.
# "--web-workers 1"; empty for the defaults), UP_IN_REPO=1, UP_START_TIMEOUT (s, default 180).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT=8000
DIR=/tmp/faultline-bench-up
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

log() { echo "[peer_faultline_up] $*" >&2; }

BENCH_DB_NAME=faultline_bench_up
# shellcheck source=bench/peer_common.sh
source "$REPO/bench/peer_common.sh"

# Process groups led by `root` or by any of its descendants (one per line).
tree_pgids() {
  ps -e -o pid=,ppid=,pgid= | awk -v root="$1" '
    { parent[$1] = $2; group[$1] = $3 }
    END {
      for (p in parent) {
        q = p; n = 0
        while (q != root && (q in parent) && q > 1 && n++ < 64) q = parent[q]
        if (q == root) print group[p]
      }
    }' | sort -u
}

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

stop_groups() {
  local g alive
  for g in "$@"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for _ in $(seq 1 200); do  # up gives each child 15 s to stop; 40 s in all, then SIGKILL
    alive=0
    for g in "$@"; do group_alive "$g" && alive=1; done
    [[ "$alive" == 0 ]] && return 0
    sleep 0.2
  done
  for g in "$@"; do kill -KILL -- "-$g" 2>/dev/null || true; done
}

stop() {
  local pgid groups
  if [[ -e "$DIR/run/up.pgid" ]]; then
    pgid="$(cat "$DIR/run/up.pgid")"
    if group_alive "$pgid"; then
      # shellcheck disable=SC2207
      groups=($(printf '%s\n' "$pgid" $(tree_pgids "$pgid") | sort -u))
      stop_groups "${groups[@]}"
    fi
    rm -f "$DIR/run/up.pgid"
  fi
  # Infrastructure last: up's processes shut down cleanly while their servers are still there.
  if [[ -e "$DIR/run/infra.pgid" ]]; then
    pgid="$(cat "$DIR/run/infra.pgid")"
    group_alive "$pgid" && stop_groups "$pgid"
    rm -f "$DIR/run/infra.pgid"
  fi
}

# backend/ to run `up` from: a copy under DIR (its .data/ stays there), or the checkout's own.
backend_dir() {
  if [[ "${UP_IN_REPO:-0}" == "1" ]]; then
    echo "$REPO/backend"
    return
  fi
  local tree="$DIR/tree/backend"
  mkdir -p "$tree"
  cp -a "$REPO/backend/app" "$REPO/backend/alembic" "$REPO/backend/alembic.ini" "$tree/"
  echo "$tree"
}

start() {
  [[ -f "$REPO/backend/app/cli.py" ]] || { log "backend/app/cli.py not found"; exit 3; }
  stop
  rm -rf "$DIR"
  mkdir -p "$DIR/run"
  choose_servers
  fresh_database
  # A benchmark measures throughput, not the per-project ingest quota (Bugsink's are raised too).
  export RATE_LIMIT_PER_MINUTE="${RATE_LIMIT_PER_MINUTE:-1000000000}"
  export PUBLIC_URL="http://127.0.0.1:$PORT"
  local backend
  backend="$(backend_dir)"
  cd "$backend"
  # shellcheck disable=SC2086
  setsid "$PY" -m app up --port "$PORT" ${UP_ARGS:-} >"$DIR/up.out" 2>&1 </dev/null &
  local upid=$!
  echo "$upid" >"$DIR/run/up.pgid"

  # The banner comes once migrations ran, the default project exists and the API answers.
  local waited=0 limit=$(( ${UP_START_TIMEOUT:-180} * 5 ))
  until grep -q '"project_key"' "$DIR/up.out" 2>/dev/null; do
    kill -0 "$upid" 2>/dev/null || { log "up exited; see $DIR/up.out"; stop; exit 1; }
    (( waited++ < limit )) || { log "no banner from up; see $DIR/up.out"; stop; exit 1; }
    sleep 0.2
  done
  local dsn key
  dsn="$(sed -n 's/^ *Sentry DSN *: *//p' "$DIR/up.out" | tail -n 1 | tr -d '[:space:]')"
  key="$(grep -o '"project_key": *"[^"]*"' "$DIR/up.out" | tail -n 1 | sed 's/.*: *"\(.*\)"/\1/')"
  [[ "$dsn" == http* && -n "$key" ]] || { log "banner without DSN or project_key; see $DIR/up.out"; stop; exit 1; }
  curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" || { log "API not answering; see $DIR/up.out"; stop; exit 1; }
  sleep 0.5  # a server that lost the port to another one exits just after binding failed
  kill -0 "$upid" 2>/dev/null || { log "up exited (port $PORT taken?); see $DIR/up.out"; stop; exit 1; }
  local nprocs
  nprocs="$("$PY" -c "import sys; sys.path.insert(0, sys.argv[1]); import procmem; print(len(procmem.tree_pids([int(sys.argv[2])])))" "$REPO/bench" "$upid")"
  log "up on 127.0.0.1:$PORT (up pid $upid, $nprocs processes in its tree; backend $backend)"
  echo "URL=http://127.0.0.1:$PORT"
  echo "DSN=$dsn"
  echo "PROJECT_ID=${dsn##*/}"
  echo "PROJECT_KEY=$key"
  echo "DB=$DATABASE_URL"
  echo "REDIS=$REDIS_URL"
  echo "PIDS=$upid"
  echo "EXTRA_PIDS=$(infra_pids)"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 {start|stop} [--port P] [--dir D]" >&2; exit 2 ;;
esac
