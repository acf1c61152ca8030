"""Pytest fixtures for the fake LLM server; a conftest imports them (`from tests.fake_llm.fixtures import *`).

`fake_llm_server` is one server for the whole session; `fake_llm` hands it to a test with an empty
script, no recorded requests and the default "good" behaviour, and cleans up after.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_llm.server import FakeLLMServer

__all__ = ["fake_llm", "fake_llm_server"]


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLMServer]:
    """One fake LLM server on 127.0.0.1 for the session."""
    server = FakeLLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    """The session's fake LLM server, reset before and after the test."""
    fake_llm_server.reset()
    yield fake_llm_server
    fake_llm_server.reset()
