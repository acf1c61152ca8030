"""Sig and Rule, the data a heuristic rule is made of, and the Evidence a rule's hook may read.

A rule is data: signatures to recognise a failure, templates to explain it. What one rule needs beyond
that (a fact only it uses, computed from the event) is a `derive` hook on the rule itself, so the engine
treats every rule alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.analysis.providers.base import Severity
from app.analysis.providers.heuristic.variables import Explain
from app.events.model import Frame, NormalizedEvent


@dataclass(frozen=True)
class Sig:
    """One signature. Every part given must match; a rule matches when any of its signatures does.

    type:   regex, full match on an exception's type, short (`KeyError`) or dotted
            (`psycopg.OperationalError`).
    text:   regex (or tuple of regexes, all required), case-insensitive. With `type`: searched in that
            exception's value; without: anywhere in the message, exception lines and plain-text stack.
    code:   regex searched in the frames' module, file name, function and source line.
    status: the event's HTTP status code is one of these.
    logger: regex searched in the logger name.
    exception: the event has (True) or has no (False) exception; a synthetic one (a stack trace attached
            to a message) does not count.
    confidence: replaces the rule's confidence for this (stronger or weaker) signature.
    Named groups become facts; a trailing digit is dropped (`host2` -> `host`) so alternatives can share one.
    """

    type: str | None = None
    text: str | tuple[str, ...] = ()
    code: str | None = None
    status: tuple[int, ...] = ()
    logger: str | None = None
    exception: bool | None = None
    confidence: float | None = None


@dataclass
class Exc:
    """One exception of the chain, prepared for matching."""

    short_type: str
    full_type: str
    value: str
    line: str  # "Type: value", the form rules search when no type is given
    frames: list[Frame]
    code: str


@dataclass
class Evidence:
    """What the rules may look at, gathered once from the event."""

    event: NormalizedEvent
    exceptions: list[Exc]  # oldest (the cause) first
    lines: list[tuple[str, Exc | None]]  # searchable text, each with the exception it belongs to
    text: str
    code: str
    route: str | None

    @property
    def frames(self) -> list[Frame]:
        return [frame for exc in self.exceptions for frame in exc.frames]


# Given the evidence and the facts found so far (raw event text), the facts this rule adds or replaces.
Derive = Callable[[Evidence, dict[str, str]], dict[str, str]]


@dataclass(frozen=True)
class Rule:
    """A failure class: how to recognise it and what to tell the on-call engineer.

    defaults: fallbacks for facts the event does not give, before the engine's FACT_DEFAULTS.
    derive:   computes facts only this rule's templates use.
    trusted:  names of facts `derive` writes as our own text (already safe markdown); every other fact
              is event text and is rendered as a code span.
    explain_locals: what the crash frame's local variables say about this failure (`variables.py`);
              without it, or when it finds nothing, the analysis lists the locals the crash line uses.
    """

    id: str
    category: str
    severity: Severity
    confidence: float
    match: tuple[Sig, ...]
    summary: str
    root_cause: str
    fix: str
    defaults: dict[str, str] = field(default_factory=dict)
    derive: Derive | None = None
    trusted: frozenset[str] = frozenset()
    explain_locals: Explain | None = None
