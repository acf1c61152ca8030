"""Receivers for the alert tests: a real HTTP server and a real SMTP server in the test process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_llm.fixtures import fake_llm, fake_llm_server
from tests.support.receivers import HttpReceiver, SmtpReceiver

__all__ = ["fake_llm", "fake_llm_server"]


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    server = SmtpReceiver().start()
    yield server
    server.stop()
