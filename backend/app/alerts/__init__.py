"""Alerts: rules per project, and the messages they send (webhook, Slack, email) with the analysis.

rules.py checks what users ask for; repository.py owns the SQL; payload.py builds the bodies (pure);
channels.py sends one message; delivery.py claims, rate-limits, sends and records one delivery;
sweeper.py re-sends what is pending. Deliveries are written by the event store (new issues,
regressions, frequency; app/events/store.py) and woken by the analysis (app/analysis/repository.py).
"""
