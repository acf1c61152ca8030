"""Secret and PII scrubbing: the payload and the event built from it before they are stored
(`redact_payload`, then `Redactor.redact_normalized`), and the stored event again before an LLM call
(`redact_for_prompt`). The policy is described in app/privacy/redact.py, its tables are in
app/privacy/patterns.py."""

from app.privacy.patterns import (
    AWS_KEY,
    CARD,
    EMAIL,
    FILTERED,
    IBAN,
    IP,
    JWT,
    MARKERS,
    PRIVATE_KEY,
    SSN,
    TOKEN,
    USER,
)
from app.privacy.redact import (
    KEEP_USER_DATA,
    Redactor,
    UserDataPolicy,
    configure_redactor,
    get_redactor,
    redact_event,
    redact_for_prompt,
    redact_payload,
    redact_text,
    redact_value,
    split_setting,
    user_data_policy,
)

__all__ = [
    "AWS_KEY",
    "CARD",
    "EMAIL",
    "FILTERED",
    "IBAN",
    "IP",
    "JWT",
    "KEEP_USER_DATA",
    "MARKERS",
    "PRIVATE_KEY",
    "SSN",
    "TOKEN",
    "USER",
    "Redactor",
    "UserDataPolicy",
    "configure_redactor",
    "get_redactor",
    "redact_event",
    "redact_for_prompt",
    "redact_payload",
    "redact_text",
    "redact_value",
    "split_setting",
    "user_data_policy",
]
