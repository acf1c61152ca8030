"""The one Settings object: every tunable of Faultline, read from the environment and `.env`."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def to_sqlalchemy_url(url: str, *, driver: str = "psycopg") -> str:
    """Accept the plain `postgresql://…` form users paste and name our driver explicitly."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return f"postgresql+{driver}://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/faultline"
    redis_url: str = "redis://127.0.0.1:6379/0"
    celery_broker_url: str | None = None  # defaults to REDIS_URL
    public_url: str = "http://localhost:8000"  # how SDKs reach us; used to print DSNs

    auto_create_projects: bool = True
    secret_key: str = "dev-insecure-change-me"  # signs session cookies and CSRF tokens
    secure_cookies: bool = False  # set true behind HTTPS

    # Analysis
    llm_provider: Literal["heuristic", "openai", "anthropic"] = "heuristic"
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    llm_timeout_s: float = 60.0  # well under the task's 240 s soft limit
    llm_max_tokens: int = 1024
    llm_max_input_tokens: int = 6000
    llm_daily_budget_calls: int = 200  # per project per UTC day; 0 = unlimited
    # Exponential backoff base: 150 s, 300 s, 600 s for the three retries, so the seed's
    # "up to 10 minutes" is reached exactly at the last one (Celery's retry_backoff=True gives 1-4 s).
    analysis_retry_base_s: float = 150.0
    analysis_retry_cap_s: float = 600.0
    analysis_soft_time_limit_s: float = 240.0  # the task is told to stop (and retries); 0 = none
    analysis_hard_time_limit_s: float = 300.0  # the task's process is killed (Celery acks it)
    analysis_lease_s: float = 330.0  # a claimed analysis is re-claimable after this (> hard time limit)
    sweeper_interval_s: float = 30.0
    sweeper_min_age_s: float = 60.0  # pending analyses older than this are re-enqueued

    # Ingest
    enqueue_timeout_s: float = 1.0
    rate_limit_per_minute: int = 6000  # per project, default; projects may override; 0 = unlimited
    db_unavailable_retry_after_s: int = 30
    # The database part of one ingest request must finish within this, or the answer is 503.
    ingest_db_timeout_s: float = 1.5

    redact_extra_patterns: list[str] = []
    redact_extra_fields: list[str] = []

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        return to_sqlalchemy_url(value)

    @model_validator(mode="after")
    def _default_broker(self) -> Settings:
        if not self.celery_broker_url:
            self.celery_broker_url = self.redis_url
        return self

    @model_validator(mode="after")
    def _time_limits_fit(self) -> Settings:
        if self.analysis_soft_time_limit_s > self.analysis_hard_time_limit_s:
            raise ValueError("ANALYSIS_SOFT_TIME_LIMIT_S must not exceed ANALYSIS_HARD_TIME_LIMIT_S")
        # A lease shorter than the hard limit would let a second task re-take an analysis whose
        # first task is still running: two paid LLM calls for one analysis.
        if self.analysis_lease_s <= self.analysis_hard_time_limit_s:
            raise ValueError(
                f"ANALYSIS_LEASE_S ({self.analysis_lease_s:g}) must exceed "
                f"ANALYSIS_HARD_TIME_LIMIT_S ({self.analysis_hard_time_limit_s:g})"
            )
        return self

    @property
    def async_database_url(self) -> str:
        """The same database through psycopg's async mode (the dialect name is identical)."""
        return self.database_url


@lru_cache
def get_settings() -> Settings:
    """Process-wide settings; tests clear the cache after changing the environment."""
    return Settings()
