"""The one interface every analysis provider implements, and the errors it may raise.

A provider turns an `AnalysisInput` (a redacted, normalized event plus facts about its issue)
into a validated `AnalysisResult`. Providers never retry: the Celery task decides, from the
error class raised here, whether a failure is worth another attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from app.events.model import NormalizedEvent

Severity = Literal["critical", "high", "medium", "low"]


class AnalysisResult(BaseModel):
    """What the model (or the heuristic) concluded; the JSON schema an LLM must answer with."""

    summary: str = Field(min_length=1, max_length=2000)
    root_cause: str = Field(min_length=1, max_length=4000)
    suggested_fix: str = Field(min_length=1, max_length=4000)
    severity: Severity
    category: str = Field(min_length=1, max_length=64)
    confidence: float = Field(ge=0.0, le=1.0)


@dataclass(frozen=True)
class AnalysisInput:
    """Everything a provider may look at. The event is already redacted."""

    event: NormalizedEvent
    issue_title: str
    times_seen: int = 1
    project_name: str = ""


@dataclass(frozen=True)
class ProviderAnswer:
    """A provider's result plus the accounting stored beside it."""

    result: AnalysisResult
    provider: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0


class ProviderError(Exception):
    """Base of provider failures; `reason` is shown to users on a failed analysis."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryableProviderError(ProviderError):
    """A failure that may succeed later: timeout, connection error, 429, 5xx, 529."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class PermanentProviderError(ProviderError):
    """A failure that will not succeed by retrying: 4xx, spend cap, invalid output after repair."""


class AnalysisProvider(Protocol):
    name: str

    def analyze(self, analysis_input: AnalysisInput) -> ProviderAnswer:
        """Analyse one event; raise a ProviderError subclass on failure."""
        ...
