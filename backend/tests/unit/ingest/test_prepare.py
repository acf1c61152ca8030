"""prepare_event: the payload scrubbed once, the event built beside it, grouped as it always was."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.events.normalize import normalize_seed_event, normalize_sentry_event
from app.events.prepare import PreparedEvent, prepare_event
from app.grouping.fingerprint import compute_grouping
from app.jsonb import dumps_jsonb
from app.privacy.redact import redact_event

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
GROUPING = Path(__file__).parents[1] / "grouping"
EVENTS = Path(__file__).parents[2] / "corpus" / "events"


def sentry(payload: dict[str, Any]) -> PreparedEvent:
    return prepare_event(1, payload, normalize_sentry_event, received_at=NOW)


def stored(prepared: PreparedEvent) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `payload` and `data` columns as they are written."""
    return json.loads(prepared.payload_json), json.loads(prepared.data_json)


def test_real_sdk_events_keep_their_pinned_fingerprints_through_ingest() -> None:
    pinned = json.loads((GROUPING / "expected_v1.json").read_text())
    for path in sorted(EVENTS.glob("*.json")):
        assert sentry(json.loads(path.read_text())["event"]).fingerprint == pinned[path.stem], path.stem


def test_real_sdk_events_are_stored_as_scrubbing_the_whole_event_would_store_them() -> None:
    # Scrubbing the payload once and only the reshaped fields after normalization is a shortcut:
    # the stored event must be what scrubbing every field of the normalized event gives.
    for path in sorted(EVENTS.glob("*.json")):
        payload = json.loads(path.read_text())["event"]
        expected = redact_event(normalize_sentry_event(payload, received_at=NOW))
        assert stored(sentry(payload))[1] == json.loads(dumps_jsonb(expected)), path.stem


def test_labels_are_stored_as_sent() -> None:
    # Scrubbing the payload turns each of these into a marker; the event keeps them as sent.
    payload = {
        "event_id": "12345678-1234-1234-1234-123456789012",
        "release": "1.2.3.4",
        "server_name": "10.0.0.5",
        "exception": {
            "values": [
                {
                    "type": "NoMethodError",
                    "value": "undefined method for nil",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "gems/actionpack-7.0.4.3/lib/action_dispatch/routing.rb",
                                "function": "call",
                                "in_app": False,
                            }
                        ]
                    },
                }
            ]
        },
    }
    prepared = sentry(payload)
    _, data = stored(prepared)
    assert (prepared.event_id, prepared.release) == ("12345678123412341234123456789012", "1.2.3.4")
    assert (data["release"], data["server_name"]) == ("1.2.3.4", "10.0.0.5")
    frame = data["exceptions"][0]["frames"][0]
    assert frame["filename"] == "gems/actionpack-7.0.4.3/lib/action_dispatch/routing.rb"


def test_a_fingerprint_whose_first_entry_names_a_secret_still_expands_default() -> None:
    # ["auth-failure", "{{ default }}"] looks like a [name, value] pair to payload scrubbing.
    def event(exc_type: str) -> dict[str, Any]:
        return {
            "fingerprint": ["auth-failure", "{{ default }}"],
            "exception": {"values": [{"type": exc_type, "value": "login failed"}]},
        }

    first, second = sentry(event("KeyError")), sentry(event("ValueError"))
    assert first.fingerprint != second.fingerprint
    assert first.fingerprint == sentry(event("KeyError")).fingerprint
    assert stored(first)[1]["fingerprint"] == ["auth-failure", "{{ default }}"]


def test_the_logging_template_is_stored_scrubbed_and_groups_as_sent() -> None:
    payload = {
        "logentry": {"message": "login from 10.1.2.3 failed (password=hunter2) for %s", "params": ["bob"]},
    }
    prepared = sentry(payload)
    data = stored(prepared)[1]
    assert data["message_template"] == "login from 10.1.2.3 failed (password=[Filtered]) for %s"
    assert data["message"] == "login from 10.1.2.3 failed (password=[Filtered]) for bob"
    assert "hunter2" not in prepared.payload_json + prepared.data_json + prepared.title
    # the fingerprint is the one grouping v1 has always computed, from the template as sent
    assert (
        prepared.fingerprint == compute_grouping(normalize_sentry_event(payload, received_at=NOW)).fingerprint
    )


def test_secrets_formed_by_formatting_the_message_are_scrubbed() -> None:
    cases = [
        ("retry with %s=%s", ["token", "t0kenValue42"], "retry with token=[Filtered]"),
        ("%s %s=%s", ["db", "password", "hunter2"], "db password=[Filtered]"),
        ("%s=%s", ["password", "hunter2"], "password=[Filtered]"),
        (
            "as %(user)s, %(k)s: %(v)s",
            {"user": "app", "k": "password", "v": "hunter2"},
            "as app, password: [Filtered]",
        ),
        ("card {0} declined", [4111111111111111], "card [card] declined"),
    ]
    for template, params, message in cases:
        prepared = sentry({"logentry": {"message": template, "params": params}})
        scrubbed_payload, data = stored(prepared)
        assert data["message"] == message
        assert prepared.title == message
        for secret in ("t0kenValue42", "hunter2", "4111111111111111"):
            assert secret not in prepared.payload_json + prepared.data_json, (template, secret)
        assert scrubbed_payload["logentry"]["message"] == template


def test_seed_events_are_scrubbed_once_and_stack_text_after_parsing() -> None:
    payload = {
        "project_key": "k",
        "message": "charge failed for jane@example.com",
        "stack": (
            "Traceback (most recent call last):\n"
            '  File "/srv/shop/payments.py", line 17, in charge\n'
            '    client = Client(api_key="sk_live_4eC39HqLyjWDarjtT1zdp7dc")\n'
            "ValueError: card 4111 1111 1111 1111 rejected\n"
            "  password=hunter2\n"
        ),
        "path": "/api/charges",
        "status_code": 500,
        "user": {"email": "jane@example.com"},
        "db_password": "hunter2",
    }
    prepared = prepare_event(1, payload, normalize_seed_event, received_at=NOW)
    _, data = stored(prepared)
    for secret in ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4111 1111 1111 1111", "hunter2"):
        assert secret not in prepared.payload_json + prepared.data_json + prepared.title, secret
    # an email in text is masked; the user object is stored as sent (SCRUB_USER_DATA is off)
    assert data["message"] == "charge failed for [email]"
    assert data["user"] == {"email": "jane@example.com"}
    exc = data["exceptions"][0]
    assert exc["type"] == "ValueError"
    assert exc["value"] == "card [card] rejected\n  password=[Filtered]"
    assert exc["frames"][0]["filename"] == "/srv/shop/payments.py"
    assert exc["frames"][0]["context_line"] == 'client = Client(api_key="[Filtered]")'
    assert data["extra"]["db_password"] == "[Filtered]"
    assert data["extra"]["stack"].startswith("Traceback (most recent call last):")


def test_the_client_payload_is_not_changed() -> None:
    payload = json.loads((EVENTS / "py_a_valueerror_add_to_cart.json").read_text())["event"]
    before = json.dumps(payload, sort_keys=True)
    sentry(payload)
    assert json.dumps(payload, sort_keys=True) == before
