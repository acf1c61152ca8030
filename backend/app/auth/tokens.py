"""Secrets handed to browsers and API clients: random tokens of which we store only a sha256 hash."""

from __future__ import annotations

import hashlib
import secrets

API_TOKEN_PREFIX = "flt_"


def new_secret(nbytes: int = 32) -> str:
    """A random url-safe secret (session tokens, CSRF tokens)."""
    return secrets.token_urlsafe(nbytes)


def new_api_token() -> str:
    """`flt_` + 43 url-safe characters; the prefix makes leaked tokens easy to grep for."""
    return API_TOKEN_PREFIX + new_secret()


def token_hash(token: str) -> str:
    """sha256 hex: tokens are high-entropy, so a fast hash is enough to keep the column useless."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def display_prefix(token: str) -> str:
    """What lists show so a user can tell tokens apart (`flt_AbCdEfGh`)."""
    return token[:12]
