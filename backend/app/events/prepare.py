"""The per-event CPU work of ingest: scrub the payload, build the event from it, resolve its minified
frames through source maps, group, serialise.

The client's payload is scrubbed once (`redact_payload`) and the event is normalized beside the
scrubbed copy, taking its free-form trees from it (app/events/normalize.py); `redact_normalized`
then scrubs only what normalization read from the payload as sent and reshaped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from app.events.model import NormalizedEvent
from app.events.normalize import Normalizer
from app.grouping.fingerprint import Grouping, compute_grouping, event_title
from app.jsonb import dumps_jsonb
from app.privacy.redact import get_redactor, user_data_policy
from app.sourcemaps.resolve import FoundMap, resolve_event


@dataclass(frozen=True)
class PreparedEvent:
    """One event ready to be written: scrubbed, grouped and serialised."""

    project_id: int
    event_id: str
    fingerprint: str
    grouping_version: str
    title: str
    culprit: str
    level: str
    status_code: int | None
    environment: str | None
    release: str | None
    timestamp: datetime
    received_at: datetime
    needs_analysis: bool
    payload_json: str  # the client's payload, scrubbed
    data_json: str  # the NormalizedEvent, scrubbed

    @property
    def key(self) -> tuple[int, str]:
        """What makes two events the same event (a client resend)."""
        return (self.project_id, self.event_id)


def prepare_event(
    project_id: int,
    payload: dict[str, Any],
    normalize: Normalizer,
    *,
    received_at: datetime,
    event_id: str | None = None,
    scrub_user_data: bool | None = None,
    source_maps: dict[str, FoundMap] | None = None,
) -> PreparedEvent:
    """Scrub the payload, normalize it into an event (scrubbed too), group it, serialise both.

    `event_id`: the id the client was answered with (ingest chose it when accepting the event),
    which the event is stored under whatever the payload says. `scrub_user_data`: the project's
    override of the SCRUB_USER_DATA setting (None: follow the setting). `source_maps`: the maps of
    the payload's minified frames (app/sourcemaps/lookup.py), by file; the frames are resolved
    before anything reads them, and the source lines the maps give are scrubbed with the rest.
    """
    redactor = get_redactor()
    policy = user_data_policy(scrub_user_data)
    scrubbed = redactor.redact_payload(payload, policy)
    event = normalize(payload, received_at=received_at, scrubbed=scrubbed)
    if event_id is not None:
        event.event_id = event_id
    if source_maps:
        resolve_event(event, source_maps)
    template_as_sent = event.message_template
    event = redactor.redact_normalized(event, policy, payload)
    grouping = _grouping(event, template_as_sent)
    return PreparedEvent(
        project_id=project_id,
        event_id=event.event_id,
        fingerprint=grouping.fingerprint,
        grouping_version=grouping.version,
        title=grouping.title,
        culprit=grouping.culprit,
        level=event.level,
        status_code=event.status_code,
        environment=event.environment,
        release=event.release,
        timestamp=event.timestamp,
        received_at=received_at,
        needs_analysis=event.needs_analysis,
        payload_json=dumps_jsonb(scrubbed),
        # orjson writes the dataclass itself: the JSON of event.to_dict() without asdict's deep copy.
        data_json=dumps_jsonb(event),
    )


def _grouping(event: NormalizedEvent, template_as_sent: str | None) -> Grouping:
    """The grouping of the scrubbed event, with the logging template as sent.

    Grouping v1 has always read the template unscrubbed (only the stored copy is scrubbed now):
    scrubbing it first would move events whose template holds an address or an email to new
    issues. Only the fingerprint, a hash, sees it; the title is the scrubbed event's.
    """
    if event.message_template == template_as_sent:
        return compute_grouping(event)
    grouping = compute_grouping(replace(event, message_template=template_as_sent))
    return replace(grouping, title=event_title(event))
