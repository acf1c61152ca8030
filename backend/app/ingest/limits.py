"""Size and depth limits for Sentry ingest, and the typed errors the wire layer raises.

The limits follow Relay, Sentry's ingest server, so an event Sentry would accept is accepted here.
Every error carries the HTTP status the endpoint should answer with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

MIB = 1024 * 1024

# Relay's `max_event_size`: one event (or `/store/` body) after decompression.
MAX_EVENT_BYTES = 1 * MIB
# What we accept on the wire before decompression (Bugsink's choice; Relay's API payload limit is 20 MiB).
MAX_COMPRESSED_BODY_BYTES = 20 * MIB
# Relay's `max_envelope_size`: a whole envelope after decompression.
MAX_DECOMPRESSED_BYTES = 100 * MIB
# A `/store/` body after HTTP decompression: one event, possibly base64-encoded (4/3 of 1 MiB) with
# line breaks. Capping here, not at the envelope size, keeps a bomb sent there to a few MiB of memory.
MAX_STORE_BODY_BYTES = 2 * MIB
# 128 is serde_json's default recursion limit, which Relay parses events with, so nothing Sentry accepts is
# refused here. SDKs cap their own serialisation far lower (sentry-python trims variables at depth 10).
# It stays well below the stdlib json recursion limit (~1000) that our NaN-tolerant fallback relies on.
MAX_JSON_DEPTH = 128
# One envelope or item headers line. Real ones are a few hundred bytes (the largest, `trace`, holds a
# handful of ids); the cap bounds the work spent on a headers line that is really something else.
MAX_HEADERS_LINE_BYTES = 64 * 1024


class IngestError(Exception):
    """Base for wire-layer errors; `status_code` is the HTTP status to answer with.

    Messages are short and ASCII-only (client data in them is escaped), so they can go into a header.
    """

    status_code: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PayloadTooLarge(IngestError):
    """The body, decompressed body or event exceeds a limit: answer 413."""

    status_code: ClassVar[int] = 413


class BodyTooSlow(IngestError):
    """The body did not arrive within the body-read deadline: answer 408."""

    status_code: ClassVar[int] = 408


class BadPayload(IngestError):
    """The body cannot be decoded or parsed: answer 400 with `detail`, `causes` and `X-Sentry-Error`."""

    status_code: ClassVar[int] = 400

    def __init__(self, message: str, causes: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.causes = list(causes)

    def to_dict(self) -> dict[str, object]:
        """The JSON body of the 400 answer, shaped like Relay's."""
        return {"detail": self.message, "causes": self.causes}


# The error answers every Sentry ingest endpoint may give, for its OpenAPI description.
SENTRY_ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"description": "Malformed body: detail and causes in JSON, reason in X-Sentry-Error"},
    401: {"description": "No key, a malformed key, or conflicting keys"},
    403: {"description": "Unknown project or wrong key (the same answer for both)"},
    413: {"description": "Body, decompressed body or event over its size limit"},
    429: {"description": "Project over its rate limit: Retry-After and X-Sentry-Rate-Limits say how long"},
    503: {"description": "Event store unavailable; retry after Retry-After seconds"},
}
