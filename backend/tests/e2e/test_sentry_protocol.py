"""The Sentry wire protocol over real HTTP, answered as Sentry's own server answers: every auth form,
every body encoding, items with and without `length`, events and non-events, the legacy /store/,
size limits, malformed bodies, resent events and CORS for browser SDKs."""

from __future__ import annotations

import base64
import json
import uuid
import zlib

import httpx
import pytest

from tests.support.db import rows, scalar
from tests.support.sentry import (
    SentryProject,
    auth_header,
    envelope,
    error_event,
    item,
    make_project,
    post_envelope,
)

MIB = 1024 * 1024


@pytest.fixture
def project(live_server) -> SentryProject:
    return make_project(live_server.url, "shop")


@pytest.fixture
def other_project(live_server) -> SentryProject:
    return make_project(live_server.url, "billing")


def stored_event_ids() -> list[str]:
    return [r["event_id"] for r in rows("SELECT event_id FROM error_events ORDER BY id")]


def assert_stored(response: httpx.Response, event: dict) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {"id": event["event_id"]}
    assert event["event_id"] in stored_event_ids()


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers or {}, timeout=30)


# --- authentication ------------------------------------------------------------------------------


def test_x_sentry_auth_header(project):
    event = error_event()
    assert_stored(post(project.envelope_url, envelope(event), auth_header(project.key)), event)


@pytest.mark.parametrize(
    "value",
    [
        # raven-era clients: protocol 4, a timestamp and the deprecated secret
        "Sentry sentry_version=4, sentry_timestamp=1796029681, sentry_key={key}, sentry_secret=s3cr3t",
        "sentry_key={key},sentry_version=7",  # no scheme, no spaces
        "SENTRY sentry_key={key}, sentry_client=sentry.ruby/5.0",
    ],
)
def test_x_sentry_auth_as_older_and_other_clients_write_it(project, value):
    event = error_event()
    response = post(project.envelope_url, envelope(event), {"X-Sentry-Auth": value.format(key=project.key)})
    assert_stored(response, event)


def test_authorization_sentry_header(project):
    event = error_event()
    headers = {
        "Authorization": f"Sentry sentry_version=7, sentry_key={project.key}, sentry_client=raven-go/0.2"
    }
    assert_stored(post(project.envelope_url, envelope(event), headers), event)


def test_sentry_key_query_parameter_like_browser_and_node_sdks(project):
    event = error_event()
    client = "sentry.javascript.node%2F11.12.0"
    url = f"{project.envelope_url}?sentry_version=7&sentry_key={project.key}&sentry_client={client}"
    assert_stored(post(url, envelope(event)), event)


def test_dsn_in_the_envelope_header_alone(project):
    event = error_event()
    assert_stored(post(project.envelope_url, envelope(event, headers={"dsn": project.dsn})), event)


def test_every_form_at_once_when_they_agree(project):
    event = error_event()
    url = f"{project.envelope_url}?sentry_key={project.key}"
    headers = {**auth_header(project.key), "Authorization": f"Sentry sentry_key={project.key}"}
    assert_stored(post(url, envelope(event, headers={"dsn": project.dsn}), headers), event)


@pytest.mark.parametrize("where", ["query", "dsn", "authorization"])
def test_conflicting_keys_are_rejected(project, other_project, where):
    other = other_project.key
    url, headers, envelope_headers = project.envelope_url, auth_header(project.key), {}
    if where == "query":
        url += f"?sentry_key={other}"
    elif where == "dsn":
        envelope_headers["dsn"] = other_project.dsn.replace(f"/{other_project.id}", f"/{project.id}")
    else:
        headers["Authorization"] = f"Sentry sentry_key={other}"
    response = post(url, envelope(error_event(), headers=envelope_headers), headers)
    assert response.status_code == 401
    assert "conflicting" in response.headers["X-Sentry-Error"]
    assert stored_event_ids() == []


def test_missing_key_is_401(project):
    response = post(project.envelope_url, envelope(error_event()))
    assert response.status_code == 401
    assert response.headers["X-Sentry-Error"]
    store = post(project.store_url, json.dumps(error_event()).encode())
    assert store.status_code == 401
    assert stored_event_ids() == []


