"""Rules for failures only a browser has: a `fetch` that never got an answer, a code-split chunk that is
gone after a deploy, and a cross-origin script whose error the browser hides.

A browser's `TypeError: Failed to fetch` is a network failure, not a wrong type, so these are tried
before the everyday code bugs.
"""

from __future__ import annotations

from app.analysis.providers.heuristic.registry import register
from app.analysis.providers.heuristic.rule import Rule, Sig

register(
    Rule(
        id="browser-fetch-failed",
        category="browser_network",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(
                type=r"TypeError",
                text=r"^(?:Failed to fetch|NetworkError when attempting to fetch resource\.?|Load failed"
                r"|Network request failed)(?: \((?P<host>[\w.-]+)\))?$",
            ),
            Sig(type=r"AxiosError", text=r"^Network Error$", confidence=0.8),
        ),
        summary="A request from the page got no HTTP answer at all (the browser's fetch failed)",
        root_cause=(
            "The browser could not complete the request[[ to {host}]]: no HTTP status came back, so the "
            "code only sees a network error. Usual causes: the user went offline or navigated away "
            "mid-request, a CORS preflight the API refused (the browser hides the details), an ad or "
            "privacy blocker, a mixed-content (HTTP from an HTTPS page) or CSP block, or the API being down "
            "or unreachable from the user's network."
        ),
        fix=(
            "1. Open the browser's network tab for this call (at {culprit}) to tell CORS, blocked and "
            "offline apart; check the API's CORS headers for this page's origin.\n"
            "2. Catch the rejection of `fetch` and show an error state with a retry, instead of an "
            "uncaught error; retry idempotent calls once with backoff.\n"
            "3. If most events come from a few users or networks, treat it as noise (filter it in the SDK's "
            "`ignoreErrors`) rather than a bug."
        ),
    ),
    Rule(
        id="chunk-load-failed",
        category="deployment",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"Loading (?:CSS )?chunk (?P<chunk>[\w-]+) failed"),
            Sig(
                text=r"Failed to fetch dynamically imported module:? ?(?P<url>\S*)"
                r"|Importing a module script failed|error loading dynamically imported module"
            ),
            Sig(type=r"ChunkLoadError"),
        ),
        summary="The page could not load a code-split chunk[[ ({chunk})]] of the app",
        root_cause=(
            "The page was loaded from an earlier deploy and asked for a JavaScript chunk by its old hashed "
            "name; the new deploy removed it (or a CDN, proxy or flaky connection failed to serve it). "
            "These errors cluster right after a release."
        ),
        fix=(
            "1. Keep the previous deploy's assets available for a while after a release (do not delete old "
            "hashed files at once).\n"
            "2. Catch chunk load errors (around the dynamic `import()` or the router's lazy loading) and "
            "reload the page once, so the user gets the new build.\n"
            "3. Check the CDN's cache and the asset URLs if the errors do not line up with a release."
        ),
    ),
    Rule(
        id="cross-origin-script",
        category="cross_origin_script",
        severity="low",
        confidence=0.8,
        match=(Sig(text=r"(?:^|: )Script error\.?$"),),
        summary='An error in a script from another origin, hidden by the browser ("Script error.")',
        root_cause=(
            "A script served from another origin (a CDN, a third-party widget or tag) threw, and the browser "
            "withholds the message and stack of cross-origin scripts from `window.onerror`, so only "
            '"Script error." is reported.'
        ),
        fix=(
            '1. Load your own scripts from a CDN with `crossorigin="anonymous"` and serve them with '
            "`Access-Control-Allow-Origin`, so the real error is reported.\n"
            "2. For third-party scripts you cannot change, filter the noise (`ignoreErrors`, `denyUrls`).\n"
            "3. Check recently added tags or widgets if the errors started suddenly."
        ),
    ),
)
