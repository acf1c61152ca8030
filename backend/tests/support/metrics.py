"""Reading /metrics the way Prometheus does: over HTTP, parsed by prometheus-client's own parser."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(base_url: str, headers: dict[str, str] | None = None) -> Samples:
    """Every sample of the page: (name, sorted labels) -> value."""
    response = httpx.get(f"{base_url}/metrics", headers=headers or {}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when the page does not have it (a series not created yet)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def families(base_url: str) -> set[str]:
    """The names of the metric families the page has."""
    response = httpx.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return {family.name for family in text_string_to_metric_families(response.text)}
