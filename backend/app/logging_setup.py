"""One log format for every Faultline process: time, process id, level, logger, message."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s pid=%(process)d %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Give the root logger our format (once), and uvicorn's own loggers the same format.

    A process whose root logger already has handlers (a test runner's) keeps them: only the format
    of uvicorn's loggers changes then.
    """
    formatter = logging.Formatter(LOG_FORMAT)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(formatter)
        root.addHandler(handler)
        root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter)
