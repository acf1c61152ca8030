"""The one Settings object: every tunable of Faultline, read from the environment and `.env`.

Below both, with the lowest priority, the stack file: `python -m app up` records there the addresses
of the PostgreSQL and Redis it runs (`.data/stack.env`), so every other command (`python -m app …`,
`celery -A app.celery_worker …`) started with DATABASE_URL / REDIS_URL unset finds that stack. A
setting in the environment or in `.env` always wins.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

REPO_DIR = Path(__file__).resolve().parents[2]
ENV_FILE = ".env"  # relative to the working directory, as pydantic-settings reads it
# Only these come from the stack file: the addresses of the servers `up` runs.
STACK_SETTINGS = ("DATABASE_URL", "REDIS_URL")
SettingOrigin = Literal["environment", ".env", "stack file", "default"]


def data_dir() -> Path:
    """Where `up` keeps its state (`.data/` at the repository root; FAULTLINE_DATA_DIR moves it)."""
    return Path(os.environ.get("FAULTLINE_DATA_DIR") or REPO_DIR / ".data")


def stack_file() -> Path:
    """The file `up` writes the addresses of its services to (mode 600), removed when it stops."""
    return data_dir() / "stack.env"


def read_stack_file(path: Path | None = None) -> dict[str, str]:
    """KEY=VALUE lines of the stack file; empty when there is none."""
    try:
        text = (path or stack_file()).read_text()
    except OSError:
        return {}
    entries = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.lstrip().startswith("#"):
            entries[key.strip()] = value.strip()
    return entries


def setting_origin(name: str) -> SettingOrigin:
    """Where the value of setting `name` (e.g. DATABASE_URL) comes from, as Settings() reads it."""
    wanted = name.lower()
    if any(key.lower() == wanted for key in os.environ):
        return "environment"
    from dotenv import dotenv_values

    if any(key.lower() == wanted for key in dotenv_values(ENV_FILE)):
        return ".env"
    if name.upper() in read_stack_file():
        return "stack file"
    return "default"


class StackFileSource(PydanticBaseSettingsSource):
    """DATABASE_URL and REDIS_URL from the stack file, below the environment and `.env`."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return read_stack_file().get(field_name.upper()), field_name, False

    def __call__(self) -> dict[str, Any]:
        entries = read_stack_file()
        return {key.lower(): entries[key] for key in STACK_SETTINGS if entries.get(key)}


