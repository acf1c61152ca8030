"""The read API under /api/v1/: projects, issues with their analysis, events; bearer tokens per project."""