def test_wrong_key_other_projects_key_and_unknown_project_get_one_identical_403(project, other_project):
    body = envelope(error_event())
    wrong_key = post(project.envelope_url, body, auth_header(uuid.uuid4().hex))
    others_key = post(project.envelope_url, body, auth_header(other_project.key))
    unknown = post(
        project.envelope_url.replace(f"/{project.id}/", "/424242/"), body, auth_header(project.key)
    )
    huge_id = post(
        project.envelope_url.replace(f"/{project.id}/", "/99999999999999999999/"),
        body,
        auth_header(project.key),
    )
    not_a_number = post(
        project.envelope_url.replace(f"/{project.id}/", "/shop/"), body, auth_header(project.key)
    )
    # The project's own id in Arabic-Indic digits, which Python's int() would read as the same number.
    arabic_id = "".join(chr(0x660 + int(d)) for d in str(project.id))
    other_digits = post(
        project.envelope_url.replace(f"/{project.id}/", f"/{arabic_id}/"), body, auth_header(project.key)
    )
    answers = [wrong_key, others_key, unknown, huge_id, not_a_number, other_digits]
    assert [r.status_code for r in answers] == [403] * len(answers)
    assert len({r.content for r in answers}) == 1
    assert len({r.headers["X-Sentry-Error"] for r in answers}) == 1
    assert stored_event_ids() == []


def test_a_key_never_writes_to_another_project(project, other_project):
    # Another project's own DSN names its own project id: valid there, refused here.
    response = post(project.envelope_url, envelope(error_event(), headers={"dsn": other_project.dsn}))
    assert response.status_code in (401, 403)
    assert stored_event_ids() == []


# --- bodies --------------------------------------------------------------------------------------