def to_sqlalchemy_url(url: str, *, driver: str = "psycopg") -> str:
    """Accept the plain `postgresql://…` form users paste and name our driver explicitly."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return f"postgresql+{driver}://" + url[len(prefix) :]
    return url


def split_setting(value: str | list[str] | None) -> list[str]:
    """Parse a list setting given as a JSON list or as comma-separated text.

    Use the JSON form for regexes that contain commas (e.g. `\\d{3,5}`).
    """
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    stripped = value.strip()
    if stripped.startswith("["):
        parsed = json.loads(stripped)
        if not isinstance(parsed, list):
            raise ValueError("expected a JSON list")
        return [str(v) for v in parsed if str(v).strip()]
    return [part.strip() for part in stripped.split(",") if part.strip()]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            file_secret_settings,
            StackFileSource(settings_cls),
        )

    database_url: str = "postgresql://postgres@127.0.0.1:5432/faultline"
    redis_url: str = "redis://127.0.0.1:6379/0"
    celery_broker_url: str | None = None  # defaults to REDIS_URL
    public_url: str = "http://localhost:8000"  # how SDKs reach us; used to print DSNs

    # The seed endpoint creates a project for an unknown `project_key` (that key is then its secret),
    # at most AUTO_CREATE_MAX_PROJECTS of them (0 = no cap). Turn it off in production.
    auto_create_projects: bool = True
    auto_create_max_projects: int = Field(default=20, ge=0)
    secret_key: str = "dev-insecure-change-me"  # signs session cookies and CSRF tokens
    # Session and CSRF cookies are sent only over HTTPS. Unset: on exactly when PUBLIC_URL is https.
    secure_cookies: bool | None = None

    # Analysis. LLM_PROVIDER picks who writes analyses: `heuristic` (the default: offline, rule-based,
    # free), `openai` (any OpenAI-compatible server) or `anthropic`.
    # Fallback: an LLM provider that is chosen but not configured, i.e. with no LLM_MODEL, or with
    # neither LLM_BASE_URL nor LLM_API_KEY (nothing to call), does not stop ingest or the worker:
    # analyses are written by the heuristic, and the worker logs a warning at start naming what
    # is missing (each analysis also records provider "heuristic"). Settings that are present but
    # unusable (LLM_TIMEOUT_S over 200 s, a base URL that is not http(s)) are an error instead: the
    # worker logs it at start and each analysis is recorded `failed` with that reason.
    llm_provider: Literal["heuristic", "openai", "anthropic"] = "heuristic"
    llm_base_url: str | None = None  # e.g. http://localhost:11434/v1 (Ollama); vendor URL if unset
    llm_api_key: str | None = None
    llm_model: str | None = None
    llm_timeout_s: float = 60.0  # per call, well under the task's 240 s soft limit (at most 200)
    llm_max_tokens: int = 1024  # the answer's cap
    llm_max_input_tokens: int = 6000  # the prompt's budget (system + event), estimated at 4 chars/token
    # Per project per UTC day (a project's own llm_daily_budget_calls overrides the calls budget);
    # past either budget, analyses are `skipped` with the reason. 0 = unlimited.
    llm_daily_budget_calls: int = 200
    llm_daily_budget_tokens: int = 0
    # The ceiling over all projects together, per UTC day, that no number of projects can raise.
    # 0 = none.
    llm_global_daily_budget_calls: int = Field(default=1000, ge=0)
    llm_global_daily_budget_tokens: int = Field(default=0, ge=0)
    analysis_retry_base_s: float = 150.0
    analysis_retry_cap_s: float = 600.0
    analysis_soft_time_limit_s: float = 240.0  # the task is told to stop (and retries); 0 = none
    analysis_hard_time_limit_s: float = 300.0  # the task's process is killed (Celery acks it)
    analysis_lease_s: float = 330.0  # a claimed analysis is re-claimable after this (> hard time limit)
    sweeper_interval_s: float = 30.0
    sweeper_min_age_s: float = 60.0  # pending analyses older than this are re-enqueued
    # The worker's nice value: analyses give way to ingest for the CPU (app/runtime/cpu_priority.py).
    # 0 = the priority it was started with.
    worker_nice: int = Field(default=10, ge=0, le=19)

    # Alerts (app/alerts). SMTP_URL: smtp://user:pass@host:port (plain), smtp+starttls://… or smtps://…
    # (TLS from the start); email rules need it and ALERT_EMAIL_FROM.
    smtp_url: str | None = None
    alert_email_from: str = "faultline@localhost"
    alert_sweeper_interval_s: float = Field(default=5.0, gt=0)  # the beat's alert sweep
    alert_sweeper_min_age_s: float = Field(default=30.0, ge=0)  # a queued delivery is re-sent after this
    alert_lease_s: float = Field(default=120.0, gt=0)  # a claimed delivery is re-claimable after this
    alert_timeout_s: float = Field(default=10.0, gt=0)  # per HTTP request / SMTP conversation
    alert_max_attempts: int = Field(default=6, ge=1)
    alert_retry_base_s: float = Field(default=10.0, ge=0)  # backoff: base * 2^(attempt-1), capped
    alert_retry_cap_s: float = Field(default=600.0, ge=0)

    # The access log (app/access_log.py): every 4xx/5xx is written; of the other answers this fraction
    # (1: all, 0: none), so a log under load stays readable.
    access_log_success_sample: float = Field(default=1.0, ge=0, le=1)

    # Ingest
    # A request body must have arrived within this, else 408 (a slow client holds a connection).
    body_read_timeout_s: float = Field(default=60.0, gt=0)
    # `python -m app serve` / `up`: a request's headers must arrive within this, else the connection
    # is closed; each web worker serves at most this many connections at once, else 503 (0 = no cap).
    header_read_timeout_s: float = Field(default=10.0, gt=0)
    web_connection_limit: int = Field(default=1000, ge=0)
    enqueue_timeout_s: float = 1.0
    rate_limit_per_minute: int = 6000  # per project, default; projects may override; 0 = unlimited
    db_unavailable_retry_after_s: int = 30
    # The database part of one ingest request must finish within this, or the answer is 503.
    ingest_db_timeout_s: float = 1.5
    # Events are accepted into the inbox and stored by digesters (app/ingest/digester.py). When
    # nothing is queued ahead, a Sentry event's answer waits up to this for the event to be stored.
    ingest_ack_wait_s: float = 2.0
    # The seed endpoint's 201 names the stored event: it waits up to this for a digester to store
    # it, else answers with null ids (the event is accepted all the same, and stored later).
    seed_answer_wait_s: float = Field(default=5.0, ge=0)
    # Each API process runs a digester of its own (`python -m app up` runs its own and turns this off).
    embedded_digester: bool = True
    digest_batch: int = Field(default=64, ge=1)  # inbox rows per digester transaction
    digest_poll_s: float = Field(default=1.0, gt=0)  # a digester also looks at the inbox this often unasked
    # During a burst the digester gives way to the answers (app/ingest/digester.py, yield_pause):
    # once new events have kept coming for YIELD_AFTER_BUSY_S (0.3 s), it pauses after each batch this
    # many times as long as the batch took (3: it takes at most a quarter of the time; 0: never
    # pauses), and never past the point where its events have waited DIGEST_MAX_DELAY_S.
    digest_yield_ratio: float = Field(default=3.0, ge=0)
    digest_max_delay_s: float = Field(default=5.0, ge=0)

    # Source maps uploaded with sentry-cli (app/sourcemaps): a chunk's size (advertised to the CLI;
    # a larger one is refused), an assembled bundle's zip, and what its files may inflate to in all.
    # The digester keeps this many parsed maps per process (an LRU of bundle files).
    sourcemap_chunk_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    sourcemap_max_bundle_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    sourcemap_max_uncompressed_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    sourcemap_cache_size: int = Field(default=64, ge=1)

    # GET /metrics (app/monitoring.py): with a token, scrapers send `Authorization: Bearer <token>`;
    # without one, only loopback clients are answered.
    metrics_token: str | None = None

    # Retention (app/retention/): events older than this many days are deleted, with the issues left
    # without events; a project's own event_retention_days overrides it. 0 = keep events forever.
    event_retention_days: int = Field(default=90, ge=0)
    retention_interval_s: float = Field(default=3600.0, gt=0)  # how often the beat task runs a pass
    retention_batch: int = Field(default=2000, ge=1)  # events deleted per transaction
    # Inbox rows of deleted projects, and rows that failed every attempt, are deleted this long after
    # they were received (time to look at a failed row's last_error first).
    inbox_prune_grace_hours: float = Field(default=168.0, ge=0)

    # Redaction on top of the built-in rules: regexes whose matches (or their `secret` group) are
    # replaced, and key names whose values are filtered. A JSON list, or comma-separated text.
    redact_extra_patterns: Annotated[list[str], NoDecode] = []
    redact_extra_fields: Annotated[list[str], NoDecode] = []
    # The event's user (id, email, username, ip_address) is stored as the SDK sent it, as Sentry does;
    # SCRUB_USER_DATA=true removes it and the client's address before storage (a project's
    # scrub_user_data, when set, overrides this). STORE_CLIENT_IP=false replaces only the client's
    # address (user.ip_address, REMOTE_ADDR, X-Forwarded-For, X-Real-IP) by "[ip]". The LLM prompt
    # never gets the user's email, username or address, whatever these say (app/privacy/redact.py).
    scrub_user_data: bool = False
    store_client_ip: bool = True

    @field_validator("redact_extra_patterns", "redact_extra_fields", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        return split_setting(value) if isinstance(value, str | list) or value is None else value

    @field_validator("redact_extra_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        # Refuse to start with a broken pattern rather than let secrets through later.
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"REDACT_EXTRA_PATTERNS: {pattern!r} is not a valid regex: {exc}") from None
        return patterns

    @field_validator("llm_provider", mode="before")
    @classmethod
    def _provider_name(cls, value: Any) -> Any:
        # `LLM_PROVIDER=` (empty, as in a .env template) means unset: the heuristic.
        if value is None or (isinstance(value, str) and not value.strip()):
            return "heuristic"
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        return to_sqlalchemy_url(value)

    @model_validator(mode="after")
    def _secure_cookies_follow_public_url(self) -> Settings:
        if self.secure_cookies is None:
            self.secure_cookies = self.public_url.strip().lower().startswith("https://")
        return self

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
