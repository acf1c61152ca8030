"""Signed cookies: the session cookie and the login form's CSRF cookie, both signed with SECRET_KEY."""

from __future__ import annotations

import hmac

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from app.config import get_settings

SESSION_COOKIE = "fl_session"
LOGIN_CSRF_COOKIE = "fl_login_csrf"
LOGIN_CSRF_MAX_AGE_S = 3600


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt=f"faultline.{purpose}")


def sign(purpose: str, value: str) -> str:
    """The value signed (and timestamped) for one purpose."""
    return _serializer(purpose).dumps(value)


def unsign(purpose: str, signed: str | None, max_age_s: int) -> str | None:
    """The value if the signature is ours and younger than max_age_s, else None."""
    if not signed:
        return None
    try:
        value = _serializer(purpose).loads(signed, max_age=max_age_s)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def set_cookie(response: Response, name: str, value: str, max_age_s: int) -> None:
    """HttpOnly, SameSite=Lax, Secure when SECURE_COOKIES is on (by default: when PUBLIC_URL is https)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age_s,
        path="/",
        httponly=True,
        samesite="lax",
        secure=bool(get_settings().secure_cookies),
    )


def clear_cookie(response: Response, name: str) -> None:
    """Expire a cookie set by `set_cookie`."""
    secure = bool(get_settings().secure_cookies)
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=secure)


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; empty never matches."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
