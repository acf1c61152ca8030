"""Uploads from sentry-cli: chunks by sha1, and artifact bundles assembled from them (service.py)."""
