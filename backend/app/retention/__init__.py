"""Retention: expired events deleted in small batches, with the issues they leave empty (see cleanup.py)."""
