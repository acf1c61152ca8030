"""Secret and PII scrubbing: `redact_event` before an event is stored, again before an LLM call."""

from app.privacy.patterns import AWS_KEY, CARD, EMAIL, FILTERED, IP, JWT, MARKERS, PRIVATE_KEY, TOKEN
from app.privacy.redact import (
    Redactor,
    configure_redactor,
    get_redactor,
    redact_event,
    redact_payload,
    redact_text,
    redact_value,
    split_setting,
)

__all__ = [
    "AWS_KEY",
    "CARD",
    "EMAIL",
    "FILTERED",
    "IP",
    "JWT",
    "MARKERS",
    "PRIVATE_KEY",
    "TOKEN",
    "Redactor",
    "configure_redactor",
    "get_redactor",
    "redact_event",
    "redact_payload",
    "redact_text",
    "redact_value",
    "split_setting",
]
