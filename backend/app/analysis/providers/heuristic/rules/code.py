"""Rules for everyday code bugs: recursion, ORM sessions, null references, missing keys and indexes,
division by zero, concurrency, assertions, unimplemented paths, native crashes and type errors.
"""

from __future__ import annotations

import re
from collections import Counter

from app.analysis.providers.heuristic.advice import advice_for
from app.analysis.providers.heuristic.platform import Runtime, runtime_of
from app.analysis.providers.heuristic.registry import register
from app.analysis.providers.heuristic.rule import Evidence, Rule, Sig
from app.analysis.providers.heuristic.variables import (
    explain_empty_sequence,
    explain_missing_key,
    explain_nullish,
    explain_zero,
)


def _repeating_frame(ev: Evidence, facts: dict[str, str]) -> dict[str, str]:
    """`repeating`: the frame seen most often in the stack, if it is seen at least three times."""
    counts = Counter(
        (f.filename or f.module or "", f.function or "") for f in ev.frames if f.function or f.filename
    )
    if not counts:
        return {}
    (where, function), seen = counts.most_common(1)[0]
    return {"repeating": f"{where} in {function}".strip()} if seen >= 3 else {}


def _nullish(ev: Evidence, facts: dict[str, str]) -> dict[str, str]:
    """`nullish` in the language's own word: Python's None (not "NoneType"), or null for Java/.NET. Only
    Python says NoneType, so an event that does is Python's whatever its platform says."""
    if facts.get("nullish") == "NoneType" or "NoneType" in ev.text:
        python = advice_for(Runtime("python", runtime_of(ev.event).setting))
        return {"nullish": "None", "null_guards": python["null_guards"]}
    if "nullish" not in facts and re.search(r"Null(?:Pointer|Reference)Exception", ev.text):
        return {"nullish": "null"}
    return {}


