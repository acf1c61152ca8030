"""Secret and PII scrubbing: the payload and the event built from it before they are stored
(`redact_payload`, then `Redactor.redact_normalized`), and the stored event again before an LLM call
(`redact_event`)."""

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
