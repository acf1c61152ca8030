"""The heuristic engine: gathers an event's evidence, finds the first rule that matches, renders its answer.

Rules come from `catalogue.RULES`, already in precedence order; the first rule with a matching signature
wins. Nothing here knows any particular rule: what a rule needs beyond its signatures and templates is
data or a hook on the rule (`Rule.defaults`, `Rule.derive`, `Rule.trusted`). No match gives category
"unknown", a low confidence and a plain admission.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.analysis.markdown import code_span
from app.analysis.providers.base import AnalysisResult, Severity
from app.analysis.providers.heuristic.catalogue import RULES
from app.analysis.providers.heuristic.facts import (
    clip,
    culprit_frame,
    fill,
    first_line,
    groups,
    raw_facts,
    render_facts,
    rx,
    type_rx,
)
from app.analysis.providers.heuristic.rule import Evidence, Exc, Rule, Sig
from app.analysis.providers.heuristic.variables import line_variables
from app.events.model import ExceptionInfo, Frame, NormalizedEvent

PROVIDER_NAME = "heuristic"
MODEL_NAME = "heuristic-v1"

UNKNOWN_CATEGORY = "unknown"
GUESS_BELOW = 0.6  # a match less confident than this says it is only a lead


@dataclass
class _Hit:
    rule: Rule
    sig: Sig
    confidence: float
    exc: Exc | None
    facts: dict[str, str]


def _frame_code(frames: list[Frame]) -> str:
    return "\n".join(
        " ".join(part for part in (f.module, f.filename or f.abs_path, f.function, f.context_line) if part)
        for f in frames
    )


def _prepare_exception(exc: ExceptionInfo) -> Exc:
    type_name = (exc.type or "").strip()
    short = re.split(r"\.|::", type_name)[-1] if type_name else ""
    full = (
        f"{exc.module}.{type_name}"
        if exc.module and "." not in type_name and "::" not in type_name
        else type_name
    )
    value = clip(exc.value)
    line = f"{type_name}: {value}" if type_name and value else type_name or value
    return Exc(short, full, value, line, list(exc.frames), _frame_code(exc.frames))


def _route(event: NormalizedEvent) -> str | None:
    request = event.request or {}
    method = str(request.get("method") or "").upper()
    path = request.get("path")
    if not path and request.get("url"):
        path = urlsplit(str(request["url"])).path or None
    if path:
        path = str(path).split("?", 1)[0]
        return f"{method} {path}".strip()
    return event.transaction or None


def _gather(event: NormalizedEvent, issue_title: str) -> Evidence:
    exceptions = [_prepare_exception(exc) for exc in event.exceptions]
    lines: list[tuple[str, Exc | None]] = [(exc.line, exc) for exc in exceptions if exc.line]
    if event.message:
        lines.append((clip(event.message), None))
    for key in ("stack", "stacktrace", "traceback"):
        stack = (event.extra or {}).get(key)
        if isinstance(stack, str) and stack.strip():
            lines.append((clip(stack), None))
    if not lines and issue_title:
        lines.append((clip(issue_title), None))
    return Evidence(
        event=event,
        exceptions=exceptions,
        lines=lines,
        text="\n".join(text for text, _ in lines),
        code="\n".join(exc.code for exc in exceptions if exc.code),
        route=_route(event),
    )


def _search_all(patterns: tuple[str, ...], text: str) -> dict[str, str] | None:
    facts: dict[str, str] = {}
    for pattern in patterns:
        match = rx(pattern).search(text)
        if match is None:
            return None
        facts = {**groups(match), **facts}
    return facts


def _match_sig(sig: Sig, ev: Evidence) -> tuple[Exc | None, dict[str, str]] | None:
    event = ev.event
    if sig.status and event.status_code not in sig.status:
        return None
    if sig.logger and not (event.logger and rx(sig.logger).search(event.logger)):
        return None
    if sig.exception is not None and sig.exception != any(not e.synthetic for e in event.exceptions):
        return None
    texts = (sig.text,) if isinstance(sig.text, str) else sig.text
    if sig.type:
        type_pattern = type_rx(sig.type)
        for exc in ev.exceptions:
            if not (type_pattern.fullmatch(exc.short_type) or type_pattern.fullmatch(exc.full_type)):
                continue
            facts = _search_all(texts, exc.value)
            if facts is None:
                continue
            if sig.code and not rx(sig.code).search(exc.code or ev.code):
                continue
            return exc, facts
        return None
    owner: Exc | None = None
    facts = {}
    if texts:
        found = _search_all(texts, ev.text)
        if found is None:
            return None
        facts = found
        first = rx(texts[0])
        owner = next((exc for text, exc in ev.lines if first.search(text)), None)
    if sig.code and not rx(sig.code).search(ev.code):
        return None
    return owner, facts


def _find_rule(ev: Evidence) -> _Hit | None:
    for rule in RULES:
        for index, sig in enumerate(rule.match):
            matched = _match_sig(sig, ev)
            if matched is None:
                continue
            exc, facts = matched
            # The rule's other signatures may name what this one did not (a path, a setting's name).
            for other in rule.match[index + 1 :]:
                more = _match_sig(other, ev)
                if more is not None:
                    facts = {**more[1], **facts}
            confidence = sig.confidence if sig.confidence is not None else rule.confidence
            return _Hit(rule, sig, confidence, exc, facts)
    return None


def _evidence(ev: Evidence) -> str:
    return " and ".join(code_span(first_line(text)) for text, _ in ev.lines[:3])


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] if text[:1].islower() else text


def _context_suffix(facts: dict[str, str]) -> str:
    route, status = facts.get("route"), facts.get("status")
    if route and status:
        return f" (on {route}, HTTP {status})"
    if route:
        return f" (on {route})"
    if status:
        return f" (HTTP {status})"
    return ""


def _where_sentence(facts: dict[str, str]) -> str:
    culprit = facts.get("culprit")
    if not culprit:
        return ""
    line = facts.get("context_line")
    return f" Raised at {culprit}" + (f": {line}." if line else ".")


def _locals_sentence(ev: Evidence, exc: Exc | None, rule: Rule | None, raw: dict[str, str]) -> str:
    """What the crash frame's locals say: the rule's own reading of them, else those the crash line uses."""
    frame = culprit_frame(ev, exc)
    if frame is None or not frame.vars:
        return ""
    note = rule.explain_locals(frame, raw) if rule is not None and rule.explain_locals else None
    note = note or line_variables(frame)
    return f" {note}" if note else ""


_SEVERITY_ORDER: tuple[Severity, ...] = ("low", "medium", "high", "critical")


def _adjust_severity(base: Severity, event: NormalizedEvent) -> Severity:
    rank = _SEVERITY_ORDER.index(base)
    status = event.status_code
    if status is not None and 400 <= status < 500:
        rank = 0 if status in (404, 405, 410) else min(rank, 1)
    if event.level == "fatal":
        rank = max(rank, 2)
    elif event.level == "warning":
        rank = min(rank, 1)
    elif event.level in ("info", "debug"):
        rank = 0
    return _SEVERITY_ORDER[rank]


def _recognised(hit: _Hit, ev: Evidence) -> AnalysisResult:
    rule = hit.rule
    raw = raw_facts(ev, hit.exc, hit.facts, rule)
    facts = render_facts(raw, rule)
    summary = _sentence(fill(rule.summary, facts, rule.defaults).rstrip(".")) + _context_suffix(facts) + "."
    root_cause = (
        fill(rule.root_cause, facts, rule.defaults)
        + _where_sentence(facts)
        + _locals_sentence(ev, hit.exc, rule, raw)
    )
    if hit.confidence < GUESS_BELOW and hit.sig.text:
        root_cause += (
            f" This reading rests on the event's wording ({_evidence(ev)}), not on an unambiguous error "
            "signature: treat it as a lead, not a diagnosis."
        )
    return AnalysisResult(
        summary=summary,
        root_cause=root_cause,
        suggested_fix=fill(rule.fix, facts, rule.defaults),
        severity=_adjust_severity(rule.severity, ev.event),
        category=rule.category,
        confidence=hit.confidence,
    )


def _unrecognised(ev: Evidence) -> AnalysisResult:
    facts = render_facts(raw_facts(ev, ev.exceptions[-1] if ev.exceptions else None, {}, None), None)
    event = ev.event
    seen: list[str] = []
    if ev.exceptions:
        seen.append("the exception " + code_span(first_line(ev.exceptions[-1].line)))
    if event.message:
        seen.append("the message " + code_span(first_line(event.message)))
    if facts.get("route") or facts.get("status"):
        seen.append(
            "the request"
            + (f" {facts['route']}" if facts.get("route") else "")
            + (f" answered HTTP {facts['status']}" if facts.get("status") else "")
        )
    if facts.get("culprit"):
        seen.append(
            "it was raised at "
            + facts["culprit"]
            + (f" ({facts['context_line']})" if facts.get("context_line") else "")
        )
    else:
        seen.append("no stack trace was sent")
    if event.logger:
        seen.append("the logger was " + code_span(event.logger))
    what = facts.get("error") or "An error"
    has_text = bool(ev.lines)
    severity: Severity = "medium"
    if event.status_code is not None and event.status_code < 500:
        severity = "low"
    severity = _adjust_severity(severity, event)
    steps = [
        "Open the event's stack trace and breadcrumbs[[ starting at {culprit}]] and reproduce it with the "
        "same request[[ ({route})]]."
    ]
    if not any(exc.frames for exc in event.exceptions):
        steps.append(
            "Report the exception itself, not only a message (a Sentry SDK, or a `stack` field), so the "
            "raising line is known."
        )
    steps.append(
        "For a deeper analysis configure an LLM provider (`LLM_PROVIDER=openai` or `anthropic`) and "
        "re-analyse this issue."
    )
    return AnalysisResult(
        summary=f"Not recognised by the rule-based analyser: {what}{_context_suffix(facts)}.",
        root_cause=(
            f"This error was not recognised by the rule-based analyser ({MODEL_NAME}, not an LLM), so it "
            f"does "
            "not guess a root cause. What the event shows: "
            + "; ".join(seen)
            + "."
            + _locals_sentence(ev, ev.exceptions[-1] if ev.exceptions else None, None, {})
        ),
        suggested_fix=fill("\n".join(f"{n}. {step}" for n, step in enumerate(steps, 1)), facts, {}),
        severity=severity,
        category=UNKNOWN_CATEGORY,
        confidence=0.1 if has_text else 0.05,
    )


def match_rule(event: NormalizedEvent, issue_title: str = "") -> Rule | None:
    """The catalogue rule that recognises this event, or None."""
    hit = _find_rule(_gather(event, issue_title))
    return hit.rule if hit else None


def analyse_event(event: NormalizedEvent, issue_title: str = "") -> AnalysisResult:
    """Analyse one (already redacted) event with the rule catalogue; deterministic and offline."""
    ev = _gather(event, issue_title)
    hit = _find_rule(ev)
    return _recognised(hit, ev) if hit else _unrecognised(ev)
