"""Rules for HTTP: upstream services answering 429/401/403/5xx or timing out, token auth, missing records,
and the bare gateway and not-found statuses.
"""

from __future__ import annotations

from app.analysis.providers.heuristic.registry import register
from app.analysis.providers.heuristic.rule import Rule, Sig

register(
    Rule(
        id="upstream-rate-limited",
        category="upstream_rate_limited",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"429 Client Error: Too Many Requests for url: (?P<url>\S+)", confidence=0.9),
            Sig(text=r"Client error '429 [^'\n]*' for url '(?P<url>[^'\n]+)'", confidence=0.9),
            Sig(text=r"Request failed with status code 429|\b429 Too Many Requests\b|\bTooManyRequests\b"),
            Sig(
                text=r"\bRateLimitError\b|ThrottlingException|Throttling: Rate exceeded|rate limit(?:ed)? "
                r"(?:exceeded|reached)|\bRate exceeded\b|RESOURCE_EXHAUSTED|Too Many Requests",
                confidence=0.8,
            ),
        ),
        summary="Rate-limited by a dependency: {url} answered 429 Too Many Requests",
        root_cause=(
            "The app sends more requests to this dependency than its quota allows (per second, per minute "
            "or per day), so the excess is rejected. Usual triggers: a traffic spike or fan-out (one user "
            "action making many API calls), a retry loop without backoff that multiplies traffic, many "
            "workers sharing one API key, or a lowered plan/quota."
        ),
        fix=(
            "1. Honour `Retry-After` and retry with exponential backoff and jitter, with a cap — never a "
            "tight retry loop.\n"
            "2. Reduce call volume: cache responses, batch, deduplicate, and throttle on the client side "
            "with a limiter shared by all workers.\n"
            "3. Check the provider's dashboard for the quota that was hit and ask for more if the traffic "
            "is legitimate."
        ),
        defaults={"url": "the upstream service"},
    ),
    Rule(
        id="upstream-auth",
        category="upstream_auth",
        severity="high",
        confidence=0.8,
        match=(
            Sig(
                text=r"(?P<upstream_status>401|403) Client Error: (?:Unauthorized|Forbidden) for url: "
                r"(?P<url>\S+)",
                confidence=0.9,
            ),
            Sig(
                text=r"Client error '(?P<upstream_status>401|403) [^'\n]*' for url '(?P<url>[^'\n]+)'",
                confidence=0.9,
            ),
            Sig(text=r"Request failed with status code (?P<upstream_status>401|403)"),
            Sig(
                text=r"HttpClientErrorException\$(?:Unauthorized|Forbidden)|(?P<upstream_status>401) "
                r"Unauthorized: \["
            ),
            Sig(
                text=r"Invalid API Key provided|Incorrect API key provided|invalid_api_key|InvalidAccessKeyId"
                r"|SignatureDoesNotMatch|\bExpiredToken\b|InvalidClientTokenId|UnrecognizedClientException"
                r"|The security token included in the request is (?:invalid|expired)|\binvalid_grant\b"
                r"|\binvalid_client\b|\bBad credentials\b"
            ),
            Sig(type=r"AuthenticationError|PermissionDeniedError", confidence=0.7),
        ),
        summary="A dependency rejected the app's credentials: {url} answered {upstream_status}",
        root_cause=(
            "The call to {url} was refused as unauthenticated (401: a missing, invalid or expired key or "
            "token) or unauthorised (403: a missing scope or permission, an IP allow-list, a disabled "
            "account). This typically follows a secret rotation that did not reach every process, an "
            "expired OAuth/refresh token or temporary cloud credential, a key from the wrong environment "
            "(test vs live), or a revoked key."
        ),
        fix=(
            "1. Check which credential this call uses in this environment (variable/secret name, key "
            "prefix such as test/live) and try it directly against the dependency with curl.\n"
            "2. Rotate or renew the key/token, update the secret store, and restart or reload every worker "
            "that caches it.\n"
            "3. Refresh OAuth/cloud tokens before they expire, and alert on 401/403 from dependencies "
            "separately from your own errors."
        ),
        defaults={"url": "the upstream service", "upstream_status": "401/403"},
    ),
    Rule(
        id="upstream-5xx",
        category="upstream_error",
        severity="medium",
        confidence=0.8,
        match=(
            Sig(
                text=r"(?P<upstream_status>5\d\d) Server Error: [^\n]*? for url: (?P<url>\S+)",
                confidence=0.85,
            ),
            Sig(
                text=r"Server error '(?P<upstream_status>5\d\d)[^'\n]*' for url '(?P<url>[^'\n]+)'",
                confidence=0.85,
            ),
            Sig(text=r"Request failed with status code (?P<upstream_status>5\d\d)"),
            Sig(
                text=r"HttpServerErrorException|\b(?P<upstream_status>50[234]) (?:Bad Gateway|Service "
                r"Unavailable|Gateway Time-?out)\b",
                confidence=0.7,
            ),
            Sig(
                text=r"upstream connect error or disconnect/reset before headers|no healthy upstream",
                confidence=0.75,
            ),
        ),
        summary="A dependency failed: {url} answered HTTP {upstream_status}",
        root_cause=(
            "A service this app calls returned a server error (502/503/504 usually come from the gateway or "
            "load balancer in front of it: the upstream is down, overloaded, being deployed, or too slow). "
            "The app passed the failure on as its own error instead of degrading gracefully."
        ),
        fix=(
            "1. Check the dependency's health/status page and whether the errors line up with its deploys "
            "or incidents.\n"
            "2. Retry idempotent calls with backoff inside a short overall deadline, and add a circuit "
            "breaker so an outage of the dependency does not tie up every worker.\n"
            "3. {degrade}"
        ),
        defaults={"url": "an upstream service", "upstream_status": "5xx"},
    ),
    Rule(
        id="upstream-read-timeout",
        category="read_timeout",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"Read timed out\.?(?: \(read timeout=(?P<timeout>[\d.]+)\))?", confidence=0.9),
            Sig(type=r"ReadTimeout(?:Error|Exception)?"),
            Sig(
                text=r"Net::ReadTimeout|ESOCKETTIMEDOUT|Client\.Timeout exceeded while awaiting headers"
                r"|timeout of (?P<timeout>\d+ ?ms) exceeded|timeout awaiting '?response'?|\bReadTimeout\b"
            ),
        ),
        summary="Read timeout: {host} accepted the connection but sent no response within {timeout}",
        root_cause=(
            "The connection to {host} was established, so the dependency is reachable, but it did not send "
            "a response in time. The dependency is slow or overloaded for this request (heavy work on its "
            "side, a large response, a cold start), or the timeout is too tight for this endpoint. The "
            "upstream may still complete the work, so blindly retrying a non-idempotent call can "
            "duplicate it."
        ),
        fix=(
            "1. Check the dependency's latency for this endpoint (its dashboards/status page, your APM).\n"
            "2. Set the read timeout from the endpoint's real p99 latency plus margin, and keep it below "
            "your own request/worker timeout.\n"
            "3. Retry only idempotent calls (or use idempotency keys), with backoff; move slow calls to a "
            "background job."
        ),
        defaults={"host": "the upstream server", "timeout": "the read timeout"},
    ),
    Rule(
        id="upstream-timeout",
        category="upstream_timeout",
        severity="medium",
        confidence=0.8,
        match=(
            Sig(text=r"ConnectTimeout(?:Error)?|Connection to (?P<host>[\w.-]+) timed out", confidence=0.85),
            Sig(type=r"ConnectTimeout\w*|ConnectTimeoutException|Net::OpenTimeout|OpenTimeout"),
            Sig(
                text=r"connect(?:ion)? timed out|\bETIMEDOUT\b|\[Errno 110\]|context deadline exceeded"
                r"|i/o timeout|Net::OpenTimeout|Timeout was reached|\bconnect timeout\b|Operation timed out"
                r"|deadline exceeded"
            ),
        ),
        summary="An outbound call to {host} timed out",
        root_cause=(
            "The call to {host} did not complete within its timeout. A connect timeout (`ETIMEDOUT`, "
            "`Connection timed out`, `ConnectTimeout`) means nothing answered at all: the host is down, the "
            "address is wrong, or a firewall/security group (including this app's egress rules) silently "
            "drops the traffic. An overall deadline means the dependency was reachable but too slow."
        ),
        fix=(
            "1. From the app's container: `curl -v --max-time 10 URL` or `nc -vz HOST PORT`, to tell "
            "'unreachable' from 'slow'.\n"
            "2. Check the dependency's status and any recent network, firewall or egress change.\n"
            "3. Keep explicit connect and read timeouts on every client, retry idempotent calls with "
            "backoff, and degrade gracefully (cached data, 503) while the dependency is out."
        ),
        defaults={"host": "an upstream service"},
    ),
    Rule(
        id="auth-token",
        category="authentication",
        severity="medium",
        confidence=0.8,
        match=(
            Sig(
                text=r"(?P<detail>ExpiredSignatureError|Signature has expired|jwt expired|TokenExpiredError"
                r"|InvalidSignatureError|Signature verification failed|JsonWebTokenError|jwt malformed"
                r"|InvalidTokenError|Not enough segments)"
            ),
        ),
        summary="Verifying an authentication token failed ({detail}) and surfaced as a server error",
        root_cause=(
            "A JWT/session token sent to this app was expired, malformed or signed with a different key, and "
            "the verification exception escaped the auth layer. Expired tokens are normal client behaviour; "
            "bad signatures for many users at once point to a rotated or mismatched signing key between "
            "instances or services."
        ),
        fix=(
            "1. {token_answer}\n"
            "2. If signatures are invalid, check that every instance/service uses the same signing key/JWKS "
            "and algorithm.\n"
            "3. Have clients refresh tokens before expiry; allow a little clock skew (`leeway`)."
        ),
    ),
    Rule(
        id="record-not-found",
        category="not_found",
        severity="medium",
        confidence=0.8,
        match=(
            Sig(text=r"\b(?P<model>\w{1,80}) matching query does not exist", confidence=0.85),
            Sig(text=r"Couldn't find (?P<model>\w+) with", confidence=0.85),
            Sig(
                text=r"No row was found when one was required|NoResultFound|RecordNotFound"
                r"|EntityNotFoundException|sql: no rows in result set|ObjectDoesNotExist|\bDoesNotExist\b"
            ),
            Sig(type=r"Http404|NotFound|NotFoundError|NotFoundException", confidence=0.6),
        ),
        summary="A lookup found no record[[ ({model})]] and the miss was not handled",
        root_cause=(
            "The code fetched a single record by id/key (`get()`, `.one()`, `find`, a scan expecting one "
            "row) "
            "and it did not exist — a deleted or never-created record, a stale id from a client, or data not "
            "yet committed/replicated. Unhandled, the miss becomes a server error instead of a 404."
        ),
        fix=(
            "1. {not_found_answer}\n"
            "2. If it must exist, find why it does not (deleted by another flow, a wrong id, replica lag, "
            "reading before the writing transaction committed).\n"
            "3. Add a test for the missing-record case."
        ),
    ),
    Rule(
        id="gateway-status",
        category="upstream_error",
        severity="medium",
        confidence=0.3,
        match=(Sig(status=(502, 503, 504)),),
        summary="No recognisable cause, but the status suggests a dependency or backend was unavailable",
        root_cause=(
            "Only the status code points anywhere here: 502 Bad Gateway, 503 Service Unavailable and 504 "
            "Gateway Timeout usually mean a proxy could not get a timely answer from the service behind "
            "it, or "
            "the app itself reported a dependency outage or overload. This is an inference from the status "
            "code alone."
        ),
        fix=(
            "1. Check the health of the backend/dependencies behind {route} at the time of the event, and "
            "the proxy's error log.\n"
            "2. Look for deploys, restarts or saturation (CPU, workers, connections) at that time.\n"
            "3. Send the underlying exception with the event so its cause can be identified."
        ),
    ),
    Rule(
        id="http-not-found",
        category="not_found",
        severity="low",
        confidence=0.5,
        match=(Sig(status=(404, 410)),),
        summary="The requested resource does not exist",
        root_cause=(
            "A client requested a URL or record that does not exist: a stale link or bookmark, a client "
            "calling a removed or renamed API route, a deleted record, or a scanner/bot probing paths."
        ),
        fix=(
            "1. If the route should exist, check the router/prefix configuration and recent renames.\n"
            "2. If clients still call an old route, add a redirect or keep a compatibility route.\n"
            "3. Otherwise this is expected traffic: consider not reporting 404s as errors."
        ),
    ),
)
