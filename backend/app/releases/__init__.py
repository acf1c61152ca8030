"""Releases: what events name in `release`, listed per project (see repository.py)."""
