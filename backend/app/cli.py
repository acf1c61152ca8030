"""`python -m app …`: up, serve, env, migrate, create-project, create-user, add-member, create-token,
create-alert, test-alert, scrub-user-data, set-retention, cleanup, sweep, reanalyse, reprocess. Whoever
runs these on the server acts as an admin: they create projects, users and memberships. Bad input is one
`error: …` line on stderr and exit status 1.

Each command imports what it uses when it runs (none of these imports hides a cycle): a command
starts in a fraction of the time the whole app takes to import, which matters to `sweep` run from
cron or by two sweepers at once, and `up` reads no settings before it has set the environment.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def cmd_up(args: argparse.Namespace) -> int:
    from app.runtime.supervisor import run_up

    return run_up(
        host=args.host,
        port=args.port,
        web_workers=args.web_workers,
        digesters=args.digesters,
        flower_port=args.flower_port if args.flower else None,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from app.runtime.serve import serve

    return serve(host=args.host, port=args.port, workers=args.workers)


def cmd_env(_args: argparse.Namespace) -> int:
    from app.runtime.stack import env_command

    lines, problem, code = env_command()
    if problem:
        print(problem, file=sys.stderr)
    for line in lines:
        print(line)
    return code


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
            user = create_user(
                session, args.email, password, is_admin=args.admin, project_ids=args.project or []
            )
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    role = "admin" if user.is_admin else f"member of project(s) {', '.join(map(str, args.project or []))}"
    if not user.is_admin and not args.project:
        role = "member of no project yet (python -m app add-member)"
    print(f"user {user.email!r} (id {user.id}, {role})")
    if not args.password:
        print(f"password: {password}")
    return 0


def cmd_add_member(args: argparse.Namespace) -> int:
    from app.auth.service import sync_add_member
    from app.db import sync_session
    from app.errors import AppError

    try:
        with sync_session() as session:
            made = sync_add_member(session, args.email, args.project_id)
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    already = "" if made.added else " already"
    print(f"user {made.user.email!r} is{already} a member of project {made.project_id}")
    return 0


def cmd_create_token(args: argparse.Namespace) -> int:
    from app.auth.service import sync_create_api_token
    from app.db import sync_session
    from app.errors import AppError

    try:
        with sync_session() as session:
            made = sync_create_api_token(
                session, args.name, args.project, owner_email=args.user, scopes=args.scope
            )
            projects = ", ".join(map(str, made.token.project_ids))
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    scopes = " ".join(made.token.scopes)
    print(
        f"token {args.name!r} for project(s) {projects} ({scopes}); shown once, keep it safe:",
        file=sys.stderr,
    )
    print(made.secret)
    return 0


_SCRUB_CHOICES = {"on": True, "off": False, "default": None}


def cmd_scrub_user_data(args: argparse.Namespace) -> int:
    from app.db import sync_session
    from app.errors import AppError
    from app.projects.service import sync_set_scrub_user_data

    try:
        with sync_session() as session:
            project = sync_set_scrub_user_data(session, args.project_id, _SCRUB_CHOICES[args.mode])
            name = project.name
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    said = {"on": "removed before storage", "off": "stored as sent", "default": "as SCRUB_USER_DATA says"}
    print(f"project {name!r}: user data of new events {said[args.mode]}")
    return 0


def cmd_sweep(_args: argparse.Namespace) -> int:
    from app.alerts.sweeper import sweep_alerts
    from app.analysis.sweeper import sweep
    from app.celery_app import publish_job

    print(f"re-enqueued {sweep(publish_job)} analyses")
    print(f"queued {sweep_alerts(publish_job)} alert deliveries")
    return 0


def cmd_create_alert(args: argparse.Namespace) -> int:
    from app.alerts.rules import RuleInput, sync_create_rule
    from app.db import sync_session
    from app.errors import AppError

    if args.webhook:
        channel, target = "webhook", args.webhook
    elif args.slack:
        channel, target = "slack", args.slack
    else:
        channel, target = "email", args.email
    wanted = RuleInput(
        channel=channel,
        target=target,
        secret=args.secret,
        triggers=args.trigger,
        min_level=args.level,
        environment=args.environment,
        frequency_count=args.frequency_count,
        frequency_minutes=args.frequency_minutes,
        wait_cap_s=args.wait_cap,
        rate_limit_per_hour=args.rate_limit,
    )
    try:
        with sync_session() as session:
            rule = sync_create_rule(session, args.project_id, wanted)
            rule_id, secret, triggers = rule.id, rule.secret, ", ".join(rule.triggers)
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"alert rule {rule_id} ({triggers} via {channel})")
    if channel == "webhook" and not args.secret:
        print(f"secret: {secret}")
    return 0


@contextmanager
def _jobs_published_before_exit() -> Iterator[list[Exception]]:
    """Install a job dispatcher for the command and wait, on leaving, until its jobs are published.

    Yields the list of publishing failures, so the command can say whether its job left (with the
    broker down, the committed row waits for the sweeper instead)."""
    from app.celery_app import publish_job
    from app.jobs import Job, JobDispatcher, install_dispatcher

    failed: list[Exception] = []

    def publish(job: Job) -> None:
        try:
            publish_job(job)
        except Exception as exc:
            failed.append(exc)

    dispatcher = JobDispatcher(publish).start()
    install_dispatcher(dispatcher)
    try:
        yield failed
    finally:
        dispatcher.stop()
        install_dispatcher(None)


def cmd_test_alert(args: argparse.Namespace) -> int:
    from app.alerts.runner import queue_test_alert

    with _jobs_published_before_exit() as failed:
        delivery_id = queue_test_alert(args.rule_id)
    if delivery_id is None:
        print(f"error: no alert rule {args.rule_id}", file=sys.stderr)
        return 1
    if failed:
        print(
            f"test delivery {delivery_id} is pending; could not queue it now ({failed[0]})", file=sys.stderr
        )
        return 0
    print(f"test delivery {delivery_id} of rule {args.rule_id} queued (see its delivery log)")
    return 0


def cmd_reanalyse(args: argparse.Namespace) -> int:
    from app.analysis.reanalyse import sync_request_reanalysis
    from app.db import sync_unit_of_work
    from app.errors import AppError

    try:
        with _jobs_published_before_exit() as failed, sync_unit_of_work() as work:
            request = sync_request_reanalysis(work, args.issue_id)
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    if failed:
        message = f"analysis {request.analysis_id} is pending; could not enqueue it now ({failed[0]})"
        print(message, file=sys.stderr)
        return 0
    print(f"analysis {request.analysis_id} of issue {args.issue_id} queued (event {request.error_event_id})")
    return 0


def cmd_reprocess(args: argparse.Namespace) -> int:
    from app.db import sync_unit_of_work
    from app.sourcemaps.reprocess import sync_reprocess_event

    for event_id in args.event_id:
        with sync_unit_of_work() as work:
            resolved = sync_reprocess_event(work.session, event_id)
        if resolved is None:
            print(f"error: no event {event_id}", file=sys.stderr)
            return 1
        print(f"event {event_id}: {resolved} frame(s) resolved through source maps")
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

    serve = sub.add_parser("serve", help="the API's web workers, as `up` runs them (slow-client guards)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=2)
    serve.set_defaults(func=cmd_serve)

    sub.add_parser(
        "env", help='print the addresses of the stack `up` runs as export lines: eval "$(python -m app env)"'
    ).set_defaults(func=cmd_env)

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
    user.add_argument("--admin", action="store_true", help="sees and manages every project, user and token")
    user.add_argument(
        "--project", type=int, nargs="+", metavar="ID", help="make the user a member of these projects"
    )
    user.set_defaults(func=cmd_create_user)

    member = sub.add_parser("add-member", help="make a user a member of a project")
    member.add_argument("email")
    member.add_argument("project_id", type=int)
    member.set_defaults(func=cmd_add_member)

    token = sub.add_parser("create-token", help="create a read-API token for projects (printed once)")
    token.add_argument("name")
    token.add_argument("--project", type=int, nargs="+", required=True, metavar="ID", help="project ids")
    token.add_argument(
        "--user", metavar="EMAIL", help="the token's owner; a member may name only their own projects"
    )
    token.add_argument(
        "--scope",
        action="append",
        choices=["project:read", "project:write"],
        help="project:read (always) and project:write (manage alert rules)",
    )
    token.set_defaults(func=cmd_create_token)

    scrub = sub.add_parser(
        "scrub-user-data", help="per project: remove the event's user and client address before storage"
    )
    scrub.add_argument("project_id", type=int)
    scrub.add_argument("mode", choices=list(_SCRUB_CHOICES), help="default: follow SCRUB_USER_DATA")
    scrub.set_defaults(func=cmd_scrub_user_data)

    sub.add_parser(
        "sweep", help="re-enqueue stale pending analyses and due alert deliveries once"
    ).set_defaults(func=cmd_sweep)

    alert = sub.add_parser("create-alert", help="create an alert rule for a project (prints its id)")
    alert.add_argument("project_id", type=int)
    where = alert.add_mutually_exclusive_group(required=True)
    where.add_argument("--webhook", metavar="URL", help="POST signed JSON here")
    where.add_argument("--slack", metavar="URL", help="a Slack incoming webhook URL")
    where.add_argument("--email", metavar="ADDR", help="send email (SMTP_URL, ALERT_EMAIL_FROM)")
    alert.add_argument("--secret", help="the webhook's signing secret (default: a new one, printed)")
    alert.add_argument(
        "--trigger",
        action="append",
        choices=["analysis_done", "new_issue", "regression", "frequency"],
        help="repeat for several (default: analysis_done)",
    )
    alert.add_argument(
        "--level", choices=["debug", "info", "warning", "error", "fatal"], help="this or worse"
    )
    alert.add_argument("--environment", help="only events of this environment")
    alert.add_argument("--frequency-count", type=int, metavar="N", help="frequency: N events ...")
    alert.add_argument("--frequency-minutes", type=int, metavar="M", help="... in M minutes")
    alert.add_argument("--wait-cap", type=int, metavar="S", help="analysis_done waits at most S s (120)")
    alert.add_argument("--rate-limit", type=int, metavar="N", help="at most N alerts an hour (20)")
    alert.set_defaults(func=cmd_create_alert)

    test_alert = sub.add_parser("test-alert", help="send a test alert through a rule")
    test_alert.add_argument("rule_id", type=int)
    test_alert.set_defaults(func=cmd_test_alert)

    reanalyse = sub.add_parser("reanalyse", help="analyse an issue again (one more LLM call)")
    reanalyse.add_argument("issue_id", type=int)
    reanalyse.set_defaults(func=cmd_reanalyse)

    reprocess = sub.add_parser(
        "reprocess", help="resolve stored events' minified frames afresh through the source maps uploaded now"
    )
    reprocess.add_argument("event_id", type=int, nargs="+", help="error_events.id (the dashboard's event id)")
    reprocess.set_defaults(func=cmd_reprocess)

    cleanup = sub.add_parser("cleanup", help="delete expired events (retention) and dead inbox rows once")
    cleanup.add_argument("--max-seconds", type=float, help="stop after this long (the next pass carries on)")
    cleanup.set_defaults(func=cmd_cleanup)

    retention = sub.add_parser("set-retention", help="how long a project keeps its events")
    retention.add_argument("project_id", type=int)
    retention.add_argument("days", type=_retention_days, help="days (0 = forever), or `default`")
    retention.set_defaults(func=cmd_set_retention)
    return parser


# Servers, and commands that need no database: they may use the default DATABASE_URL.
MAY_USE_DEFAULT_DATABASE = {"up", "env", "digest", "serve"}


def main(argv: list[str] | None = None) -> int:
    from app.runtime.stack import no_database_configured, unreachable_message

    args = build_parser().parse_args(argv)
    if args.command not in MAY_USE_DEFAULT_DATABASE and (problem := no_database_configured()):
        print(problem, file=sys.stderr)
        return 1
    try:
        return int(args.func(args))
    except Exception as exc:
        if (line := unreachable_message(exc)) is None:
            raise
        print(line, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
