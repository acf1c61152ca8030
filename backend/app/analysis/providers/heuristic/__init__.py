"""The `heuristic` analysis provider: offline, deterministic, rule-based — and honest that it is not an LLM.

A catalogue of common failure signatures (database, network, resources, configuration, everyday code
bugs), each rule holding one or more signatures over the event (exception type, text of the
message/exception values, source of the stack frames, status code, logger) and templates for the summary,
root cause and fix, filled with facts pulled out of the event — the host:port that refused, the missing
key, the module, the file path, the route, the raising frame.

    rule.py       Sig and Rule (the data), Evidence (what a rule's hook may read)
    registry.py   rules by id; a duplicate id is an error at import
    rules/        the rules, one module per family, each registering its own (logging.py: errors
                  reported through a logger, no exception)
    catalogue.py  the precedence in which the engine tries the registered rules
    facts.py      facts pulled out of the event, template filling
    platform.py   where the code ran: language (platform, SDK) and setting (browser, request, job)
    advice.py     the phrases whose right words depend on where the code ran
    variables.py  what the crash frame's local variables say about the error
    engine.py     matching and rendering, the same for every rule
"""

from __future__ import annotations

from app.analysis.providers.base import AnalysisInput, ProviderAnswer
from app.analysis.providers.heuristic.catalogue import PRECEDENCE, RULES
from app.analysis.providers.heuristic.engine import (
    MODEL_NAME,
    PROVIDER_NAME,
    UNKNOWN_CATEGORY,
    analyse_event,
    match_rule,
)
from app.analysis.providers.heuristic.registry import REGISTRY
from app.analysis.providers.heuristic.rule import Rule, Sig

__all__ = [
    "MODEL_NAME",
    "PRECEDENCE",
    "PROVIDER_NAME",
    "REGISTRY",
    "RULES",
    "UNKNOWN_CATEGORY",
    "HeuristicProvider",
    "Rule",
    "Sig",
    "analyse_event",
    "match_rule",
]


class HeuristicProvider:
    """The default provider: the rule catalogue, no network, no tokens."""

    name = PROVIDER_NAME
    model = MODEL_NAME

    def analyze(self, analysis_input: AnalysisInput) -> ProviderAnswer:
        """Analyse one event; never raises a ProviderError (there is nothing to retry)."""
        result = analyse_event(analysis_input.event, analysis_input.issue_title)
        return ProviderAnswer(result=result, provider=self.name, model=self.model, tokens_in=0, tokens_out=0)
