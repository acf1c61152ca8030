"""`python -m app …`: up, migrate, create-project, create-user, create-token, sweep, reanalyse,
create-alert, test-alert.

Each command imports what it uses when it runs (none of these imports hides a cycle): a command
starts in a fraction of the time the whole app takes to import, which matters to `sweep` run from
cron or by two sweepers at once, and `up` reads no settings before it has set the environment.
"""

from __future__ import annotations

import argparse
import sys


def cmd_up(args: argparse.Namespace) -> int:
    from app.runtime.supervisor import run_up

    return run_up(host=args.host, port=args.port, web_workers=args.web_workers, digesters=args.digesters)


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
            made = sync_create_api_token(session, args.name, args.project, scopes=args.scope)
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


def cmd_test_alert(args: argparse.Namespace) -> int:
    from app.alerts.runner import queue_test_alert
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
        delivery_id = queue_test_alert(args.rule_id)
    finally:
        dispatcher.stop()
        install_dispatcher(None)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Faultline command line")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start everything (embedded PostgreSQL/Valkey unless URLs are set)")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--web-workers", type=int, default=2)
    up.add_argument("--digesters", type=int, default=1, help="processes storing the accepted events")
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
    token.add_argument(
        "--scope",
        action="append",
        choices=["project:read", "project:write"],
        help="project:read (always) and project:write (manage alert rules)",
    )
    token.set_defaults(func=cmd_create_token)

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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
