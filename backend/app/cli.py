"""`python -m app …`: up, migrate, create-project, create-user, create-token, sweep, reanalyse, cleanup,
set-retention.

Each command imports what it uses when it runs (none of these imports hides a cycle): a command
starts in a fraction of the time the whole app takes to import, which matters to `sweep` run from
cron or by two sweepers at once, and `up` reads no settings before it has set the environment.
"""

from __future__ import annotations

import argparse
import sys


def cmd_up(args: argparse.Namespace) -> int:
    from app.runtime.supervisor import run_up

    return run_up(
        host=args.host,
        port=args.port,
        web_workers=args.web_workers,
        digesters=args.digesters,
        flower_port=args.flower_port if args.flower else None,
    )


def cmd_digest(args: argparse.Namespace) -> int:
    from app.runtime.digest import run_digester

    return run_digester(parent_pid=args.parent_pid)


def cmd_migrate(_args: argparse.Namespace) -> int:
    from app.runtime.migrate import upgrade_head

    upgrade_head()
    print("database is at the latest migration")
    return 0


def cmd_create_project(args: argparse.Namespace) -> int:
    from app.db import sync_session
    from app.projects.service import dsn_for, sync_create_project

    with sync_session() as session:
        project = sync_create_project(session, args.name)
        print(f"project {project.name!r} (id {project.id})")
        print(dsn_for(project))
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    import secrets

    from app.auth.service import create_user
    from app.db import sync_session
    from app.errors import AppError

    password = args.password or secrets.token_urlsafe(12)
    try:
        with sync_session() as session:
            user = create_user(session, args.email, password, is_admin=args.admin)
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"user {user.email!r} (id {user.id}{', admin' if user.is_admin else ''})")
    if not args.password:
        print(f"password: {password}")
    return 0


def cmd_create_token(args: argparse.Namespace) -> int:
    from app.auth.service import sync_create_api_token
    from app.db import sync_session
    from app.errors import AppError

    try:
        with sync_session() as session:
            made = sync_create_api_token(session, args.name, args.project)
            projects = ", ".join(map(str, made.token.project_ids))
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"token {args.name!r} for project(s) {projects}; shown once, keep it safe:", file=sys.stderr)
    print(made.secret)
    return 0


def cmd_sweep(_args: argparse.Namespace) -> int:
    from app.analysis.sweeper import sweep
    from app.celery_app import publish_job

    print(f"re-enqueued {sweep(publish_job)} analyses")
    return 0


def cmd_reanalyse(args: argparse.Namespace) -> int:
    from app.analysis.reanalyse import sync_request_reanalysis
    from app.celery_app import publish_job
    from app.db import sync_unit_of_work
    from app.errors import AppError
    from app.jobs import Job, JobDispatcher, install_dispatcher

    # The command waits for its job to be published so it can say whether it left; with the broker
    # down the committed pending analysis waits for the sweeper.
    failed: list[Exception] = []

    def publish(job: Job) -> None:
        try:
            publish_job(job)
        except Exception as exc:
            failed.append(exc)

    dispatcher = JobDispatcher(publish).start()
    install_dispatcher(dispatcher)
    try:
        with sync_unit_of_work() as work:
            request = sync_request_reanalysis(work, args.issue_id)
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        dispatcher.stop()
        install_dispatcher(None)
    if failed:
        message = f"analysis {request.analysis_id} is pending; could not enqueue it now ({failed[0]})"
        print(message, file=sys.stderr)
        return 0
    print(f"analysis {request.analysis_id} of issue {args.issue_id} queued (event {request.error_event_id})")
    return 0


def cmd_cleanup(args: argparse.Namespace) -> int:
    from app.config import get_settings
    from app.ingest.inbox import MAX_ATTEMPTS
    from app.retention.cleanup import run_cleanup

    report = run_cleanup(get_settings(), inbox_max_attempts=MAX_ATTEMPTS, max_seconds=args.max_seconds)
    print(report)
    return 0


def cmd_set_retention(args: argparse.Namespace) -> int:
    from app.db import sync_session
    from app.errors import AppError
    from app.projects.service import sync_set_event_retention

    days = None if args.days == "default" else int(args.days)
    try:
        with sync_session() as session:
            project = sync_set_event_retention(session, args.project_id, days)
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    kept = "EVENT_RETENTION_DAYS" if days is None else ("forever" if days == 0 else f"{days} days")
    print(f"project {project.name!r} (id {project.id}) keeps its events: {kept}")
    return 0


def _retention_days(value: str) -> str:
    if value != "default" and not (value.isdigit() and int(value) >= 0):
        raise argparse.ArgumentTypeError("a number of days (0 = forever) or `default`")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Faultline command line")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start everything (embedded PostgreSQL/Valkey unless URLs are set)")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--web-workers", type=int, default=2)
    up.add_argument("--digesters", type=int, default=1, help="processes storing the accepted events")
    up.add_argument("--flower", action="store_true", help="also start Flower, the Celery monitor")
    up.add_argument("--flower-port", type=int, default=5555)
    up.set_defaults(func=cmd_up)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    digest = sub.add_parser("digest", help="store the events waiting in the inbox (any number may run)")
    digest.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)  # an API's embedded digester
    digest.set_defaults(func=cmd_digest)

    create = sub.add_parser("create-project", help="create a project and print its DSN (last line)")
    create.add_argument("name")
    create.set_defaults(func=cmd_create_project)

    user = sub.add_parser(
        "create-user", help="create a dashboard user (prints a random password if none given)"
    )
    user.add_argument("email")
    user.add_argument("--password", help="at least 8 characters; default: a random one, printed")
    user.add_argument("--admin", action="store_true", help="may see and revoke every API token")
    user.set_defaults(func=cmd_create_user)

    token = sub.add_parser("create-token", help="create a read-API token for projects (printed once)")
    token.add_argument("name")
    token.add_argument("--project", type=int, nargs="+", required=True, metavar="ID", help="project ids")
    token.set_defaults(func=cmd_create_token)

    sub.add_parser("sweep", help="re-enqueue stale pending analyses once").set_defaults(func=cmd_sweep)

    reanalyse = sub.add_parser("reanalyse", help="analyse an issue again (one more LLM call)")
    reanalyse.add_argument("issue_id", type=int)
    reanalyse.set_defaults(func=cmd_reanalyse)

    cleanup = sub.add_parser("cleanup", help="delete expired events (retention) and dead inbox rows once")
    cleanup.add_argument("--max-seconds", type=float, help="stop after this long (the next pass carries on)")
    cleanup.set_defaults(func=cmd_cleanup)

    retention = sub.add_parser("set-retention", help="how long a project keeps its events")
    retention.add_argument("project_id", type=int)
    retention.add_argument("days", type=_retention_days, help="days (0 = forever), or `default`")
    retention.set_defaults(func=cmd_set_retention)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
