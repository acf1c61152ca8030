"""Secrets planted everywhere in an event never reach the LLM, nor the stored event; the user's
identity is stored as the project's settings say and never reaches the LLM.

One seed JSON event and one Sentry envelope, each carrying every kind of secret in every place a
client puts them, go through real ingest and a real worker calling the fake LLM server. Then the
test reads what a leak would look like: the bodies the fake server received, and the stored
`error_events.payload` / `data` columns and the issue's title. A second test does the same for
secrets that no single field holds, which appear only when a logging template is formatted with
its params. A third sends users to projects that keep and that scrub user data, with a browser's
User-Agent and a version in the error, which must come through unmangled.
"""

from __future__ import annotations

import json
import uuid

import httpx

from app.db import sync_session
from app.projects.service import sync_create_project, sync_set_scrub_user_data
from tests.e2e import llm_helpers
from tests.e2e.llm_helpers import llm_env, post_event, sent_text, wait_final
from tests.fake_llm.server import FakeLLMServer
from tests.support.db import rows

fake_llm = llm_helpers.fake_llm

SECRETS = {
    "connection-string password": "Hunter2-Db-Pass",
    "bearer token": "b7e1c9d4a2f06e3b8c5d1a9f7e2b4c6d",
    "sk- API key": "sk-proj-Q2w9E4r7T1y8U3i6O0p5A2s",
    "AWS access key id": "AKIAZ7Q4M2X9L5K3J8H6",
    "AWS secret key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY",
    "JWT": (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUifQ"
        ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    ),
    "card number": "4111 1111 1111 1111",
    "card number (no spaces)": "4111111111111111",
    "card number (dots)": "5555.5555.5555.4444",
    "card number (JSON integer)": "378282246310005",
    "cookie value": "c00kieValue9f8e7d",
    "session id": "sess9a8b7c6d5e4f3a2b1c",
    "frame-vars password": "FrameVarPassw0rd!",
    "request-header API key": "hdrKey-5f4e3d2c1b0a",
    "extra password": "ExtraPassw0rd!",
    "breadcrumb password": "CrumbPassw0rd!",
    "user password": "UserPassw0rd!",
    "pw query param": "Qp4ssw0rd-pw",
    "key query param": "k3yParamValue77",
    "url-encoded password": "Enc0dedPassw0rd",
    "--password flag": "FlagPassw0rd9",
    "mysql -p": "MysqlPassw0rd8",
    "password in prose": "Pr0sePassw0rd",
    "signing_key var": "S1gningKeyValue",
    "sig param": "d41d8cd98f00b204e9800998ecf8427e",
    "[pw, value] pair": "PairPassw0rd5",
    "two-line pre_context": "Tw0LinePassw0rd",
    "SendGrid key": "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",
    "Twilio key": "SK2b0a6f0c3e2d4b1a9f8e7d6c5b4a3f2e",
    "IBAN": "DE89 3704 0044 0532 0130 00",
    "SSN": "078-05-1120",
    "JWT as a tag name": (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0YWcta2V5In0.Xq2dI8kq3vVb5o9lW1yTzG0eR7uPnM4cAhJfLsKwBtE"
    ),
    "AWS key id as a vars key": "AKIAJ3M5N7P9Q2R4S6T8",
}
# The user's identity: stored as sent (SCRUB_USER_DATA is off), never sent to the LLM.
USER_DATA = {"email": "jane.doe@example.com", "IP address": "203.0.113.77", "username": "jane_doe77"}
U = USER_DATA
S = SECRETS
WORKER_ONLY_SECRET = "ACME-123456"  # matches the worker's REDACT_EXTRA_PATTERNS only

