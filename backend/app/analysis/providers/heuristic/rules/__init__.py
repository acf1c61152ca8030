"""The heuristic rule families. Importing this package registers every rule in `registry.REGISTRY`."""

from app.analysis.providers.heuristic.rules import (  # noqa: F401  (imported to register their rules)
    browser,
    code,
    config,
    data,
    database,
    http,
    logging,
    network,
    redis,
    resources,
)
