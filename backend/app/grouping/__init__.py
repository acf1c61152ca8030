"""Grouping: which issue an event belongs to. Pure functions, versioned; see fingerprint.py."""
