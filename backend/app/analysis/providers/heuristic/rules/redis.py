"""Rules for Redis: out of memory, persistence failures, auth, read-only replicas and connection failures
(from the client's own messages, and a weaker guess from wording alone).
"""

from __future__ import annotations

from dataclasses import replace

from app.analysis.providers.heuristic.registry import register
from app.analysis.providers.heuristic.rule import Rule, Sig
from app.analysis.providers.heuristic.rules.patterns import REFUSED

# Registered twice: for its exact signatures, and (tried late, less confident) as redis-connection-wording.
_REDIS_CONNECTION = Rule(
    id="redis-connection",
    category="redis_connection",
    severity="high",
    confidence=0.85,
    match=(
        Sig(
            text=r"Error (?:111|110|104|113|99|61|10061) connecting to (?P<addr>[\w.-]+:\d+)",
            confidence=0.9,
        ),
        Sig(text=r"Error connecting to Redis on (?P<addr>[\w.-]+:\d+)", confidence=0.9),
        Sig(text=r"Error while reading from (?P<addr>[\w.-]+:\d+)"),
        Sig(text=r"Timeout (?:reading from|connecting to|writing to) (?:socket|server)"),
        Sig(text=r"max number of clients reached"),
        Sig(text=r"(?:Unable to connect to|RedisConnectionException)[^\n]*?:6379", confidence=0.85),
        Sig(text=r"JedisConnectionException|Could not get a resource from the pool", confidence=0.8),
        Sig(text=(REFUSED + r"|ETIMEDOUT|ECONNRESET", r":6379\b")),
        Sig(
            type=r"redis\.\w*\.?(?:ConnectionError|TimeoutError)|Redis::(?:CannotConnectError"
            r"|TimeoutError|ConnectionError)|CannotConnectError"
        ),
    ),
    summary="The app could not talk to Redis[[ at {addr}]]",
    root_cause=(
        "Redis refused, dropped or did not answer the connection: the Redis server/container is down or "
        "restarting, the host/port in `REDIS_URL` is wrong for this environment, it reached `maxclients`, "
        "or the network path is blocked. Everything using Redis here (cache, sessions, task broker, "
        "rate limits) fails with it."
    ),
    fix=(
        "1. `redis-cli -h HOST -p PORT ping` from the app's container; check the Redis process and its log.\n"
        "2. Verify `REDIS_URL` for this environment (the service name, not `localhost`, inside containers).\n"
        "3. Decide whether Redis is optional on this code path: with a short socket timeout, treat a "
        "cache outage as a miss instead of failing the request."
    ),
)


register(
    Rule(
        id="redis-maxmemory",
        category="out_of_memory",
        severity="high",
        confidence=0.9,
        match=(Sig(text=r"OOM command not allowed when used memory > 'maxmemory'"),),
        summary="Redis refused a write: it is at its `maxmemory` limit",
        root_cause=(
            "Redis reached `maxmemory` and its eviction policy (`noeviction`, or volatile-* with no keys "
            "carrying a TTL) does not allow it to free space, so every write command fails. Typically keys "
            "are written without an expiry, a queue/stream grows because nothing consumes it, or the "
            "instance is simply too small for the data set."
        ),
        fix=(
            "1. Inspect memory: `redis-cli INFO memory`, `redis-cli --bigkeys`, and queue lengths (`LLEN`).\n"
            "2. Set TTLs on cache keys and pick a suitable `maxmemory-policy` (e.g. `allkeys-lru` for a pure "
            "cache); never evict a broker's or session store's keys silently.\n"
            "3. Drain or trim the growing structure, or give the instance more memory."
        ),
    ),
    Rule(
        id="redis-misconf",
        category="redis_persistence",
        severity="high",
        confidence=0.9,
        match=(Sig(text=r"MISCONF Redis is configured to save RDB snapshots"),),
        summary="Redis refused writes because it cannot persist its snapshot to disk",
        root_cause=(
            "Redis failed its last background save (RDB) and, with `stop-writes-on-bgsave-error yes`, now "
            "rejects every write. The save usually fails because the Redis data volume is full, Redis "
            "cannot write to its working directory (permissions), or fork() failed for lack of memory."
        ),
        fix=(
            "1. Read the Redis log for the bgsave error and check `redis-cli INFO persistence` "
            "(`rdb_last_bgsave_status`).\n"
            "2. Fix the cause: free disk space on the Redis volume, fix directory permissions, or allow "
            "overcommit (`vm.overcommit_memory=1`).\n"
            "3. Trigger `BGSAVE` and confirm it succeeds; writes resume automatically."
        ),
    ),
    Rule(
        id="redis-auth",
        category="redis_auth",
        severity="high",
        confidence=0.9,
        match=(Sig(text=r"NOAUTH Authentication required|WRONGPASS invalid username-password pair"),),
        summary="Redis rejected the app's credentials",
        root_cause=(
            "The Redis server requires a password/ACL user and the app sent none or a wrong one. This "
            "follows enabling `requirepass`/ACLs, a rotated password, or a `REDIS_URL` without the "
            "password part in this environment."
        ),
        fix=(
            "1. Check `REDIS_URL` (`redis://:PASSWORD@host:6379/0` or `redis://USER:PASSWORD@...`) for every "
            "process: web, workers, beat.\n"
            '2. Test with `redis-cli -u "$REDIS_URL" ping`.\n'
            "3. Restart processes after rotating the password."
        ),
    ),
    Rule(
        id="redis-read-only",
        category="redis_read_only",
        severity="high",
        confidence=0.9,
        match=(Sig(text=r"READONLY You can't write against a read only replica"),),
        summary="A write was sent to a read-only Redis replica",
        root_cause=(
            "The app's connection reaches a Redis replica, typically after a failover in which the old "
            "primary became a replica while the app kept its connections or a stale address."
        ),
        fix=(
            "1. Point writes at the primary (Sentinel/cluster-aware client, or the managed service's primary "
            "endpoint).\n"
            "2. Make clients reconnect after failover (Sentinel support, connection health checks).\n"
            "3. Check `redis-cli INFO replication` on the address the app uses."
        ),
    ),
    _REDIS_CONNECTION,
    replace(
        _REDIS_CONNECTION,
        id="redis-connection-wording",
        confidence=0.55,
        match=(Sig(text=(r"\bredis\b", r"connect|timed? ?out|refused")),),
    ),
)