SEED_EVENT = {
    "project_key": "secrets-seed",
    "message": (
        f"could not connect to postgresql://app:{S['connection-string password']}@db.internal:5432/shop "
        f"for {U['email']} from {U['IP address']} (order {WORKER_ONLY_SECRET}); "
        f"SSN {S['SSN']} IBAN {S['IBAN']}; the password is {S['password in prose']}"
    ),
    "stack": (
        "Traceback (most recent call last):\n"
        '  File "/srv/shop/payments.py", line 17, in charge\n'
        f'    client = Client(api_key="{S["sk- API key"]}", token="Bearer {S["bearer token"]}")\n'
        f"ValueError: card {S['card number']} rejected; id_token {S['JWT']}; "
        f"aws {S['AWS access key id']} aws_secret_access_key={S['AWS secret key']}\n"
    ),
    "method": "POST",
    "path": "/api/charges",
    "status_code": 500,
    "headers": {
        "Authorization": f"Bearer {S['bearer token']}",
        "Cookie": f"sessionid={S['session id']}; remember={S['cookie value']}",
        "X-Api-Key": S["request-header API key"],
    },
    "user": {"id": "42", "email": U["email"], "ip_address": U["IP address"], "password": S["user password"]},
    "extra": {
        "db_password": S["extra password"],
        "frame_vars": {"password": S["frame-vars password"]},
        "command": f"mysqldump -uroot -p{S['mysql -p']} shop",
        "sendgrid": S["SendGrid key"],
    },
    "breadcrumbs": [{"category": "auth", "message": f"login with password={S['breadcrumb password']}"}],
}


def sentry_event() -> dict:
    return {
        "event_id": uuid.uuid4().hex,
        "platform": "python",
        "level": "error",
        "release": "shop@2.4.1",
        "environment": "production",
        "exception": {
            "values": [
                {
                    "type": "OperationalError",
                    "module": "psycopg",
                    "value": (
                        "connection failed: password authentication failed for "
                        f"postgresql://app:{S['connection-string password']}@db.internal/shop "
                        f"(order {WORKER_ONLY_SECRET})"
                    ),
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "shop/checkout.py",
                                "function": "pay",
                                "lineno": 42,
                                "in_app": True,
                                "pre_context": [
                                    f'    token = "{S["JWT"]}"',
                                    f'    settings["password"] = "{S["two-line pre_context"]}"',
                                ],
                                "context_line": f'    stripe.api_key = "{S["sk- API key"]}"',
                                "post_context": [f"    charge({S['card number']!r})"],
                                "vars": {
                                    "password": S["frame-vars password"],
                                    "card_number": S["card number (no spaces)"],
                                    "customer": U["email"],
                                    "signing_key": S["signing_key var"],
                                    "pair": ["pw", S["[pw, value] pair"]],
                                    "amount": int(S["card number (JSON integer)"]),
                                    S["AWS key id as a vars key"]: "cached",
                                },
                            }
                        ]
                    },
                }
            ]
        },
        "request": {
            "method": "POST",
            "url": "https://shop.example/api/checkout",
            "query_string": (
                f"session_id={S['session id']}&pw={S['pw query param']}&key={S['key query param']}"
                f"&sig={S['sig param']}&next=%2Flogin%3Fpassword%3D{S['url-encoded password']}"
            ),
            "headers": {
                "Authorization": f"Bearer {S['bearer token']}",
                "Cookie": f"sessionid={S['session id']}; remember={S['cookie value']}",
                "X-Api-Key": S["request-header API key"],
                "X-Forwarded-For": U["IP address"],
            },
            "cookies": {"sessionid": S["session id"], "remember": S["cookie value"]},
            "data": {"card": S["card number"], "email": U["email"], "iban": S["IBAN"]},
            "env": {"REMOTE_ADDR": U["IP address"]},
        },
        "user": {
            "id": "42",
            "email": U["email"],
            "ip_address": U["IP address"],
            "username": U["username"],
            "password": S["user password"],
        },
        "extra": {
            "db_password": S["extra password"],
            "aws_access_key_id": S["AWS access key id"],
            "aws_secret_access_key": S["AWS secret key"],
            "sys.argv": ["manage.py", "sync", "--password", S["--password flag"]],
            "twilio": f"using {S['Twilio key']}",
            "paid_with": S["card number (dots)"],
        },
        "breadcrumbs": {
            "values": [
                {
                    "category": "http",
                    "message": f"POST https://api.example/login password={S['breadcrumb password']}",
                    "data": {"Authorization": f"Bearer {S['bearer token']}"},
                },
                {"category": "query", "message": f"SELECT * FROM users WHERE email = '{U['email']}'"},
                {"category": "auth", "message": f"{U['username']} signed in from {U['IP address']}"},
            ]
        },
        "tags": {"client_ip": U["IP address"], S["JWT as a tag name"]: "1"},
    }


