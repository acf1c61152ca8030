"""Login throttling: a few wrong passwords from one address, then `429` with `Retry-After` there,
while the real user still logs in from elsewhere; many from anywhere lock the account, but for at
most 15 minutes. Time passes by ageing the rows in login_failures, never by sleeping.

The address the server sees is set with X-Forwarded-For, which uvicorn takes from a proxy on
127.0.0.1 (as behind a reverse proxy)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import text

from app.auth.throttle import ACCOUNT, ADDRESS
from app.db import get_sync_engine
from tests.support.dashboard import PASSWORD, csrf_of, make_user
from tests.support.db import scalar

EMAIL = "dev@example.com"


def attempt(base_url: str, address: str, password: str, email: str = EMAIL) -> httpx.Response:
    """One login form, filled in and sent, from `address`."""
    client = httpx.Client(base_url=base_url, headers={"X-Forwarded-For": address}, timeout=30)
    form = client.get("/login")
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_of(form.text)}
    )


def age(key: str, seconds: float) -> None:
    """Pretend the key's last failure happened `seconds` earlier."""
    with get_sync_engine().begin() as conn:
        conn.execute(
            text(
                "UPDATE login_failures SET last_failure_at = last_failure_at - make_interval(secs => :s)"
                " WHERE key = :k"
            ),
            {"s": seconds, "k": key},
        )


def failures(key: str) -> int | None:
    return scalar("SELECT failures FROM login_failures WHERE key = :k", k=key)


def test_wrong_passwords_from_one_address_then_429_while_the_user_logs_in_elsewhere(live_server):
    make_user()
    base = live_server.url
    assert ADDRESS.free_failures == 5
    for _ in range(5):
        assert attempt(base, "203.0.113.7", "wrong password").status_code == 401
    locked = attempt(base, "203.0.113.7", PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert 55 <= int(locked.headers["retry-after"]) <= 60
    assert "Too many failed logins. Try again in 1 minute." in locked.text
    assert "fl_session" not in locked.cookies
    assert failures("ip:203.0.113.7") == 5  # refused attempts are not counted

    # The real user, from their own address, is not locked out; their login resets the account.
    assert attempt(base, "198.51.100.20", PASSWORD).status_code == 303
    assert failures(f"email:{EMAIL}") is None
    assert failures("ip:198.51.100.20") is None  # a success takes its own attempt back
    assert failures("ip:203.0.113.7") == 5  # ... but clears nobody else's address

    # A minute later the address may try again; each further failure locks it twice as long.
    age("ip:203.0.113.7", 60)
    assert attempt(base, "203.0.113.7", "wrong again").status_code == 401
    again = attempt(base, "203.0.113.7", PASSWORD)
    assert again.status_code == 429 and 115 <= int(again.headers["retry-after"]) <= 120
    age("ip:203.0.113.7", 120)
    assert attempt(base, "203.0.113.7", PASSWORD).status_code == 303


def test_an_unknown_email_is_throttled_like_a_real_one(live_server):
    make_user()
    for _ in range(5):
        assert (
            attempt(live_server.url, "203.0.113.8", PASSWORD, email="nobody@example.com").status_code == 401
        )
    assert attempt(live_server.url, "203.0.113.8", PASSWORD, email="nobody@example.com").status_code == 429


def test_many_addresses_lock_the_account_for_at_most_15_minutes(live_server):
    make_user()
    base = live_server.url
    assert ACCOUNT.free_failures == 10
    for n in range(10):
        assert attempt(base, f"192.0.2.{n + 1}", "guess").status_code == 401
    # Now the account is locked from anywhere, briefly at first.
    locked = attempt(base, "198.51.100.20", PASSWORD)
    assert locked.status_code == 429 and 25 <= int(locked.headers["retry-after"]) <= 30
    # However long the campaign, the lock is at most 15 minutes after its last failure ...
    with get_sync_engine().begin() as conn:
        conn.execute(
            text("UPDATE login_failures SET failures = 5000 WHERE key = :k"), {"k": f"email:{EMAIL}"}
        )
    capped = attempt(base, "198.51.100.20", PASSWORD)
    assert capped.status_code == 429 and 890 <= int(capped.headers["retry-after"]) <= 900
    assert "Try again in 15 minutes." in capped.text
    # ... and then the real user logs in, which resets the account.
    age(f"email:{EMAIL}", 900)
    assert attempt(base, "198.51.100.20", PASSWORD).status_code == 303
    assert failures(f"email:{EMAIL}") is None


def test_parallel_guesses_cannot_slip_past_the_count(live_server):
    make_user()
    with ThreadPoolExecutor(12) as pool:
        answers = list(
            pool.map(lambda _: attempt(live_server.url, "203.0.113.9", "guess").status_code, range(12))
        )
    assert sorted(answers) == [401] * 5 + [429] * 7
    assert failures("ip:203.0.113.9") == 5


def test_failures_are_forgotten_after_a_day(live_server):
    make_user()
    for _ in range(4):
        assert attempt(live_server.url, "203.0.113.10", "guess").status_code == 401
    age("ip:203.0.113.10", 86_400)
    assert attempt(live_server.url, "203.0.113.10", "guess").status_code == 401
    assert failures("ip:203.0.113.10") == 1
