"""What the issues page costs at 100,000 issues: fills a database of its own with generate_series
(issues, events, analyses), serves the real app with uvicorn, logs in and times page renders.

    python bench/issues_page.py                    # 100,000 issues on 127.0.0.1:5432
    python bench/issues_page.py --issues 20000 --runs 30
    python bench/issues_page.py --server postgresql://user:pw@host:5432/postgres

The database `faultline_bench_issues` is dropped and re-created each run. Timings are wall-clock
HTTP round trips on the same machine (full page: session check, list query, 24-hour counts,
analyses, filter choices, template), median and 95th percentile over --runs requests.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import threading
import time
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[1] / "backend"
sys.path.insert(0, str(BACKEND))

FILL_SQL = [
    # Issues: titles and culprits varied enough for search, a realistic status/level mix, last_seen
    # spread over a day, first_seen over ~70 days.
    """
    INSERT INTO issues (project_id, fingerprint, grouping_version, title, culprit, level, status,
                        is_regressed, first_seen, last_seen, times_seen, analysis_generation)
    SELECT :project, md5(g::text), 'v1',
           (ARRAY['KeyError', 'ValueError', 'TimeoutError', 'OperationalError', 'TypeError'])[1 + g % 5]
             || ': failure ' || g || ' in '
             || (ARRAY['checkout', 'payment', 'inventory', 'search', 'auth'])[1 + (g / 5) % 5],
           'app.module' || (g % 100) || ' in handler_' || (g % 37),
           (ARRAY['error', 'error', 'error', 'warning', 'fatal'])[1 + g % 5],
           (ARRAY['unresolved', 'unresolved', 'unresolved', 'resolved', 'ignored'])[1 + (g / 7) % 5],
           false,
           now() - make_interval(mins => g) - interval '1 day',
           now() - make_interval(secs => (g * 7919) % 86400),
           1 + (g * 31) % 1000, 1
    FROM generate_series(1, :issues) AS g
    """,
    # One event per issue in the last 48 hours, plus 20 more for each of the 2,000 hottest issues.
    """
    INSERT INTO error_events (project_id, issue_id, event_id, status_code, level, environment, release,
                              timestamp, created_at, payload, data)
    SELECT i.project_id, i.id, md5('e' || i.id), 500, i.level,
           (ARRAY['production', 'staging'])[1 + i.id % 2], 'shop@' || (i.id % 20),
           i.last_seen, now() - make_interval(secs => (i.id * 13) % 172800),
           jsonb_build_object('message', i.title),
           jsonb_build_object('message', i.title, 'tags', jsonb_build_object('region', 'eu-' || i.id % 3))
    FROM issues i
    """,
    """
    INSERT INTO error_events (project_id, issue_id, event_id, status_code, level, environment, release,
                              timestamp, created_at, payload, data)
    SELECT i.project_id, i.id, md5('e' || i.id || '-' || n), 500, i.level, 'production', 'shop@1',
           now(), now() - make_interval(secs => (n * 3571) % 86400),
           jsonb_build_object('message', i.title), jsonb_build_object('message', i.title)
    FROM issues i, generate_series(1, 20) AS n
    WHERE i.id <= 2000
    """,
    # Half the issues have a finished analysis, a few are pending.
    """
    INSERT INTO issue_analyses (project_id, issue_id, generation, error_event_id, trigger, status, attempts,
                                summary, root_cause, suggested_fix, severity, category, confidence,
                                provider, model, finished_at)
    SELECT i.project_id, i.id, 1, NULL, 'first',
           CASE WHEN i.id % 50 = 0 THEN 'pending' ELSE 'done' END, 1,
           'The handler fails on input ' || i.id || ' because a required key is missing.',
           'Root cause text', 'Fix text', 'medium', 'missing_key', 0.7, 'heuristic', 'heuristic-v1', now()
    FROM issues i WHERE i.id % 2 = 0
    """,
]


def fill(server_url: str, issues: int) -> tuple[str, int]:
    import psycopg
    from psycopg import sql
    from sqlalchemy import create_engine, make_url, text

    from app.db import get_sync_engine
    from app.runtime.migrate import upgrade_head

    name = "faultline_bench_issues"
    url = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    database_url = url.set(database=name).render_as_string(hide_password=False)
    os.environ["DATABASE_URL"] = database_url
    upgrade_head(database_url)
    started = time.monotonic()
    engine = create_engine(database_url)
    with engine.begin() as conn:
        project = conn.execute(
            text("INSERT INTO projects (name, public_key) VALUES ('bench', md5('bench')) RETURNING id")
        ).scalar_one()
        for statement in FILL_SQL:
            conn.execute(text(statement), {"project": project, "issues": issues})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    get_sync_engine.cache_clear()
    counts = {}
    with create_engine(database_url).connect() as conn:
        for table in ("issues", "error_events", "issue_analyses", "issue_search", "issue_facets"):
            counts[table] = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
    print(
        f"filled in {time.monotonic() - started:.1f}s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
    )
    return database_url, project


def serve() -> str:
    import socket

    import uvicorn

    from app.main import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    import httpx

    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return f"http://127.0.0.1:{port}"
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")  # the page never touches it
    database_url, project = fill(args.server, args.issues)

    import httpx

    from app.auth.service import create_user
    from app.db import sync_session
    from app.issues.schemas import Cursor

    with sync_session() as session:
        create_user(session, "bench@example.com", "bench-password")
    base = serve()
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    client.post(
        "/login", data={"email": "bench@example.com", "password": "bench-password", "csrf_token": token}
    )

    from sqlalchemy import create_engine, text

    with create_engine(database_url).connect() as conn:
        middle = conn.execute(
            text(
                "SELECT id, last_seen FROM issues WHERE project_id = :p AND status = 'unresolved'"
                " ORDER BY last_seen DESC, id DESC OFFSET 30000 LIMIT 1"
            ),
            {"p": project},
        ).one()
    deep = Cursor("last_seen", "after", middle.last_seen, middle.id).encode()
    pages = {
        "first page (unresolved, last seen)": "",
        "page after 30,000 rows (keyset)": f"cursor={deep}",
        "all statuses, by frequency": "status=all&sort=frequency",
        "first seen": "sort=first_seen",
        "level=fatal & environment=staging": "level=fatal&environment=staging",
        "release=shop@7": "release=shop%407",
        "search 'timeout inventory'": "q=timeout+inventory",
        "search 'handler_3' (rare prefix)": "q=handler_3",
    }
    print(
        f"\nGET /projects/{project}/issues with {args.issues:,} issues, {args.runs} runs each"
        " (25 rows a page)\n"
    )
    print(f"{'page':40} {'median ms':>10} {'p95 ms':>8} {'rows':>5}")
    for label, query in pages.items():
        url = f"/projects/{project}/issues" + (f"?{query}" if query else "")
        client.get(url)  # warm
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        rows = response.text.count('data-issue-id="')
        p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)]
        print(f"{label:40} {statistics.median(times):>10.1f} {p95:>8.1f} {rows:>5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