def send_envelope(base_url: str, event: dict | None = None, project_name: str = "secrets-sdk") -> None:
    with sync_session() as session:
        project = sync_create_project(session, project_name)
        project_id, key = project.id, project.public_key
    event = event or sentry_event()
    header = {"event_id": event["event_id"], "dsn": f"http://{key}@127.0.0.1/{project_id}"}
    body = "\n".join([json.dumps(header), json.dumps({"type": "event"}), json.dumps(event)]) + "\n"
    response = httpx.post(
        f"{base_url}/api/{project_id}/envelope/",
        content=body.encode(),
        headers={
            "Content-Type": "application/x-sentry-envelope",
            "X-Sentry-Auth": f"Sentry sentry_key={key}",
        },
    )
    assert response.status_code == 200, response.text


def leaked(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


def test_planted_secrets_reach_neither_the_llm_nor_the_database(
    live_server, workers, fake_llm: FakeLLMServer
) -> None:
    workers.ensure(llm_env(fake_llm))

    post_event(live_server.url, SEED_EVENT)
    send_envelope(live_server.url)
    first, second = wait_final(2)

    assert (first["status"], second["status"]) == ("done", "done")
    assert fake_llm.call_count == 2
    sent = sent_text(fake_llm)
    assert leaked(sent) == []
    assert [name for name, value in USER_DATA.items() if value in sent] == []
    assert WORKER_ONLY_SECRET not in sent
    # The events did arrive, with their secrets replaced rather than the text dropped.
    assert "could not connect to postgresql://app:[Filtered]@db.internal:5432/shop" in sent
    assert "password authentication failed for postgresql://app:[Filtered]@db.internal/shop" in sent
    assert "POST https://api.example/login password=[Filtered]" in sent  # a breadcrumb in the prompt

    stored = rows("SELECT payload, data FROM error_events ORDER BY id")
    assert len(stored) == 2
    for row in stored:
        for column in ("payload", "data"):
            assert leaked(json.dumps(row[column])) == [], column
    # The user is stored as the SDK sent it, less its password (SCRUB_USER_DATA is off by default).
    seed_user, sdk_user = stored[0]["data"]["user"], stored[1]["data"]["user"]
    assert seed_user == {
        "id": "42",
        "email": U["email"],
        "ip_address": U["IP address"],
        "password": "[Filtered]",
    }
    assert sdk_user == {**sentry_event()["user"], "password": "[Filtered]"}
    assert stored[1]["payload"]["user"] == sdk_user
    assert stored[1]["data"]["request"]["env"] == {"REMOTE_ADDR": U["IP address"]}
    # Ingest does not know the worker's extra pattern: stored as sent, scrubbed only on the way out.
    assert WORKER_ONLY_SECRET in json.dumps(stored[0]["payload"])
    for issue in rows("SELECT title, culprit FROM issues"):
        assert leaked(json.dumps(issue)) == []


# Secrets that no single field shows: normalization formats the logging template with its params,
# and only the formatted message holds "token=..." (a [name, value] pair would be caught by itself).
COMPOSED = {
    "composed token": "C0mposedT0kenValue9",
    "composed password": "N4medParamPassw0rd",
    "template password": "TemplatePassw0rd77",
}


def composed_events() -> list[dict]:
    return [
        {
            "event_id": uuid.uuid4().hex,
            "platform": "python",
            "level": "error",
            "logger": "shop.auth",
            # The template itself holds a secret too; it is stored beside the formatted message.
            "logentry": {
                "message": (
                    f"login for %s failed (password={COMPOSED['template password']}), retry with %s=%s"
                ),
                "params": ["jane", "token", COMPOSED["composed token"]],
            },
        },
        {
            "event_id": uuid.uuid4().hex,
            "platform": "python",
            "level": "error",
            "logger": "shop.db",
            "logentry": {
                "message": "reconnect as %(user)s with %(field)s: %(value)s",
                "params": {"user": "app", "field": "password", "value": COMPOSED["composed password"]},
            },
        },
    ]


def test_secrets_composed_by_normalization_reach_neither_the_llm_nor_the_database(
    live_server, workers, fake_llm: FakeLLMServer
) -> None:
    workers.ensure(llm_env(fake_llm))

    for n, event in enumerate(composed_events()):
        send_envelope(live_server.url, event, project_name=f"composed-{n}")
    analyses = wait_final(2)

    assert [a["status"] for a in analyses] == ["done", "done"]
    sent = sent_text(fake_llm)
    stored = rows("SELECT payload, data FROM error_events ORDER BY id")
    issues = rows("SELECT title, culprit FROM issues ORDER BY id")
    everything = sent + json.dumps(stored) + json.dumps(issues)
    assert [name for name, secret in COMPOSED.items() if secret in everything] == []
    # The messages arrived, formatted, with only the secrets replaced.
    assert [row["data"]["message"] for row in stored] == [
        "login for jane failed (password=[Filtered]), retry with token=[Filtered]",
        "reconnect as app with password: [Filtered]",
    ]
    assert stored[0]["data"]["message_template"] == (
        "login for %s failed (password=[Filtered]), retry with %s=%s"
    )
    assert "retry with token=[Filtered]" in sent
    assert "reconnect as app with password: [Filtered]" in sent


CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


def user_event() -> dict:
    """An event as the Python SDK sends it with send_default_pii: the user, the client's address."""
    return {
        "event_id": uuid.uuid4().hex,
        "platform": "python",
        "level": "error",
        "exception": {
            "values": [
                {
                    "type": "UnsupportedClient",
                    "value": "client version 2.4.1.0 is not supported (backend 172.18.0.3:5432)",
                }
            ]
        },
        "request": {
            "method": "GET",
            "url": "https://shop.example/api/cart",
            "headers": {"User-Agent": CHROME_UA, "X-Forwarded-For": U["IP address"]},
            "env": {"REMOTE_ADDR": U["IP address"]},
        },
        "user": {"id": "42", "email": U["email"], "username": U["username"], "ip_address": U["IP address"]},
        "breadcrumbs": {"values": [{"category": "auth", "message": f"{U['username']} signed in"}]},
    }


def test_user_data_follows_the_project_setting_and_never_reaches_the_llm(
    live_server, workers, fake_llm: FakeLLMServer
) -> None:
    workers.ensure(llm_env(fake_llm))
    with sync_session() as session:
        sync_create_project(session, "users-kept")  # scrub_user_data NULL: SCRUB_USER_DATA (off)
        scrubbed = sync_create_project(session, "users-scrubbed")
        seed_scrubbed = sync_create_project(session, "seed-users-scrubbed")
        seed_key = seed_scrubbed.public_key  # a project made in the CLI takes its DSN key
    with sync_session() as session:
        sync_set_scrub_user_data(session, scrubbed.id, True)
        sync_set_scrub_user_data(session, seed_scrubbed.id, True)

    send_envelope(live_server.url, user_event(), project_name="users-kept")
    send_envelope(live_server.url, user_event(), project_name="users-scrubbed")
    post_event(
        live_server.url,
        {
            "project_key": seed_key,
            "message": "checkout failed",
            "status_code": 500,
            "user": {"id": "7", "email": U["email"]},
        },
    )
    analyses = wait_final(3)

    assert [a["status"] for a in analyses] == ["done", "done", "done"]
    sent = sent_text(fake_llm)
    assert [name for name, value in USER_DATA.items() if value in sent] == []
    assert "client version 2.4.1.0 is not supported (backend 172.18.0.3:5432)" in sent

    stored = {
        row["name"]: row
        for row in rows(
            "SELECT p.name, e.payload, e.data FROM error_events e JOIN projects p ON p.id = e.project_id"
        )
    }
    kept, gone, seed_gone = stored["users-kept"], stored["users-scrubbed"], stored["seed-users-scrubbed"]
    assert kept["data"]["user"] == kept["payload"]["user"] == user_event()["user"]
    assert kept["data"]["request"]["env"] == {"REMOTE_ADDR": U["IP address"]}
    assert gone["data"]["user"] == {} and "user" not in gone["payload"]
    assert gone["data"]["request"]["env"] == {"REMOTE_ADDR": "[ip]"}
    assert gone["data"]["request"]["headers"]["X-Forwarded-For"] == "[ip]"
    assert seed_gone["data"]["user"] == {} and "user" not in seed_gone["payload"]
    for row in (gone, seed_gone):
        assert [n for n, v in USER_DATA.items() if v in json.dumps([row["payload"], row["data"]])] == []
    # What users need to debug is not taken for personal data: a browser's version, a client version.
    for row in (kept, gone):
        assert row["data"]["request"]["headers"]["User-Agent"] == CHROME_UA
        assert row["payload"]["request"]["headers"]["User-Agent"] == CHROME_UA
    titles = {row["title"] for row in rows("SELECT title FROM issues")}
    assert "UnsupportedClient: client version 2.4.1.0 is not supported (backend 172.18.0.3:5432)" in titles
