#!/usr/bin/env bash
# Bugsink as the benchmark's peer: install (own venv under /tmp), configure its documented
# single-server setup (SQLite, gunicorn with 2 workers, bugsink-runsnappea), start on a loopback
# port, print its DSN, and stop it again.
#
#   bench/peer_bugsink.sh install
#   bench/peer_bugsink.sh start [--port 8765] [--dir /tmp/bugsink-bench]   # fresh state each start
#   bench/peer_bugsink.sh stop  [--dir /tmp/bugsink-bench]
#
# `start` prints KEY=VALUE lines that bench/run.py parses: DSN, PROJECT_ID, DB, PIDS, URL.
# The quotas and retention are raised far above the benchmark's load so Bugsink is never throttled.
set -euo pipefail

BUGSINK_VERSION="2.6.2"
VENV="${BUGSINK_VENV:-/tmp/bugsink-venv}"
PORT=8765
DIR=/tmp/bugsink-bench
GUNICORN_WORKERS=2

cmd="${1:-}"
shift || true
while [[ $# -gt 0 ]]; do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --dir) DIR="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

log() { echo "[peer_bugsink] $*" >&2; }

install() {
  if [[ -x "$VENV/bin/bugsink-manage" ]] \
      && "$VENV/bin/python" -c "import importlib.metadata as m; assert m.version('bugsink') == '$BUGSINK_VERSION'" 2>/dev/null; then
    return 0
  fi
  log "creating $VENV and installing bugsink==$BUGSINK_VERSION"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "bugsink==$BUGSINK_VERSION" >&2
}

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

write_conf() {
  # The documented generator first, then our overrides appended (later assignments win).
  (cd "$DIR" && "$VENV/bin/bugsink-create-conf" --template=singleserver --host="127.0.0.1:$PORT" \
      --base-dir="$DIR" >/dev/null)
  cat >>"$DIR/bugsink_conf.py" <<EOF

# --- benchmark overrides (bench/peer_bugsink.sh) ---
# Plain HTTP on loopback, no reverse proxy in front.
BUGSINK["BASE_URL"] = "http://127.0.0.1:$PORT"
ALLOWED_HOSTS = deduce_allowed_hosts(BUGSINK["BASE_URL"])
SECURE_PROXY_SSL_HEADER = None
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
USE_X_REAL_IP = False
# Quotas raised far above the benchmark load; no eviction; no outbound calls.
_BIG = 10**9
BUGSINK.update({
    "MAX_EVENTS_PER_PROJECT_PER_5_MINUTES": _BIG,
    "MAX_EVENTS_PER_PROJECT_PER_HOUR": _BIG,
    "MAX_EVENTS_PER_PROJECT_PER_MONTH": _BIG,
    "MAX_EVENTS_PER_5_MINUTES": _BIG,
    "MAX_EVENTS_PER_HOUR": _BIG,
    "MAX_EVENTS_PER_MONTH": _BIG,
    "PHONEHOME": False,
})
EOF
}

start() {
  install
  stop
  rm -rf "$DIR"
  mkdir -p "$DIR/run" "$DIR/snappea"
  write_conf
  local manage=("$VENV/bin/bugsink-manage")
  cd "$DIR"
  export DJANGO_SETTINGS_MODULE=bugsink_conf PYTHONPATH="$DIR" PYTHONUNBUFFERED=1
  log "migrating ($DIR)"
  "${manage[@]}" migrate --no-input >"$DIR/migrate.log" 2>&1
  "${manage[@]}" migrate snappea --database=snappea --no-input >>"$DIR/migrate.log" 2>&1
  DJANGO_SUPERUSER_PASSWORD=bench-admin-pw "${manage[@]}" createsuperuser --no-input \
      --username=admin@example.org --email=admin@example.org >>"$DIR/migrate.log" 2>&1
  # Project created through the ORM, as the UI would; retention raised so no event is evicted.
  "${manage[@]}" shell -c "
from projects.models import Project, ProjectMembership, ProjectRole
from django.contrib.auth import get_user_model
p = Project.objects.create(name='bench', retention_max_event_count=10**9)
ProjectMembership.objects.create(project=p, user=get_user_model().objects.get(), role=ProjectRole.ADMIN)
open('$DIR/run/project.txt', 'w').write(f'{p.id} {p.sentry_key.hex}\n')
" >>"$DIR/migrate.log" 2>&1
  read -r PROJECT_ID KEY <"$DIR/run/project.txt"

  # Each service in its own session so `stop` can end exactly its process group.
  setsid "$VENV/bin/gunicorn" --bind="127.0.0.1:$PORT" --workers="$GUNICORN_WORKERS" \
      --access-logfile=/dev/null --error-logfile="$DIR/gunicorn.log" bugsink.wsgi \
      >>"$DIR/gunicorn.log" 2>&1 </dev/null &
  local gpid=$!
  echo "$gpid" >"$DIR/run/gunicorn.pgid"
  setsid "$VENV/bin/bugsink-runsnappea" >"$DIR/snappea.log" 2>&1 </dev/null &
  local spid=$!
  echo "$spid" >"$DIR/run/snappea.pgid"

  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1; then break; fi
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null || { log "not ready; see $DIR/gunicorn.log"; stop; exit 1; }
  log "up on 127.0.0.1:$PORT (gunicorn pid $gpid, snappea pid $spid)"
  echo "URL=http://127.0.0.1:$PORT"
  echo "DSN=http://$KEY@127.0.0.1:$PORT/$PROJECT_ID"
  echo "PROJECT_ID=$PROJECT_ID"
  echo "DB=$DIR/db.sqlite3"
  echo "PIDS=$gpid $spid"
}

case "$cmd" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 {install|start|stop} [--port P] [--dir D]" >&2; exit 2 ;;
esac