ENCODINGS = ["", "gzip", "deflate", "deflate-raw", "br"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("encoding", ENCODINGS, ids=["plain", "gzip", "deflate-zlib", "deflate-raw", "br"])
def test_body_encodings_chunked_or_not(project, encoding, chunked):
    event = error_event(extra={"padding": "x" * 5000})  # several chunks
    response = post_envelope(None, project, envelope(event), encoding=encoding, chunked=chunked)
    assert_stored(response, event)


@pytest.mark.parametrize("with_length", [True, False], ids=["length", "no-length"])
def test_event_item_with_and_without_length(project, with_length):
    event = error_event()
    body = envelope(event, with_length=with_length).rstrip(b"\n")  # the Node SDK sends no final newline
    assert_stored(post_envelope(None, project, body), event)


NON_EVENT_ITEMS = {
    "transaction": {"type": "transaction", "transaction": "/checkout", "spans": [], "start_timestamp": 1.0},
    "span": {"trace_id": uuid.uuid4().hex, "span_id": "a" * 16, "op": "db.query"},
    "session": {"sid": uuid.uuid4().hex, "init": True, "status": "ok", "attrs": {"release": "shop@1.0.0"}},
    "sessions": {"aggregates": [{"started": "2026-11-30T09:00:00Z", "exited": 3}], "attrs": {"release": "1"}},
    "client_report": {
        "timestamp": 1796029681.0,
        "discarded_events": [{"reason": "queue_overflow", "category": "error", "quantity": 1}],
    },
    "check_in": {"check_in_id": uuid.uuid4().hex, "monitor_slug": "nightly", "status": "ok"},
    "log": {"items": [{"level": "error", "body": "hello"}]},
    "attachment": b"line one\nline two\x00\xff binary",
    "profile": {"version": "1"},
    "replay_event": {"replay_id": uuid.uuid4().hex},
    "future_item_type": {"anything": True},
}


@pytest.mark.parametrize("item_type", NON_EVENT_ITEMS)
def test_envelopes_without_an_event_are_accepted_and_store_nothing(project, item_type):
    payload = NON_EVENT_ITEMS[item_type]
    extra_headers = {"filename": "notes.txt"} if item_type == "attachment" else {}
    body = envelope(headers={"event_id": uuid.uuid4().hex}, items=[item(item_type, payload, **extra_headers)])
    response = post_envelope(None, project, body, encoding="gzip")
    assert response.status_code == 200, response.text
    assert response.json() == {}
    assert scalar("SELECT count(*) FROM error_events") == 0
    assert scalar("SELECT count(*) FROM issues") == 0
    # Still authenticated: a wrong key is refused even when there is nothing to store.
    refused = post_envelope(None, project, body, headers=auth_header(uuid.uuid4().hex))
    assert refused.status_code == 403


def test_envelope_with_only_headers_is_accepted(project):
    response = post_envelope(None, project, b'{"sent_at":"2026-11-30T09:00:00Z"}\n')
    assert response.status_code == 200 and response.json() == {}


def test_event_with_an_attachment_stores_the_event(project):
    event = error_event()
    attachment = item("attachment", b"\x89PNG\r\n\x1a\n\x00binary\nwith newlines", filename="screen.png")
    for body in (
        envelope(event, items=[attachment]),
        envelope(None, headers={"event_id": event["event_id"]}, items=[attachment, item("event", event)]),
    ):
        response = post_envelope(None, project, body)
        assert response.json() == {"id": event["event_id"]}
    assert stored_event_ids() == [event["event_id"]]


def test_event_id_from_the_envelope_header_when_the_event_has_none(project):
    event_id = uuid.uuid4().hex
    event = error_event()
    del event["event_id"]
    response = post_envelope(None, project, envelope(event, headers={"event_id": event_id}))
    assert response.json() == {"id": event_id}
    assert stored_event_ids() == [event_id]


# --- the legacy /store/ endpoint ------------------------------------------------------------------


def test_store_with_an_event_id(project):
    event = error_event()
    assert_stored(post(project.store_url, json.dumps(event).encode(), auth_header(project.key)), event)


def test_endpoints_without_the_trailing_slash_store_too(project):
    first, second = error_event(), error_event()
    envelope_url = project.envelope_url.rstrip("/")
    store_url = project.store_url.rstrip("/")
    assert_stored(post(envelope_url, envelope(first), auth_header(project.key)), first)
    assert_stored(post(store_url, json.dumps(second).encode(), auth_header(project.key)), second)


def test_store_without_an_event_id_makes_one(project):
    event = error_event()
    del event["event_id"]
    response = post(
        project.store_url,
        json.dumps(event).encode(),
        {**auth_header(project.key), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    made = response.json()["id"]
    assert len(made) == 32 and int(made, 16) >= 0
    assert stored_event_ids() == [made]
    assert scalar("SELECT payload->>'event_id' FROM error_events") == made


def test_store_legacy_base64_zlib_body(project):
    event = error_event()
    body = base64.b64encode(zlib.compress(json.dumps(event).encode()))
    assert_stored(post(project.store_url, body, auth_header(project.key)), event)


def test_store_gzip_body_with_query_auth(project):
    event = error_event()
    url = f"{project.store_url}?sentry_version=7&sentry_key={project.key}"
    assert_stored(
        post(url, zlib.compress(json.dumps(event).encode()), {"Content-Encoding": "deflate"}), event
    )


# --- limits ---------------------------------------------------------------------------------------


def test_event_over_one_mib_is_413(project):
    event = error_event(extra={"blob": "x" * (MIB + 10)})
    response = post_envelope(None, project, envelope(event), encoding="gzip")
    assert response.status_code == 413
    store = post(project.store_url, json.dumps(event).encode(), auth_header(project.key))
    assert store.status_code == 413
    assert stored_event_ids() == []


def test_event_just_under_one_mib_is_accepted(project):
    event = error_event(extra={"blob": "x" * (MIB - 2000)})
    assert_stored(post_envelope(None, project, envelope(event), encoding="gzip"), event)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_twenty_mib_is_413(project, chunked):
    # An attachment of incompressible bytes: the wire size itself is over the limit.
    body = envelope(error_event(), items=[item("attachment", uuid.uuid4().bytes * (21 * MIB // 16))])
    response = post_envelope(None, project, body, chunked=chunked)
    assert response.status_code == 413
    assert stored_event_ids() == []


def test_body_decompressing_past_one_hundred_mib_is_413(project):
    head = b'{}\n{"type":"attachment"}\n'
    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    bomb = compressor.compress(head) + b"".join(compressor.compress(bytes(MIB)) for _ in range(101))
    bomb += compressor.flush()
    assert len(bomb) < MIB
    response = post(project.envelope_url, bomb, {**auth_header(project.key), "Content-Encoding": "gzip"})
    assert response.status_code == 413


# --- malformed bodies -----------------------------------------------------------------------------

MALFORMED = {
    "empty": b"",
    "headers not json": b"this is not an envelope\n",
    "headers not an object": b'["event"]\n',
    "item without type": b'{}\n{"length":2}\n{}\n',
    "length past the end": b'{}\n{"type":"event","length":500}\n{"event_id":"x"}\n',
    "event not json": b'{}\n{"type":"event"}\n{"message": oops}\n',
    "event not an object": b'{}\n{"type":"event"}\n[1,2,3]\n',
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_envelopes_are_400_with_x_sentry_error(project, body):
    response = post_envelope(None, project, body)
    assert response.status_code == 400
    assert response.headers["X-Sentry-Error"]
    assert response.json()["detail"] == response.headers["X-Sentry-Error"]
    assert stored_event_ids() == []


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate", "zstd-unknown"])
def test_bodies_that_do_not_decode_are_400(project, encoding):
    headers = {**auth_header(project.key), "Content-Encoding": encoding}
    response = post(project.envelope_url, b"definitely not compressed", headers)
    assert response.status_code == 400
    assert response.headers["X-Sentry-Error"]


def test_store_body_that_is_neither_json_nor_base64_is_400(project):
    response = post(project.store_url, b"\x00\x01 not json", auth_header(project.key))
    assert response.status_code == 400
    assert response.headers["X-Sentry-Error"]


# --- resent events --------------------------------------------------------------------------------


def test_the_same_event_twice_is_accepted_twice_and_stored_once(project):
    event = error_event()
    first = post_envelope(None, project, envelope(event), encoding="gzip")
    second = post_envelope(None, project, envelope(event), encoding="br")
    via_store = post(project.store_url, json.dumps(event).encode(), auth_header(project.key))
    assert [r.status_code for r in (first, second, via_store)] == [200, 200, 200]
    assert first.json() == second.json() == via_store.json() == {"id": event["event_id"]}
    assert stored_event_ids() == [event["event_id"]]
    assert scalar("SELECT times_seen FROM issues") == 1
    assert scalar("SELECT count(*) FROM issue_analyses") == 1


def test_the_same_event_id_in_two_projects_is_two_events(project, other_project):
    event = error_event()
    post_envelope(None, project, envelope(event))
    post_envelope(None, other_project, envelope(event))
    assert stored_event_ids() == [event["event_id"]] * 2


# --- browser SDKs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "requested_headers", ["content-type", "content-type,x-sentry-auth,content-encoding,sentry-trace,baggage"]
)
def test_cors_preflight_from_a_browser(project, requested_headers):
    response = httpx.options(
        project.envelope_url,
        headers={
            "Origin": "https://shop.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": requested_headers,
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://shop.example.com")
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert set(requested_headers.split(",")) <= allowed


def test_browser_posts_get_cors_headers_on_success_and_on_errors(project):
    origin = {"Origin": "https://shop.example.com", "Content-Type": "text/plain;charset=UTF-8"}
    url = f"{project.envelope_url}?sentry_key={project.key}&sentry_version=7"
    ok = post(url, envelope(error_event(), with_length=False), origin)
    bad_key = post(f"{project.envelope_url}?sentry_key={uuid.uuid4().hex}", envelope(error_event()), origin)
    malformed = post(url, b"nope", origin)
    assert [r.status_code for r in (ok, bad_key, malformed)] == [200, 403, 400]
    for response in (ok, bad_key, malformed):
        assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://shop.example.com")
    exposed = {h.strip().lower() for h in ok.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"x-sentry-rate-limits", "retry-after", "x-sentry-error"} <= exposed
