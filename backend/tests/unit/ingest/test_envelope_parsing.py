"""Envelope parsing: the format's corners, malformed bodies, and envelopes as real SDKs send them."""

from __future__ import annotations

import asyncio
import gzip
import math
from collections.abc import AsyncIterator

import orjson
import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope as SdkEnvelope
from sentry_sdk.envelope import Item as SdkItem
from sentry_sdk.envelope import PayloadRef
from sentry_sdk.transport import HttpTransport, Transport
from sentry_sdk.utils import event_from_exception

from app.ingest.body import read_body
from app.ingest.envelope import parse_envelope, parse_json_payload
from app.ingest.limits import (
    MAX_COMPRESSED_BODY_BYTES,
    MAX_DECOMPRESSED_BYTES,
    MAX_EVENT_BYTES,
    BadPayload,
)
from app.ingest.sentry_auth import extract_sentry_key

EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"
KEY = "e12d836b15bb49d7bbf99e64295d995b"
DSN = f"https://{KEY}@sentry.example.com/42"
HEAD = orjson.dumps({"event_id": EVENT_ID, "dsn": DSN})
EVENT = b'{"message":"hello world","level":"error"}'


def test_explicit_lengths_with_a_binary_attachment_containing_newlines() -> None:
    attachment = b"\xef\xbb\xbfHello\r\n\n\x00\xff\nlast line\n"
    body = (
        HEAD
        + b"\n"
        + orjson.dumps({"type": "attachment", "length": len(attachment), "filename": "app.log"})
        + b"\n"
        + attachment
        + b"\n"
        + orjson.dumps({"type": "event", "length": len(EVENT), "content_type": "application/json"})
        + b"\n"
        + EVENT
        + b"\n"
    )
    envelope = parse_envelope(body)
    assert envelope.headers == {"event_id": EVENT_ID, "dsn": DSN}
    assert [item.type for item in envelope.items] == ["attachment", "event"]
    assert envelope.items[0].payload == attachment
    assert envelope.items[0].headers["filename"] == "app.log"
    assert envelope.event_item() is envelope.items[1]
    assert envelope.event_item().payload == EVENT


@pytest.mark.parametrize("ending", [b"\n", b""])
def test_implicit_lengths_run_to_the_newline_or_the_end(ending: bytes) -> None:
    body = HEAD + b'\n{"type":"session"}\n{"sid":"x"}\n{"type":"event"}\n' + EVENT + ending
    envelope = parse_envelope(body)
    assert [(item.type, item.payload) for item in envelope.items] == [
        ("session", b'{"sid":"x"}'),
        ("event", EVENT),
    ]


def test_length_payload_may_end_the_body_without_newline() -> None:
    body = HEAD + b"\n" + orjson.dumps({"type": "event", "length": len(EVENT)}) + b"\n" + EVENT
    assert parse_envelope(body).event_item().payload == EVENT


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"{}\n",
        HEAD,
        HEAD + b"\n",
        HEAD + b"\n\n\n",
    ],
)
def test_envelopes_without_items(body: bytes) -> None:
    envelope = parse_envelope(body)
    assert envelope.items == []
    assert envelope.event_item() is None


def test_empty_item_headers_and_zero_length_payloads() -> None:
    # Relay's own corner cases: a zero-length item followed by its newline, and one ending the body.
    body = HEAD + b'\n{"type":"attachment","length":0}\n\n{"type":"attachment","length":0}'
    assert [item.payload for item in parse_envelope(body).items] == [b"", b""]
    # A last headers line with no payload and no newline at all.
    assert parse_envelope(HEAD + b'\n{"type":"attachment"}').items[0].payload == b""


def test_implicit_length_item_with_an_empty_payload_in_the_middle() -> None:
    body = HEAD + b'\n{"type":"client_report"}\n\n{"type":"event"}\n' + EVENT + b"\n"
    envelope = parse_envelope(body)
    assert [(item.type, item.payload) for item in envelope.items] == [
        ("client_report", b""),
        ("event", EVENT),
    ]


def test_unknown_item_types_are_kept_and_the_event_found_among_them() -> None:
    body = (
        HEAD
        + b'\n{"type":"replay_recording_v9","length":3}\n\x00\n\x01\n'
        + b'{"type":"transaction"}\n{"type":"transaction"}\n'
        + b'{"type":"event"}\n'
        + EVENT
        + b'\n{"type":"event"}\n{"second":true}\n'
    )
    envelope = parse_envelope(body)
    assert [item.type for item in envelope.items] == ["replay_recording_v9", "transaction", "event", "event"]
    assert envelope.items[0].payload == b"\x00\n\x01"
    assert envelope.event_item().payload == EVENT  # the first event


