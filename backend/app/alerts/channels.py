"""Send one alert over its rule's channel and say how it went: webhook (signed JSON POST), Slack
incoming webhook, or email over SMTP (SMTP_URL, ALERT_EMAIL_FROM). No database here.

The outcome says whether a failure is worth retrying: 5xx, 429, timeouts and connection errors are;
any other 4xx is not (the receiver refused the message itself); a 429's Retry-After is kept.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

import httpx

from app.alerts.payload import (
    AlertFacts,
    email_parts,
    encode_body,
    retry_after_s,
    signature,
    slack_body,
    webhook_body,
)
from app.config import Settings

USER_AGENT = "Faultline-Alerts/1"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    retryable: bool = False
    response_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None


@dataclass(frozen=True)
class Target:
    """Where a rule sends: its channel, URL or address, and the webhook secret."""

    channel: str
    target: str
    secret: str | None


def send(target: Target, facts: AlertFacts, delivery_id: int, settings: Settings) -> SendResult:
    """Send the message; never raises for a failure of the receiver or the network."""
    if target.channel == "webhook":
        body = encode_body(webhook_body(facts))
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Faultline-Timestamp": timestamp,
            "X-Faultline-Delivery": str(delivery_id),
            "X-Faultline-Trigger": facts.trigger,
        }
        if target.secret:
            headers["X-Faultline-Signature"] = signature(target.secret, timestamp, body)
        return _post(target.target, body, headers, settings)
    if target.channel == "slack":
        return _post(
            target.target, encode_body(slack_body(facts)), {"Content-Type": "application/json"}, settings
        )
    if target.channel == "email":
        return _send_email(target.target, facts, delivery_id, settings)
    return SendResult(False, error=f"unknown channel {target.channel!r}")


def _post(url: str, body: bytes, headers: dict[str, str], settings: Settings) -> SendResult:
    try:
        with httpx.Client(timeout=settings.alert_timeout_s, follow_redirects=False) as client:
            response = client.post(url, content=body, headers={"User-Agent": USER_AGENT, **headers})
    except httpx.TimeoutException as exc:
        return SendResult(False, retryable=True, error=f"timeout: {exc!r}"[:500])
    except httpx.HTTPError as exc:
        return SendResult(False, retryable=True, error=f"connection error: {exc!r}"[:500])
    code = response.status_code
    if 200 <= code < 300:
        return SendResult(True, response_code=code)
    reason = f"HTTP {code}: {response.text[:300]}"
    if code == 429:
        wait = retry_after_s(response.headers.get("Retry-After"), datetime.now(UTC))
        return SendResult(False, retryable=True, response_code=code, error=reason, retry_after_s=wait)
    return SendResult(False, retryable=code >= 500, response_code=code, error=reason)


def _send_email(address: str, facts: AlertFacts, delivery_id: int, settings: Settings) -> SendResult:
    if not settings.smtp_url:
        return SendResult(False, error="SMTP_URL is not set: email alerts cannot be sent")
    subject, text, html_body = email_parts(facts)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.alert_email_from
    message["To"] = address
    message["Message-ID"] = make_msgid(idstring=f"faultline-alert-{delivery_id}")
    message["X-Faultline-Delivery"] = str(delivery_id)
    message.set_content(text)
    message.add_alternative(html_body, subtype="html")
    url = urlsplit(settings.smtp_url)
    host, timeout = url.hostname or "localhost", settings.alert_timeout_s
    try:
        if url.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, url.port or 465, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, url.port or 25, timeout=timeout)
        with client:
            if url.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        return SendResult(False, error=f"recipient refused: {exc.recipients!r}"[:500])
    except smtplib.SMTPResponseException as exc:
        # 4xx is the server's "try again later", 5xx a refusal.
        return SendResult(
            False, retryable=exc.smtp_code < 500, response_code=exc.smtp_code, error=str(exc)[:500]
        )
    except (OSError, smtplib.SMTPException) as exc:
        return SendResult(False, retryable=True, error=f"SMTP: {exc!r}"[:500])
    return SendResult(True, response_code=250)
