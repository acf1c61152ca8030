"""Re-analysis through the units of work, against PostgreSQL: a generation is opened by one statement
under the issue's row lock, its job leaves only after the commit, and a rollback drops both.

The jobs go to a JobDispatcher whose publish function records what it is handed (and whether the
analysis row it names is visible to another connection at that moment, i.e. committed).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app.analysis.reanalyse import request_reanalysis, sync_request_reanalysis
from app.analysis.sweeper import sweep
from app.db import get_async_engine, sync_session, sync_unit_of_work, unit_of_work
from app.errors import AppError
from app.jobs import Job, JobDispatcher, analysis_job, install_dispatcher, installed_dispatcher
from app.models import ErrorEvent, Issue
from app.projects.service import sync_create_project
from tests.support.db import rows, scalar, wait_until

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WAITING_ON_A_LOCK = (
    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%WITH target AS%'"
)


class Recorder:
    """A publish function: keeps each job and whether its analysis was committed when it was sent."""

    def __init__(self) -> None:
        self.sent: list[Job] = []
        self.committed_when_sent: list[bool] = []
        self.dispatcher = JobDispatcher(self)

    def flush(self) -> None:
        """Publish whatever the dispatcher still holds."""
        self.dispatcher.stop()
        self.dispatcher.start()

    def __call__(self, job: Job) -> None:
        (event_id,) = job.args
        linked = scalar("SELECT analysis_id FROM error_events WHERE id = :e", e=event_id)
        pending = scalar("SELECT count(*) FROM issue_analyses WHERE id = :a AND status = 'pending'", a=linked)
        self.committed_when_sent.append(pending == 1)
        self.sent.append(job)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    previous = installed_dispatcher()  # the live server's, when it runs in this process
    install_dispatcher(recorder.dispatcher.start())
    yield recorder
    recorder.dispatcher.stop()
    install_dispatcher(previous)


def make_issue(events: int) -> tuple[int, list[int]]:
    """An issue at analysis generation 1 with `events` events; returns its id and the event ids."""
    with sync_session() as session:
        project = sync_create_project(session, "reanalyse")
        issue = Issue(
            project_id=project.id,
            fingerprint="f" * 64,
            grouping_version="v1",
            title="KeyError: 'x'",
            level="error",
            first_seen=NOW,
            last_seen=NOW,
        )
        session.add(issue)
        session.flush()
        stored = [
            ErrorEvent(
                project_id=project.id,
                issue_id=issue.id,
                event_id=f"{n:032x}",
                status_code=500,
                level="error",
                timestamp=NOW,
                payload={},
                data={},
            )
            for n in range(events)
        ]
        session.add_all(stored)
        session.flush()
        return issue.id, [e.id for e in stored]


def issue_state(issue_id: int) -> dict[str, object]:
    (row,) = rows("SELECT analysis_generation, current_analysis_id FROM issues WHERE id = :i", i=issue_id)
    return row


def test_sync_reanalysis_opens_the_next_generation_and_sends_its_job_after_the_commit(
    recorder: Recorder,
) -> None:
    issue_id, (_older, latest) = make_issue(events=2)

    with sync_unit_of_work() as work:
        request = sync_request_reanalysis(work, issue_id)
        assert work.jobs.jobs == [analysis_job(latest)]  # registered, not sent before the commit

    wait_until(lambda: recorder.sent)
    assert recorder.sent == [analysis_job(latest)] and recorder.committed_when_sent == [True]
    (analysis,) = rows("SELECT * FROM issue_analyses WHERE issue_id = :i", i=issue_id)
    assert (analysis["id"], analysis["generation"], analysis["trigger"]) == (request.analysis_id, 2, "manual")
    assert (analysis["error_event_id"], analysis["status"]) == (latest, "pending")
    assert issue_state(issue_id) == {"analysis_generation": 2, "current_analysis_id": request.analysis_id}
    assert scalar("SELECT analysis_id FROM error_events WHERE id = :e", e=latest) == request.analysis_id


def test_a_rolled_back_unit_of_work_writes_nothing_and_sends_nothing(recorder: Recorder) -> None:
    issue_id, _ = make_issue(events=1)

    with pytest.raises(RuntimeError), sync_unit_of_work() as work:
        sync_request_reanalysis(work, issue_id)
        raise RuntimeError("the command failed after opening the generation")

    async def in_a_request() -> None:
        try:
            with pytest.raises(RuntimeError):
                async with unit_of_work() as work:
                    await request_reanalysis(work, issue_id)
                    raise RuntimeError("the handler failed after opening the generation")
        finally:
            await get_async_engine().dispose()

    asyncio.run(in_a_request())
    recorder.flush()
    assert recorder.sent == []
    assert scalar("SELECT count(*) FROM issue_analyses") == 0
    assert issue_state(issue_id) == {"analysis_generation": 1, "current_analysis_id": None}


def test_async_reanalysis_sends_its_job_after_the_commit(recorder: Recorder) -> None:
    issue_id, (latest,) = make_issue(events=1)

    async def in_a_request() -> int:
        try:
            async with unit_of_work() as work:
                request = await request_reanalysis(work, issue_id)
                assert work.jobs.jobs == [analysis_job(latest)]
            return request.analysis_id
        finally:
            await get_async_engine().dispose()

    analysis_id = asyncio.run(in_a_request())

    wait_until(lambda: recorder.sent)
    assert recorder.sent == [analysis_job(latest)] and recorder.committed_when_sent == [True]
    assert issue_state(issue_id) == {"analysis_generation": 2, "current_analysis_id": analysis_id}


def test_unknown_issue_and_issue_without_events_are_refused_before_anything_is_written(
    recorder: Recorder,
) -> None:
    empty_issue, _ = make_issue(events=0)
    for issue_id, status in ((empty_issue + 1, 404), (empty_issue, 409)):
        with pytest.raises(AppError) as refused, sync_unit_of_work() as work:
            sync_request_reanalysis(work, issue_id)
        assert refused.value.status_code == status
    assert scalar("SELECT count(*) FROM issue_analyses") == 0
    assert issue_state(empty_issue) == {"analysis_generation": 1, "current_analysis_id": None}
    recorder.flush()
    assert recorder.sent == []


def test_concurrent_reanalyses_of_one_issue_open_consecutive_generations() -> None:
    issue_id, (latest,) = make_issue(events=1)
    second: dict[str, int] = {}

    def reanalyse_meanwhile() -> None:
        with sync_unit_of_work() as work:
            second["analysis_id"] = sync_request_reanalysis(work, issue_id).analysis_id

    with sync_unit_of_work() as work:
        first = sync_request_reanalysis(work, issue_id)
        other = threading.Thread(target=reanalyse_meanwhile)
        other.start()
        # The second statement waits on the issue's row lock until this transaction ends.
        wait_until(lambda: scalar(WAITING_ON_A_LOCK))
    other.join(timeout=30)

    generations = rows(
        "SELECT id, generation FROM issue_analyses WHERE issue_id = :i ORDER BY id", i=issue_id
    )
    assert generations == [
        {"id": first.analysis_id, "generation": 2},
        {"id": second["analysis_id"], "generation": 3},
    ]
    assert issue_state(issue_id) == {"analysis_generation": 3, "current_analysis_id": second["analysis_id"]}
    assert scalar("SELECT analysis_id FROM error_events WHERE id = :e", e=latest) == second["analysis_id"]


@pytest.fixture
def no_dispatcher() -> Iterator[None]:
    previous = installed_dispatcher()
    install_dispatcher(None)
    yield
    install_dispatcher(previous)


def test_sweeper_publishes_overdue_analyses_and_stops_at_the_first_failure(no_dispatcher: None) -> None:
    issue_id, (latest,) = make_issue(events=1)
    with sync_unit_of_work() as work:  # no dispatcher installed: the analysis waits for the sweeper
        sync_request_reanalysis(work, issue_id)
    overdue = "UPDATE issue_analyses SET next_attempt_at = now() - interval '1 hour'"
    with sync_session() as session:
        session.execute(text(overdue))

    def broker_down(_job: Job) -> None:
        raise ConnectionError("broker unreachable")

    assert sweep(broker_down) == 0
    with sync_session() as session:
        session.execute(text(overdue))  # the failed pass stamped it; make it due again
    sent: list[Job] = []
    assert sweep(sent.append) == 1
    assert sent == [analysis_job(latest)]
    assert sweep(sent.append) == 0  # stamped by the pass that sent it: not due again yet
