"""Regex fragments shared by more than one rule family."""

from __future__ import annotations

# A refused TCP connection, in the words of the common runtimes and drivers.
REFUSED = (
    r"Connection refused|ECONNREFUSED|connect: connection refused|\[Errno 111\]|\(111\)|actively refused"
)
