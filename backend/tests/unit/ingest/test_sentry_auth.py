"""Finding the project key in every form SDKs send it, and refusing missing, malformed or mixed keys."""

from __future__ import annotations

import pytest

from app.ingest.sentry_auth import AuthError, dsn_project_id, extract_sentry_key

KEY = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
DSN = f"https://{KEY}@o1.ingest.example.com/42"


def key_from(headers=None, query=None, dsn=None, **kwargs) -> str:
    return extract_sentry_key(headers or {}, query or {}, dsn, **kwargs)


@pytest.mark.parametrize(
    "value",
    [
        f"Sentry sentry_version=7, sentry_client=sentry.python/2.75.0, sentry_key={KEY}",
        f"Sentry sentry_key={KEY}, sentry_version=7, sentry_secret=s3cret",
        f"sentry sentry_key={KEY},sentry_version=7",
        f"SENTRY   sentry_version=7 ,  sentry_key = {KEY} ",
        f"\tSentry\tsentry_key={KEY}",
        f'Sentry sentry_key="{KEY}", sentry_version=7',
        f"sentry_version=7, sentry_key={KEY}",  # no scheme: the header name already says Sentry
        f"Sentry key={KEY}, version=7",
    ],
)
def test_x_sentry_auth_header_forms(value: str) -> None:
    assert key_from({"X-Sentry-Auth": value}) == KEY


@pytest.mark.parametrize("name", ["X-Sentry-Auth", "x-sentry-auth", "X-SENTRY-AUTH"])
def test_header_names_are_case_insensitive_in_a_plain_dict(name: str) -> None:
    assert key_from({name: f"Sentry sentry_key={KEY}"}) == KEY


def test_authorization_header_with_the_sentry_scheme() -> None:
    assert key_from({"Authorization": f"Sentry sentry_key={KEY}, sentry_version=7"}) == KEY


def test_authorization_with_another_scheme_is_ignored() -> None:
    # A reverse proxy's Basic or Bearer credentials are not Sentry's business.
    assert key_from({"Authorization": "Bearer abc.def.ghi"}, {"sentry_key": KEY}) == KEY
    with pytest.raises(AuthError, match="missing"):
        key_from({"Authorization": "Basic dXNlcjpwYXNz"})


def test_query_string_key_as_browser_and_node_sdks_send_it() -> None:
    query = {"sentry_version": "7", "sentry_key": KEY, "sentry_client": "sentry.javascript.node/8.0.0"}
    assert key_from(query=query) == KEY


@pytest.mark.parametrize(
    "dsn",
    [DSN, f"https://{KEY}:deprecated-secret@o1.ingest.example.com/42", f"http://{KEY}@localhost:8000/sub/42"],
)
def test_envelope_dsn(dsn: str) -> None:
    assert key_from(dsn=dsn) == KEY


def test_empty_envelope_dsn_counts_as_absent() -> None:
    assert key_from({"X-Sentry-Auth": f"Sentry sentry_key={KEY}"}, dsn="") == KEY


def test_all_forms_agreeing() -> None:
    headers = {"X-Sentry-Auth": f"Sentry sentry_key={KEY}", "Authorization": f"Sentry sentry_key={KEY}"}
    assert key_from(headers, {"sentry_key": KEY}, DSN, project_id="42") == KEY


@pytest.mark.parametrize(
    ("headers", "query", "dsn"),
    [
        ({"X-Sentry-Auth": f"Sentry sentry_key={KEY}"}, {"sentry_key": OTHER}, None),
        ({"X-Sentry-Auth": f"Sentry sentry_key={KEY}"}, {}, f"https://{OTHER}@host/42"),
        (
            {"X-Sentry-Auth": f"Sentry sentry_key={KEY}", "Authorization": f"Sentry sentry_key={OTHER}"},
            {},
            None,
        ),
        ({}, {"sentry_key": KEY}, f"https://{OTHER}@host/42"),
    ],
)
def test_conflicting_keys_are_refused_without_echoing_them(headers, query, dsn) -> None:
    with pytest.raises(AuthError, match="conflicting") as caught:
        key_from(headers, query, dsn)
    assert KEY not in caught.value.message and OTHER not in caught.value.message
    assert caught.value.status_code == 401


def test_no_credentials_at_all() -> None:
    with pytest.raises(AuthError, match="missing authentication"):
        key_from({"Content-Type": "application/x-sentry-envelope"}, {"sentry_version": "7"})


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"X-Sentry-Auth": "Sentry sentry_version=7, sentry_client=x/1"}, {}),  # no key
        ({"X-Sentry-Auth": "Sentry"}, {}),
        ({"X-Sentry-Auth": ""}, {}),
        ({"X-Sentry-Auth": "Sentry sentry_key=, sentry_version=7"}, {}),
        ({"X-Sentry-Auth": "Sentry sentry_key=abc def"}, {}),
        ({"Authorization": "Sentry sentry_key=abc;drop"}, {}),
        ({}, {"sentry_key": ""}),
        ({}, {"sentry_key": "a/b"}),
        ({}, {"sentry_key": "x" * 129}),
    ],
)
def test_malformed_keys(headers, query) -> None:
    with pytest.raises(AuthError, match="malformed"):
        key_from(headers, query)


@pytest.mark.parametrize(
    "dsn",
    [
        "not a dsn",
        "https://o1.ingest.example.com/42",
        f"https://{KEY}@host",
        f"{KEY}@host/42",
        "http://[::1/42",
        42,
    ],
)
def test_malformed_envelope_dsn(dsn) -> None:
    with pytest.raises(AuthError, match="malformed dsn"):
        key_from(dsn=dsn)


def test_envelope_dsn_for_another_project_than_the_url() -> None:
    assert key_from(dsn=DSN, project_id="42") == KEY
    with pytest.raises(AuthError, match="different project"):
        key_from(dsn=DSN, project_id="43")


@pytest.mark.parametrize(
    ("dsn", "project"),
    [
        (DSN, "42"),
        (f"https://{KEY}@host/sentry/7/", "7"),
        (f"https://{KEY}:secret@host:9000/1234", "1234"),
        (f"https://{KEY}@host", None),
        (f"https://{KEY}@host/", None),
        ("http://[::1/42", None),
    ],
)
def test_dsn_project_id(dsn: str, project: str | None) -> None:
    assert dsn_project_id(dsn) == project


def test_parsed_values_are_remembered_but_never_a_rejection_or_a_mismatch() -> None:
    """Each distinct header and DSN is parsed once (SDKs repeat them); what is refused stays refused."""
    header = {"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={KEY}"}
    assert key_from(header) == key_from(header) == KEY
    for _ in range(2):
        with pytest.raises(AuthError, match="no sentry_key"):
            key_from({"X-Sentry-Auth": "Sentry sentry_version=7"})
        with pytest.raises(AuthError, match="different project"):
            key_from(dsn=DSN, project_id="43")
    assert key_from(dsn=DSN, project_id="42") == KEY


def test_long_values_are_still_parsed() -> None:
    padding = ", ".join(f"sentry_extra{i}=x" for i in range(100))
    assert key_from({"X-Sentry-Auth": f"Sentry {padding}, sentry_key={KEY}"}) == KEY
    assert key_from(dsn=f"https://{KEY}@{'a' * 600}.example.com/42", project_id="42") == KEY
