"""The dashboard: server-rendered pages (Jinja2, autoescaped) for login, projects, issues and tokens."""