register(
    Rule(
        id="recursion",
        category="recursion",
        severity="medium",
        confidence=0.9,
        match=(
            Sig(type=r"RecursionError|StackOverflowError|SystemStackError"),
            Sig(
                text=r"maximum recursion depth exceeded|Maximum call stack size exceeded|StackOverflowError"
                r"|stack level too deep|goroutine stack exceeds|fatal error: stack overflow"
            ),
        ),
        summary="Runaway recursion exhausted the call stack",
        root_cause=(
            "A function keeps calling itself (directly or through a cycle) without reaching a base case, "
            "until the runtime's stack limit is hit.[[ The repeating frame is {repeating}.]] Typical causes: "
            "a missing or wrong base case, cyclic data (a parent/child loop, a self-referencing object being "
            "serialised), a property, `__getattr__` or setter that calls itself, or hooks/signals that "
            "trigger each other."
        ),
        fix=(
            "1. Follow the repeating frames in the stack trace to find the cycle and the input that "
            "triggers it.\n"
            "2. Fix the termination condition, or track visited nodes for cyclic data.\n"
            "3. Rewrite deep recursion iteratively if the depth is legitimately large; do not just raise "
            "the recursion limit."
        ),
        derive=_repeating_frame,
    ),
    Rule(
        id="orm-detached",
        category="orm_session",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"lazy load operation of attribute '(?P<attr>[^'\n]+)' cannot proceed"),
            Sig(
                text=r"DetachedInstanceError|is not bound to a Session|MissingGreenlet|greenlet_spawn has"
                r" not been called|LazyInitializationException|could not initialize proxy - no Session"
            ),
        ),
        summary="An ORM attribute[[ ({attr})]] was lazy-loaded outside its session",
        root_cause=(
            "An ORM object's lazy-loaded attribute was accessed after its session/transaction closed (or,"
            " with async SQLAlchemy, implicitly outside the async context), so the ORM could not load it."
        ),
        fix=(
            "1. Load what is needed eagerly in the query (`selectinload`/`joinedload`, `JOIN FETCH`) or "
            "access it while the session is open.\n"
            "2. Return plain data (DTOs/schemas) from the data layer instead of live ORM objects.\n"
            "3. With SQLAlchemy, consider `expire_on_commit=False` for objects used after commit; with "
            "asyncio never rely on lazy loading."
        ),
    ),
    Rule(
        id="null-reference",
        category="null_reference",
        severity="medium",
        confidence=0.9,
        match=(
            Sig(
                type=r"AttributeError",
                text=r"'(?P<nullish>NoneType)' object has no attribute '(?P<attr>[^'\n]+)'",
            ),
            Sig(text=r"'(?P<nullish>NoneType)' object (?:has no attribute '(?P<attr>[^'\n]+)'|is not \w+)"),
            Sig(
                text=r"Cannot read propert(?:y|ies) of (?P<nullish>undefined|null)(?: \(reading "
                r"'(?P<attr>[^'\n]+)'\))?"
            ),
            Sig(text=r"Cannot read property '(?P<attr>[^'\n]+)' of (?P<nullish>undefined|null)"),
            Sig(
                text=r"Cannot set propert(?:y|ies) of (?P<nullish>undefined|null)(?: \(setting "
                r"'(?P<attr>[^'\n]+)'\))?"
            ),
            Sig(
                text=r"(?P<nullish>undefined|null) is not an object \(evaluating '(?P<attr>[^'\n]+)'\)",
                confidence=0.85,
            ),
            Sig(text=r"undefined method [`'](?P<attr>[^`'\s]+)' for (?P<nullish>nil)\b", confidence=0.9),
            Sig(text=r"(?P<nullish>nil) pointer dereference"),
            Sig(text=r"NullPointerException(?::\s*(?P<detail>[^\n]+))?", confidence=0.85),
            Sig(
                text=r"NullReferenceException|Object reference not set to an instance of an object",
                confidence=0.85,
            ),
            Sig(text=r"Call to a member function (?P<attr>\w+)\(\) on (?P<nullish>null)"),
            Sig(text=r"\bNoneType\b", confidence=0.7),
        ),
        summary="{nullish} was used as an object[[ when accessing {attr}]]",
        root_cause=(
            "The code dereferenced a value that was {nullish}[[ ({detail})]]. Usually a lookup returned "
            "nothing — a query with no row, a missing dict/JSON field, an optional relation, a cache miss, a "
            "failed regex match — and the result was used without a check; or a function has a path that "
            "returns nothing."
        ),
        fix=(
            "1. At {culprit}, find the expression that was {nullish}[[ (the one whose {attr} was read)]] and "
            "trace where it comes from.\n"
            "2. Handle the empty case explicitly: {missing_answer}.\n"
            "3. Add a regression test with the missing value; {null_guards} catch the rest."
        ),
        derive=_nullish,
        explain_locals=explain_nullish,
    ),
    Rule(
        id="missing-key",
        category="missing_key",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(type=r"KeyError", text=r"^['\"]?(?P<key>[^\n]+?)['\"]?$"),
            Sig(text=r"KeyError: ['\"]?(?P<key>[^'\"\n]+)['\"]?", confidence=0.8),
            Sig(text=r"Undefined (?:index|array key|offset):?\s*['\"]?(?P<key>[^'\"\n]+)['\"]?"),
            Sig(text=r"key not found: (?P<key>\S+)"),
            Sig(text=r"The given key '(?P<key>[^'\n]+)' was not present in the dictionary"),
            Sig(type=r"KeyNotFoundException", confidence=0.75),
            Sig(type=r"KeyError", confidence=0.75),
        ),
        summary="Key {key} was missing from a dict/mapping",
        root_cause=(
            "The code indexes a mapping with {key}, and this input did not contain it. Typical sources: a "
            "request body, query or webhook payload that omits an optional field, a third-party API response "
            "whose shape changed, a config dict without a default, or a cached entry in an older format."
        ),
        fix=(
            "1. At {culprit}, decide whether {key} is required: if so, validate the input where it enters "
            "(a schema) and {reject_input}; if optional, read it with {safe_lookup}.\n"
            "2. If the data comes from an external API, validate its shape and handle the missing field.\n"
            "3. Add a test with a payload that lacks the key."
        ),
        explain_locals=explain_missing_key,
    ),
    Rule(
        id="index-out-of-range",
        category="index_out_of_range",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"Index (?P<index>-?\d+) out of bounds for length (?P<length>\d+)"),
            Sig(text=r"index out of range \[(?P<index>-?\d+)\] with length (?P<length>\d+)"),
            Sig(
                text=r"(?:list|tuple|string|bytearray) index out of range|IndexOutOfBoundsException"
                r"|ArrayIndexOutOfBoundsException|index out of range|Undefined offset"
            ),
            Sig(type=r"IndexError", confidence=0.8),
        ),
        summary="An index past the end of a sequence was read[[ (index {index}, length {length})]]",
        root_cause=(
            "The code assumed a list/array had more elements than it did — most often `items[0]` on an empty "
            "result (no rows, an empty API list, a `split()` that produced fewer parts) or an off-by-one "
            "in a loop."
        ),
        fix=(
            "1. At {culprit}, check the length before indexing ({safe_index}).\n"
            "2. Handle the empty case explicitly: {missing_answer}.\n"
            "3. Add a test with an empty/short input."
        ),
        explain_locals=explain_empty_sequence,
    ),
    Rule(
        id="division-by-zero",
        category="division_by_zero",
        severity="medium",
        confidence=0.9,
        match=(
            Sig(type=r"ZeroDivisionError|DivideByZeroException|DivisionByZeroError"),
            Sig(
                text=r"ZeroDivisionError|division by zero|divided by 0|division or modulo by zero|/ by zero"
                r"|integer divide by zero|divide by zero|DivisionByZeroError"
            ),
        ),
        summary="Division by zero",
        root_cause=(
            "A divisor was 0 — typically a count, total, duration or rate computed from data that can "
            "legitimately be empty (no items, zero quantity, equal start and end times) or a 0 default for "
            "a missing value."
        ),
        fix=(
            "1. At {culprit}, decide what the result should be when the divisor is 0 (0, none/'n/a', or a "
            "validation error) and handle that case explicitly.\n"
            "2. Validate inputs that must be non-zero at the boundary.\n"
            "3. Add a test with the empty/zero case."
        ),
        explain_locals=explain_zero,
    ),
    Rule(
        id="concurrency",
        category="concurrency",
        severity="medium",
        confidence=0.8,
        match=(
            Sig(
                text=r"(?P<detail>dictionary changed size during iteration|Set changed size during iteration"
                r"|ConcurrentModificationException|concurrent map (?:writes|read and map write|iteration and "
                r"map write)|all goroutines are asleep - deadlock!|This event loop is already running"
                r"|attached to a different (?:event )?loop|Event loop is closed|DATA RACE)"
            ),
        ),
        summary="A concurrency bug: {detail}",
        root_cause=(
            "Shared state was modified while another part of the program was iterating over or using it (a "
            "collection changed during iteration, a map written from several goroutines/threads), or async "
            "code used an event loop it does not own. These bugs are timing-dependent, so they appear under "
            "load and are hard to reproduce."
        ),
        fix=(
            "1. At {culprit}, iterate over a copy (`list(d.items())`) or collect changes and apply them "
            "after the loop.\n"
            "2. Guard shared state with a lock/`sync.Mutex`, or use concurrent-safe structures; for asyncio, "
            "create clients inside the loop that uses them.\n"
            "3. Run the tests with a race detector (`go test -race`) or stress them concurrently."
        ),
    ),
    Rule(
        id="assertion",
        category="assertion",
        severity="medium",
        confidence=0.6,
        match=(
            Sig(type=r"AssertionError"),
            Sig(text=r"AssertionError|assertion failed|Assertion `[^\n]*' failed"),
        ),
        summary="An assertion failed: the code reached a state its author considered impossible",
        root_cause=(
            "An `assert`/invariant check failed: {error}. Either the invariant is wrong for some real input, "
            "or an earlier step produced an inconsistent state. (Python drops `assert` under `-O`, so "
            "production asserts are an unreliable guard.)"
        ),
        fix=(
            "1. At {culprit}, read the asserted condition and find the input that broke it.\n"
            "2. Replace the assert with explicit validation that raises a meaningful error (or handles the "
            "case).\n"
            "3. Add a test with that input."
        ),
    ),
    Rule(
        id="not-implemented",
        category="not_implemented",
        severity="medium",
        confidence=0.75,
        match=(
            Sig(type=r"NotImplementedError|UnsupportedOperationException|NotImplementedException"),
            Sig(text=r"NotImplementedError|UnsupportedOperationException"),
        ),
        summary="A code path that is not implemented was reached",
        root_cause=(
            "A placeholder (`raise NotImplementedError`) or an unsupported operation was hit in "
            "production: a "
            "branch for a case the author did not expect to happen, a missing override in a subclass, or an "
            "immutable collection being modified."
        ),
        fix=(
            "1. At {culprit}, see which input reached this branch.\n"
            "2. Implement it, or {reject_early}.\n"
            "3. Add a test for the case."
        ),
    ),
    Rule(
        id="native-crash",
        category="native_crash",
        severity="high",
        confidence=0.8,
        match=(
            Sig(
                text=r"(?P<detail>Segmentation fault|SIGSEGV|signal 11\b|Fatal Python error[^\n]*|core "
                r"dumped|SIGABRT|EXC_BAD_ACCESS)"
            ),
        ),
        summary="The process crashed in native code ({detail})",
        root_cause=(
            "A crash below the language runtime: a bug in a C extension or native library, incompatible "
            "binary wheels (built for another platform or library version), sharing a native client across "
            "fork()/threads, or memory corruption."
        ),
        fix=(
            "1. Enable `faulthandler` (Python) or core dumps to get the native stack; note which "
            "extension is on top.\n"
            "2. Upgrade/pin that extension and rebuild for this platform; do not share native clients "
            "across fork (create them after the worker forks).\n"
            "3. Reproduce under the same image and load."
        ),
    ),
    Rule(
        id="call-signature",
        category="type_error",
        severity="medium",
        confidence=0.75,
        match=(
            Sig(text=r"missing \d+ required (?:positional|keyword-only) arguments?: (?P<detail>[^\n]+)"),
            Sig(text=r"got an unexpected keyword argument '(?P<detail>[^'\n]+)'"),
            Sig(text=r"takes (?:\d+|from \d+ to \d+) positional arguments? but \d+ (?:was|were) given"),
            Sig(text=r"wrong number of arguments \(given \d+, expected \d+\)"),
        ),
        summary="A function was called with arguments that do not match its signature: {error}",
        root_cause=(
            "A caller and the called function disagree on the arguments[[ ({detail})]]: a caller was not "
            "updated after the signature changed, a library upgrade changed an API, or old and new code "
            "versions run side by side (e.g. background tasks queued by the previous release)."
        ),
        fix=(
            "1. At {culprit}, compare the call with the current signature (and the installed library "
            "version).\n"
            "2. Update the caller, or keep the old parameter working (a default/deprecated alias) until "
            "every producer is upgraded.\n"
            "3. Run a type checker in CI to catch call mismatches."
        ),
    ),
    Rule(
        id="type-error",
        category="type_error",
        severity="medium",
        confidence=0.6,
        match=(
            Sig(text=r"ClassCastException|interface conversion: ", confidence=0.75),
            Sig(
                text=r"unsupported operand type\(s\)|can only concatenate|must be str, not|is not a function",
                confidence=0.7,
            ),
            Sig(type=r"TypeError|AttributeError|NoMethodError|InvalidCastException"),
            Sig(text=r"\bTypeError\b|\bNoMethodError\b|\bAttributeError\b", confidence=0.55),
        ),
        summary="A value had the wrong type: {error}",
        root_cause=(
            "An operation received a value of a type it does not support ({error}). In {runtime} code this "
            "usually comes from {type_source}."
        ),
        fix=(
            "1. At {culprit}, inspect the actual type and value of the operands.\n"
            "2. Convert and validate where the data enters (parse it once, with a schema) so the code after "
            "it gets the types it expects.\n"
            "3. Catch the rest before production with {type_check}."
        ),
    ),
)