def test_blank_lines_crlf_and_extra_trailing_newlines_are_tolerated() -> None:
    body = b"\n" + HEAD + b"\r\n\n\n" + b'{"type":"event"}  \r\n' + EVENT + b"\n\n\r\n"
    envelope = parse_envelope(body)
    assert envelope.headers["event_id"] == EVENT_ID
    assert envelope.event_item().payload == EVENT


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty envelope"),
        (b" \n\r\n", "empty envelope"),
        (b"not json\n", "envelope headers: invalid JSON"),
        (b'{"event_id": "abc"\n', "envelope headers: invalid JSON"),
        (b'[{"event_id": "abc"}]\n', "envelope headers: expected a JSON object, got an array"),
        (b'"just a string"', "envelope headers: expected a JSON object, got a string"),
        (HEAD + b"\n{not json}\n" + EVENT, "item 0 headers: invalid JSON"),
        (HEAD + b'\n{"type":"event"}\n' + EVENT + b"\n[1]\n", "item 1 headers: expected a JSON object"),
        (HEAD + b'\n{"length":2}\n{}\n', "item 0 headers: missing or non-string 'type'"),
        (HEAD + b'\n{"type":7}\n{}\n', "item 0 headers: missing or non-string 'type'"),
        (HEAD + b'\n{"type":""}\n{}\n', "item 0 headers: missing or non-string 'type'"),
        (
            HEAD + b'\n{"type":"event","length":-1}\n{}\n',
            r"item 0 \(event\): 'length' must be a non-negative",
        ),
        (HEAD + b'\n{"type":"event","length":"2"}\n{}\n', "'length' must be a non-negative integer, got '2'"),
        (HEAD + b'\n{"type":"event","length":true}\n{}\n', "got True"),
        (HEAD + b'\n{"type":"event","length":2.0}\n{}\n', "got 2.0"),
        (
            HEAD + b'\n{"type":"event","length":500}\n' + EVENT + b"\n",
            r"item 0 \(event\): 'length' is 500 bytes but only 42 bytes remain",
        ),
        (
            HEAD + b'\n{"type":"event","length":5}\n' + EVENT + b"\n",
            r"item 0 \(event\): expected a newline after its 5-byte payload, found b's'",
        ),
    ],
)
def test_malformed_envelopes(body: bytes, message: str) -> None:
    with pytest.raises(BadPayload, match=message) as caught:
        parse_envelope(body)
    assert caught.value.status_code == 400
    assert caught.value.to_dict()["detail"] == caught.value.message


def test_invalid_header_json_reports_the_parser_error_as_a_cause() -> None:
    with pytest.raises(BadPayload) as caught:
        parse_envelope(HEAD + b'\n{"type":"event",}\n{}')
    assert caught.value.causes and "line 1" in caught.value.causes[0]


def test_headers_line_length_is_capped_before_any_parsing() -> None:
    body = b'{"padding":"' + b"x" * (100 * 1024) + b'"}\n'
    with pytest.raises(BadPayload, match="envelope headers: line is 102414 bytes, the limit is 65536"):
        parse_envelope(body)


def test_deeply_nested_headers_line_is_refused() -> None:
    with pytest.raises(BadPayload, match="nested"):
        parse_envelope(b'{"trace":' + b"[" * 50_000 + b"\n")


# --- Envelopes the way the SDKs send them ---------------------------------------------------------


def read(body: bytes, encoding: str | None, chunk: int = 16 * 1024) -> bytes:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), chunk):
            yield body[start : start + chunk]

    return asyncio.run(
        read_body(
            chunks(),
            content_encoding=encoding,
            max_compressed=MAX_COMPRESSED_BODY_BYTES,
            max_decompressed=MAX_DECOMPRESSED_BYTES,
        )
    )


class _Captured(Transport):
    envelopes: list[SdkEnvelope] = []

    def capture_envelope(self, envelope: SdkEnvelope) -> None:
        self.envelopes.append(envelope)


def _sdk_capture() -> tuple[sentry_sdk.Client, SdkEnvelope, str]:
    """Capture a chained exception through a real sentry-python client, without any global init."""
    _Captured.envelopes = []
    client = sentry_sdk.Client(
        dsn=f"http://{KEY}@127.0.0.1:9/42", transport=_Captured, default_integrations=False
    )
    try:
        try:
            {}["missing"]
        except KeyError as cause:
            raise RuntimeError("lookup failed") from cause
    except RuntimeError as error:
        event, hint = event_from_exception(error, client_options=client.options)
        event["extra"] = {"ratio": 0.5}
        event_id = client.capture_event(event, hint=hint, scope=sentry_sdk.Scope())
    assert event_id is not None and len(_Captured.envelopes) == 1
    return client, _Captured.envelopes[0], event_id


