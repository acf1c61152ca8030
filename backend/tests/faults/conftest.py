"""Fixtures for fault-injection tests: a stack of servers the tests own (see servers.py)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_llm.fixtures import fake_llm, fake_llm_server
from tests.faults.servers import Stack

__all__ = ["fake_llm", "fake_llm_server"]


@pytest.fixture(scope="session")
def own_stack() -> Iterator[Stack]:
    stack = Stack(Path(tempfile.mkdtemp(prefix="faultline-faults-"))).start()
    yield stack
    stack.stop()


@pytest.fixture
def stack(own_stack: Stack) -> Iterator[Stack]:
    """Our PostgreSQL and Redis, running and empty; processes a test starts are stopped after it."""
    own_stack.reset()
    yield own_stack
    own_stack.reset()
