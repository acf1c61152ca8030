"""Rules for the network below HTTP: name resolution, TLS, refused/reset/unreachable connections, and the
generic timeout and connection-error guesses tried last.
"""

from __future__ import annotations

from app.analysis.providers.heuristic.registry import register
from app.analysis.providers.heuristic.rule import Rule, Sig
from app.analysis.providers.heuristic.rules.patterns import REFUSED

register(
    Rule(
        id="dns-resolution",
        category="dns_resolution",
        severity="high",
        confidence=0.9,
        match=(
            Sig(text=r"Failed to resolve '(?P<host>[^'\n]+)'"),
            Sig(text=r"getaddrinfo (?:ENOTFOUND|EAI_AGAIN) (?P<host>[\w.-]+)"),
            Sig(text=r"lookup (?P<host>[\w.-]+)(?: on [\w.:\[\]]+)?: (?:no such host|server misbehaving)"),
            Sig(text=r"UnknownHostException(?::\s*(?P<host>[\w.-]+))?"),
            Sig(text=r"could not translate host name \"(?P<host>[^\"\n]+)\" to address"),
            Sig(
                text=r"Name or service not known|nodename nor servname provided|Temporary failure in name "
                r"resolution|No address associated with hostname|getaddrinfo failed|\[Errno -[235]\]"
                r"|\[Errno 11001\]|NameResolutionError|\bEAI_AGAIN\b|\bENOTFOUND\b"
            ),
            Sig(type=r"gaierror"),
        ),
        summary="DNS lookup failed for {host}",
        root_cause=(
            "The hostname {host} could not be resolved to an IP address, so no connection was even "
            "attempted. Either the name is wrong for this environment (a typo, a Docker Compose or "
            "Kubernetes service name used outside that network, an internal name used from outside the "
            "VPC), the DNS record was removed, or the resolver itself failed (`Temporary failure` / "
            "`EAI_AGAIN` means the resolver timed out or is overloaded)."
        ),
        fix=(
            "1. Resolve it from the app's own container: `getent hosts HOST` or `nslookup HOST`.\n"
            "2. Fix the configured hostname or the DNS record / service name; in containers make sure the "
            "app and the target share a network.\n"
            "3. For intermittent `EAI_AGAIN`, check the resolver (CoreDNS, systemd-resolved) and retry "
            "with backoff."
        ),
        defaults={"host": "a hostname"},
    ),
    Rule(
        id="tls-certificate",
        category="tls_certificate",
        severity="high",
        confidence=0.9,
        match=(
            Sig(text=r"CERTIFICATE_VERIFY_FAILED\]? certificate verify failed: (?P<detail>[^(\n]+)"),
            Sig(
                text=r"(?P<detail>CERT_HAS_EXPIRED|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN"
                r"|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|ERR_TLS_CERT_ALTNAME_INVALID"
                r"|certificate has expired|self[- ]signed certificate(?: in certificate chain)?"
                r"|unable to verify the first certificate|Hostname/IP does not match certificate's altnames)"
            ),
            Sig(text=r"x509: (?P<detail>[^\n]+)"),
            Sig(
                text=r"(?P<detail>PKIX path building failed|No subject alternative (?:DNS )?names? "
                r"matching[^\n]*)"
            ),
            Sig(text=r"CERTIFICATE_VERIFY_FAILED|SSLCertVerificationError"),
            Sig(text=r"SSLHandshakeException(?::\s*(?P<detail>[^\n]+))?", confidence=0.8),
            Sig(
                text=r"(?P<detail>WRONG_VERSION_NUMBER|tlsv1 alert[^\n]*|sslv3 alert handshake failure"
                r"|SSL routines[^\n]*)",
                confidence=0.75,
            ),
            Sig(text=r"\bSSLError\b", confidence=0.65),
        ),
        summary="TLS handshake with {host} failed[[: {detail}]]",
        root_cause=(
            "The TLS connection was rejected during the handshake[[ ({detail})]]. Common causes: the "
            "server's certificate expired or was not renewed, the server sends an incomplete chain "
            "(missing intermediate), the client's CA bundle is outdated or missing in the image "
            "(`ca-certificates`, `certifi`), a self-signed or corporate-proxy certificate, a hostname "
            "that does not match the certificate, or plain HTTP spoken on a TLS port "
            "(`WRONG_VERSION_NUMBER`)."
        ),
        fix=(
            "1. Inspect the certificate: `openssl s_client -connect HOST:443 -servername HOST -showcerts` "
            "(expiry dates, chain, names).\n"
            "2. If the server's certificate is expired or its chain incomplete, fix it on the server; if the "
            "client's CA store is stale, update `ca-certificates`/`certifi` in the image.\n"
            "3. For an internal CA, add it to the trust store (`REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`, "
            "the JVM truststore) — do not turn verification off."
        ),
        defaults={"host": "the remote host"},
    ),
    Rule(
        id="connection-reset",
        category="connection_reset",
        severity="medium",
        confidence=0.8,
        match=(
            Sig(
                text=r"Connection reset by peer|\bECONNRESET\b|\[Errno 104\]|socket hang up|\[WinError "
                r"10054\]|connection was forcibly closed|Remote end closed connection without response"
                r"|RemoteDisconnected|ServerDisconnectedError|Server disconnected|Connection aborted"
                r"|EOF occurred in violation of protocol|unexpected EOF"
            ),
            Sig(type=r"ConnectionResetError|ConnectionAbortedError|RemoteDisconnected"),
        ),
        summary="The other side reset the connection[[ to {addr}]] mid-request",
        root_cause=(
            "The peer closed the TCP connection abruptly while this app was using it. Common causes: "
            "reusing a keep-alive connection the server or load balancer had already closed (its idle "
            "timeout is shorter than the client pool's), the upstream process crashed or restarted "
            "mid-request, or a proxy/NAT dropped the connection."
        ),
        fix=(
            "1. Make the client's keep-alive idle time shorter than the server/load balancer's idle timeout, "
            "or validate pooled connections before use.\n"
            "2. Retry idempotent requests once on a reset.\n"
            "3. Check the peer's logs for crashes or restarts at the time of the event."
        ),
    ),
    Rule(
        id="broken-pipe",
        category="connection_reset",
        severity="low",
        confidence=0.8,
        match=(
            Sig(text=r"Broken pipe|\bEPIPE\b|\[Errno 32\]|ClientDisconnect(?:ed)?|ClientAbortException"),
            Sig(type=r"BrokenPipeError"),
        ),
        summary="Broken pipe: the app wrote to a connection the other end had already closed",
        root_cause=(
            "If this happened while sending the HTTP response, the client (a browser, mobile app, or a proxy "
            "with a shorter timeout) gave up before the response was ready — a symptom of a slow endpoint, "
            "not a bug in the write itself. If it happened on an outbound or database socket, that peer "
            "closed the connection (restart, idle timeout)."
        ),
        fix=(
            "1. Check where it was raised ({culprit}): writing the response (client gone: look at this "
            "endpoint's latency and the proxy's timeout) or an outbound/DB socket (use pool pre-ping and "
            "keep-alive settings that match the peer).\n"
            "2. Make the endpoint faster, or move the work to a background job, so clients stop giving up.\n"
            "3. Treat client disconnects as expected: log them at info level instead of reporting errors."
        ),
    ),
    Rule(
        id="connection-refused",
        category="connection_refused",
        severity="high",
        confidence=0.8,
        match=(
            Sig(text=r"(?:ECONNREFUSED|Connection refused)[^\n]*?(?P<addr>\[?[\w.:-]{1,253}\]?:\d{2,5})\b"),
            Sig(text=REFUSED + r"|\[WinError 10061\]|Errno::ECONNREFUSED|ConnectException"),
            Sig(type=r"ConnectionRefusedError|ConnectException"),
        ),
        summary="Connection refused by {addr}[[ (port {port} is usually {service})]]",
        root_cause=(
            "The host was reachable but nothing accepted connections on that port: the target service is "
            "down, restarting or crash-looping, it listens on another port or only on localhost, or the "
            "configured address is wrong for this environment (e.g. `localhost` inside a container)."
        ),
        fix=(
            "1. Check the target is running and listening: `ss -ltnp` on its host, `docker ps` / `kubectl "
            "get pods`, its health endpoint.\n"
            "2. Verify the address the app is configured with for this environment; inside containers use "
            "the service name.\n"
            "3. If the service crashed, its own logs hold the real error; let the app wait for its "
            "dependencies at startup (health checks, retries)."
        ),
        defaults={"addr": "the target service"},
    ),
    Rule(
        id="network-unreachable",
        category="network_unreachable",
        severity="high",
        confidence=0.8,
        match=(
            Sig(
                text=r"Network is unreachable|No route to host|\bEHOSTUNREACH\b|\bENETUNREACH\b|\[Errno "
                r"11[03]\]"
            ),
        ),
        summary="No network route to {addr}",
        root_cause=(
            "The operating system has no route to the target: the host is down or its address changed, the "
            "container/VM has no network (or no IPv6 while the name resolved to an IPv6 address), or a "
            "firewall answers with 'host unreachable'."
        ),
        fix=(
            "1. From the app's container: `ip route`, `ping HOST`, `nc -vz HOST PORT`.\n"
            "2. Check the target's address and the network/VPC routing and firewall rules between them.\n"
            "3. If IPv6 is involved, prefer IPv4 or enable IPv6 networking."
        ),
        defaults={"addr": "the target host"},
    ),
    Rule(
        id="timeout-generic",
        category="timeout",
        severity="medium",
        confidence=0.4,
        match=(
            Sig(type=r"TimeoutError|Timeout|\w*TimeoutException|TimeoutExpired|\w*Timeout"),
            Sig(text=r"timed out|timeout|deadline exceeded"),
        ),
        summary="An operation timed out; the event does not say what it was waiting for",
        root_cause=(
            "Something this code waited on (a network call, a database, a lock, a subprocess or a queue) did "
            "not answer in time: {error}. The rule-based analysis cannot tell which dependency from this "
            "event."
        ),
        fix=(
            "1. At {culprit}, identify the call that timed out and its timeout value.\n"
            "2. Check that dependency's health and latency at the time of the event.\n"
            "3. Give every external call an explicit timeout with a clear error message naming the "
            "dependency, so the next event says what was slow."
        ),
    ),
    Rule(
        id="connection-error-generic",
        category="connection_error",
        severity="medium",
        confidence=0.4,
        match=(
            Sig(
                text=r"Failed to establish a new connection|Max retries exceeded with url"
                r"|\bConnectionError\b|\bConnectError\b"
            ),
            Sig(type=r"ConnectionError|ConnectError|\w*ConnectionException"),
        ),
        summary="A network connection[[ to {host}]] failed",
        root_cause=(
            "An outbound connection failed, but the event does not include the operating-system reason "
            "(refused, timeout, reset, DNS): {error}. The target may be down, unreachable from this network, "
            "or misconfigured for this environment."
        ),
        fix=(
            "1. From the app's container: `curl -v URL` or `nc -vz HOST PORT` against the target.\n"
            "2. Check the target's health and the configured address for this environment.\n"
            "3. Log the full exception chain so the underlying reason is visible next time."
        ),
    ),
)