@pytest.mark.parametrize("algo", ["gzip", "br"])
def test_real_python_sdk_envelope(algo: str) -> None:
    # The SDK's own wire serialisation (private API of the pinned sentry-sdk): exact bytes and headers.
    client, sdk_envelope, event_id = _sdk_capture()
    options = dict(client.options)
    client.close()
    options["_experiments"] = {"transport_compression_algo": algo}
    transport = HttpTransport(options)
    try:
        content_encoding, body = transport._serialize_envelope(sdk_envelope)
        auth_header = transport._auth.to_header()
    finally:
        transport.kill()
    assert content_encoding == algo

    raw = read(body.getvalue(), content_encoding)
    envelope = parse_envelope(raw)
    assert extract_sentry_key({"X-Sentry-Auth": auth_header}, {}, envelope.headers.get("dsn")) == KEY
    assert envelope.headers["event_id"] == event_id
    item = envelope.event_item()
    assert item is not None and item.headers["length"] == len(item.payload)
    event = parse_json_payload(item.payload, max_bytes=MAX_EVENT_BYTES)
    chain = event["exception"]["values"]
    assert [value["type"] for value in chain] == ["KeyError", "RuntimeError"]  # oldest first
    assert chain[1]["stacktrace"]["frames"][-1]["function"] == "_sdk_capture"


def test_python_sdk_style_envelope_with_attachment_and_nan() -> None:
    # Older Python SDKs let NaN through json.dumps; attachments are binary with explicit lengths.
    event = b'{"event_id":"%s","level":"error","extra":{"ratio":NaN,"limit":Infinity}}' % EVENT_ID.encode()
    sdk_envelope = SdkEnvelope(headers={"event_id": EVENT_ID, "sent_at": "2024-05-01T12:00:00.000000Z"})
    sdk_envelope.add_item(
        SdkItem(payload=PayloadRef(bytes=event), type="event", content_type="application/json")
    )
    sdk_envelope.add_item(SdkItem(payload=PayloadRef(bytes=b"\x89PNG\r\n\x1a\n\x00"), type="attachment"))
    body = gzip.compress(sdk_envelope.serialize(), compresslevel=9)

    envelope = parse_envelope(read(body, "gzip", chunk=100))
    assert [item.type for item in envelope.items] == ["event", "attachment"]
    assert envelope.items[1].payload == b"\x89PNG\r\n\x1a\n\x00"
    parsed = parse_json_payload(envelope.event_item().payload, max_bytes=MAX_EVENT_BYTES)
    assert math.isnan(parsed["extra"]["ratio"]) and parsed["extra"]["limit"] == math.inf


def test_node_sdk_style_envelope_without_lengths_or_compression() -> None:
    # @sentry/node: no item lengths, no Content-Encoding, key in the query string, chunked delivery.
    node_event = {
        "exception": {
            "values": [
                {
                    "type": "TypeError",
                    "value": "Cannot read properties of undefined (reading 'id')",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "node:internal/process/task_queues",
                                "function": "process.processTicksAndRejections",
                                "in_app": False,
                            },
                            {
                                "filename": "/app/src/routes/users.js",
                                "function": "getUser",
                                "lineno": 42,
                                "colno": 17,
                                "in_app": True,
                            },
                        ]
                    },
                    "mechanism": {"type": "onuncaughtexception", "handled": False},
                }
            ]
        },
        "event_id": EVENT_ID,
        "platform": "node",
        "timestamp": 1714564800.123,
        "environment": "production",
        "sdk": {"name": "sentry.javascript.node", "version": "8.9.2"},
    }
    headers = {
        "event_id": EVENT_ID,
        "sent_at": "2024-05-01T12:00:00.200Z",
        "sdk": {"name": "sentry.javascript.node", "version": "8.9.2"},
        "trace": {"environment": "production", "public_key": KEY, "trace_id": "3b2f1a" * 5 + "ab"},
    }
    body = b"\n".join(
        [
            orjson.dumps(headers),
            b'{"type":"event"}',
            orjson.dumps(node_event),
            b'{"type":"client_report"}',
            b'{"timestamp":1714564800,"discarded_events":[]}',
        ]
    )
    envelope = parse_envelope(read(body, None, chunk=1000))
    query = {"sentry_version": "7", "sentry_key": KEY, "sentry_client": "sentry.javascript.node/8.9.2"}
    assert extract_sentry_key({}, query, envelope.headers.get("dsn")) == KEY
    assert [item.type for item in envelope.items] == ["event", "client_report"]
    parsed = parse_json_payload(envelope.event_item().payload, max_bytes=MAX_EVENT_BYTES)
    assert parsed["exception"]["values"][0]["stacktrace"]["frames"][-1]["lineno"] == 42


def test_error_messages_escape_client_data_so_they_fit_in_a_header() -> None:
    body = HEAD + b'\n{"type":"ev\\r\\nX-Evil: 1\\u00e9' + b"x" * 200 + b'","length":99}\n{}'
    with pytest.raises(BadPayload) as caught:
        parse_envelope(body)
    message = caught.value.message
    assert message.isascii() and "\r" not in message and "\n" not in message
    assert len(message) < 200
