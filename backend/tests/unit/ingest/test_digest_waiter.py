"""Who sends a digested event's analysis job: the API process that committed its inbox row, exactly once,
whatever order its commit, the digesters' notifications and a look-up in the tables come in."""

from __future__ import annotations

import asyncio

from app.ingest.digest_waiter import DigestWaiter
from app.ingest.inbox import Digested, digested_payloads
from app.jobs import Job, analysis_job

MINE = (101, "a" * 32)
OTHERS = (102, "b" * 32)


class Sent(list[Job]):
    def __call__(self, jobs: list[Job]) -> None:
        self.extend(jobs)


def stored(key: tuple[int, str], error_event_id: int, *, new_analysis: bool = True) -> Digested:
    return Digested(key[0], key[1], True, error_event_id, 7, 9, analysis_to_send=new_analysis)


def payload(*rows: Digested) -> str:
    (text,) = digested_payloads(list(rows))
    return text


def waiter() -> tuple[DigestWaiter, Sent]:
    sent = Sent()
    return DigestWaiter("postgresql://unused", send_jobs=sent), sent


def test_the_process_that_committed_the_row_sends_its_job_once():
    w, sent = waiter()
    w.committed([MINE])
    w.notified(payload(stored(MINE, 1), stored(OTHERS, 2)))
    w.notified(payload(stored(MINE, 1)))  # a second word about the same row sends nothing more
    assert sent == [analysis_job(1)]


def test_no_job_for_an_event_whose_issue_already_had_an_analysis():
    w, sent = waiter()
    w.committed([MINE])
    w.notified(payload(stored(MINE, 1, new_analysis=False)))
    assert sent == []


def test_an_empty_inbox_heard_before_the_rows_notification_does_not_lose_its_job():
    # A digester's empty claim may not see a row committed a moment before; its "[]" comes first.
    w, sent = waiter()
    w.committed([MINE])
    w.notified("[]")
    w.notified(payload(stored(MINE, 1)))
    assert sent == [analysis_job(1)]


def test_a_notification_read_before_the_commits_answer_still_sends_the_job():
    w, sent = waiter()
    w.notified(payload(stored(MINE, 1)))
    assert sent == []
    w.committed([MINE])
    assert sent == [analysis_job(1)]


def test_a_row_found_in_the_tables_answers_its_waiter_and_the_notification_still_sends_the_job():
    w, sent = waiter()
    w.committed([MINE])

    async def wait_and_find() -> Digested | None:
        waiting = asyncio.ensure_future(w.wait(MINE, 5, project_id=1))
        await asyncio.sleep(0)  # the waiter registers
        w.found_in_tables([Digested(MINE[0], MINE[1], True, 1, 7, 9)])  # what the look-up reads back
        return await waiting

    answer = asyncio.run(wait_and_find())
    assert answer is not None and answer.error_event_id == 1
    assert sent == []
    w.notified(payload(stored(MINE, 1)))
    assert sent == [analysis_job(1)]
