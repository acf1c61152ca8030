"""Login throttling, per account and per client address. Services take the session and never commit.

Every login attempt is counted as a failure against two keys before its password is checked:
`email:<address as typed, lowercased>` and `ip:<client address>`. The count is one upsert per key
(app/auth/repository.py), committed by the caller before Argon2 runs, so a burst of parallel guesses
cannot all slip past the check. A success takes its attempt back: the account's count is reset, the
address's count loses the one attempt (an attacker cannot clear their address by logging into an
account of their own).

A key with too many failures is locked: the attempt is answered `429` with `Retry-After`, without
checking the password and without counting. The lock doubles with each further failure, up to a cap:
- an address is locked after 5 failures, for 1 minute, then 2, 4, … up to a day: one attacking
  address is soon blocked for long;
- an account is locked after 10 failures from anywhere, for 30 s, then 1 min, … up to 15 minutes:
  a stranger cannot lock the real user out for long, and the real user is locked out from other
  addresses only by a guessing campaign from many addresses.
Failures are forgotten a day after the key's last one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import repository

FORGET_AFTER = timedelta(days=1)
_KEY_LENGTH = 320  # login_failures.key


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int  # failures allowed before the key locks
    first_lock_s: float  # the lock after the last free failure; doubles with each further one
    max_lock_s: float


ACCOUNT = ThrottlePolicy(free_failures=10, first_lock_s=30, max_lock_s=15 * 60)
ADDRESS = ThrottlePolicy(free_failures=5, first_lock_s=60, max_lock_s=24 * 3600)


class LoginThrottled(Exception):
    """Too many failed logins for this account or from this address: try again after `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"locked for {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class LoginAttempt:
    """Who tries to log in, as the throttle counts it."""

    email: str
    client: str

    def counted_keys(self) -> list[tuple[str, ThrottlePolicy]]:
        """The keys counted, in one fixed order (so two attempts never wait on each other's rows)."""
        return [
            (f"email:{self.email.strip().lower()}"[:_KEY_LENGTH], ACCOUNT),
            (f"ip:{self.client}"[:_KEY_LENGTH], ADDRESS),
        ]


async def count_attempt(session: AsyncSession, attempt: LoginAttempt, now: datetime | None = None) -> None:
    """Count the attempt against its account and address; LoginThrottled when either is locked
    (then the caller rolls back: nothing is counted)."""
    now = now or datetime.now(UTC)
    for key, policy in attempt.counted_keys():
        counted = await repository.count_login_attempt(
            session,
            key,
            now,
            free=policy.free_failures,
            first_s=policy.first_lock_s,
            cap_s=policy.max_lock_s,
            forget_s=FORGET_AFTER.total_seconds(),
        )
        if counted is None:
            raise LoginThrottled(await _retry_after_s(session, attempt, now))


async def _retry_after_s(session: AsyncSession, attempt: LoginAttempt, now: datetime) -> int:
    waits = [
        await repository.locked_for_s(
            session, key, now, free=policy.free_failures, first_s=policy.first_lock_s, cap_s=policy.max_lock_s
        )
        for key, policy in attempt.counted_keys()
    ]
    return max(1, math.ceil(max(waits)))


async def succeeded(session: AsyncSession, attempt: LoginAttempt) -> None:
    """The attempt's password was right: reset the account, take the attempt back from the address."""
    (account, _), (address, _) = attempt.counted_keys()
    await repository.forget_login_failures(session, account)
    await repository.uncount_login_attempt(session, address)
