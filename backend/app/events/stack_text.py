"""Stack trace text (Python, JavaScript/Node, Java) parsed into an exception chain.

The seed's `stack` field and log messages carry tracebacks as plain text; `parse_stack_text` turns
one into ExceptionInfo values with frames, and names the platform it recognised.
"""

from __future__ import annotations

import re

from app.events.model import ExceptionInfo, Frame
from app.events.text import MAX_LINE, MAX_MESSAGE, MAX_NAME, MAX_PATH, truncate

_PY_HEADER = re.compile(r"^\s*Traceback \(most recent call last\):\s*$")
_PY_FILE = re.compile(r'^\s+File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+?))?\s*$')
_PY_CHAIN = re.compile(r"^(The above exception was the direct cause|During handling of the above exception)")
_PY_CARETS = re.compile(r"^\s*[\^~]+\s*$")
_TYPE_LINE = re.compile(
    r"^(?:Uncaught |Exception in thread \"[^\"]*\" )?"  # prefixes printed by browsers and the JVM
    r"(?P<type>[A-Za-z_$][\w$.]*)(?: \[[\w-]+\])?"  # Node's "Error [ERR_CODE]"
    r"(?::\s?(?P<value>.*))?$"
)
_JAVA_AT = re.compile(r"^\s*at (?:[\w.$-]*/)*(?P<qual>[\w.$<>]+)\.(?P<meth>[\w$<>-]+)\((?P<src>[^()]*)\)\s*$")
_JS_AT = re.compile(r"^\s*at (?:(?P<func>.+?) \((?P<loc>[^()]*)\)|(?P<bare>\S+))\s*$")
_JS_FIREFOX = re.compile(r"^\s*(?P<func>[^@\s]*)@(?P<loc>.+:\d+(?::\d+)?)\s*$")
_LOCATION = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?::(?P<col>\d+))?$")
_EXCEPTION_NAME = re.compile(r"^[A-Za-z_$][\w$.]*(?:Error|Exception|Fault|Failure|Panic|Interrupt|Exit)$")
_LIBRARY_MARKERS = ("site-packages", "dist-packages", "/lib/python", "<frozen", "node_modules", "node:")
_JAVA_LIBRARY = ("java.", "javax.", "jdk.", "sun.", "com.sun.", "kotlin.", "kotlinx.", "scala.")


def _guess_in_app(path: str | None) -> bool | None:
    if not path:
        return None
    return not any(marker in path for marker in _LIBRARY_MARKERS) and not path.startswith("internal/")


def _split_type(name: str, value: str | None) -> ExceptionInfo:
    """`pkg.mod.Error` → type Error, module pkg.mod (the shape SDKs send)."""
    module, _, short = name.rpartition(".")
    return ExceptionInfo(
        type=truncate(short or name, MAX_NAME),
        value=truncate(value, MAX_MESSAGE) if value else None,
        module=module or None,
    )


def _type_line(line: str) -> tuple[str, str | None] | None:
    match = _TYPE_LINE.match(line.strip())
    if not match:
        return None
    return match.group("type"), match.group("value")


def _parse_python(lines: list[str]) -> list[ExceptionInfo]:
    chain: list[ExceptionInfo] = []
    frames: list[Frame] | None = None
    current: ExceptionInfo | None = None
    for line in lines:
        if _PY_HEADER.match(line):
            frames, current = [], None
            continue
        if frames is None:
            continue  # text before the first traceback (a log prefix, say)
        if _PY_CHAIN.match(line) or not line.strip():
            if current is not None:
                frames, current = None, None
            continue
        file_match = _PY_FILE.match(line)
        if file_match and current is None:
            path = file_match.group("file")
            frames.append(
                Frame(
                    filename=truncate(path, MAX_PATH),
                    abs_path=path if path.startswith("/") or re.match(r"^[A-Za-z]:\\", path) else None,
                    function=file_match.group("func"),
                    lineno=int(file_match.group("line")),
                    in_app=_guess_in_app(path),
                )
            )
        elif line.startswith((" ", "\t")) and current is None:
            if frames and frames[-1].context_line is None and not _PY_CARETS.match(line):
                frames[-1].context_line = truncate(line.strip(), MAX_LINE)
        elif current is None:
            parsed = _type_line(line)
            name, value = parsed if parsed else ("Exception", line.strip())
            current = _split_type(name, value)
            current.frames = frames
            chain.append(current)
        else:  # a message spanning several lines
            current.value = truncate(f"{current.value or ''}\n{line}", MAX_MESSAGE)
    return chain


def _parse_java(lines: list[str]) -> list[ExceptionInfo]:
    chain: list[ExceptionInfo] = []  # outermost first, as printed
    skipping = False
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("..."):
            continue
        if stripped.startswith("Suppressed:"):
            skipping = True
            continue
        at = _JAVA_AT.match(line)
        if at:
            if skipping or not chain:
                continue
            qualified, source = at.group("qual"), at.group("src")
            filename, _, lineno = source.partition(":")
            chain[-1].frames.append(
                Frame(
                    filename=filename if filename.endswith((".java", ".kt", ".scala", ".groovy")) else None,
                    module=qualified,
                    function=at.group("meth"),
                    lineno=int(lineno) if lineno.isdigit() else None,
                    in_app=not qualified.startswith(_JAVA_LIBRARY),
                )
            )
            continue
        header = stripped.removeprefix("Caused by:").strip()
        if stripped.startswith("Caused by:") or not chain:
            skipping = False
            parsed = _type_line(header)
            if parsed:
                chain.append(_split_type(*parsed))
        elif chain and not chain[-1].frames and not skipping:
            chain[-1].value = truncate(f"{chain[-1].value or ''}\n{stripped}", MAX_MESSAGE)
    for exc in chain:
        exc.frames.reverse()  # printed innermost first; we keep callers first
    return list(reversed(chain))  # causes are printed last; we keep the oldest first


def _parse_javascript(lines: list[str]) -> list[ExceptionInfo]:
    header: list[str] = []
    frames: list[Frame] = []
    for line in lines:
        at = _JS_AT.match(line) or _JS_FIREFOX.match(line)
        if not at:
            if not frames:
                header.append(line)
            continue
        groups = at.groupdict()
        location = groups.get("loc") or groups.get("bare") or ""
        function = groups.get("func") or None
        loc = _LOCATION.match(location)
        # "native", "<anonymous>", "index 0" (Promise.all) name no file.
        path = loc.group("file") if loc else None
        frames.append(
            Frame(
                filename=truncate(path, MAX_PATH) if path else None,
                abs_path=path if path and path.startswith("/") else None,
                function=truncate(function, MAX_NAME) if function else None,
                lineno=int(loc.group("line")) if loc else None,
                colno=int(loc.group("col")) if loc and loc.group("col") else None,
                in_app=_guess_in_app(path),
            )
        )
    text = "\n".join(h for h in header if h.strip()).strip()
    first, _, rest = text.partition("\n")
    parsed = _type_line(first)
    if parsed:
        name, value = parsed
        value = f"{value or ''}\n{rest}".strip() if rest else value
    else:
        name, value = "Error", text or None
    exc = ExceptionInfo(type=truncate(name, MAX_NAME), value=truncate(value, MAX_MESSAGE) if value else None)
    exc.frames = list(reversed(frames))  # printed innermost first; we keep callers first
    return [exc]


def parse_stack_text(text: str) -> tuple[list[ExceptionInfo], str | None]:
    """Exceptions (oldest first, frames caller first) and a platform guess from stack trace text."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")[:5000]
    if any(_PY_HEADER.match(line) for line in lines):
        chain = _parse_python(lines)
        if chain:
            return chain, "python"
    if any(_JAVA_AT.match(line) for line in lines):
        chain = _parse_java(lines)
        if chain:
            return chain, "java"
    if any(_JS_AT.match(line) or _JS_FIREFOX.match(line) for line in lines):
        return _parse_javascript(lines), "javascript"
    nonblank = [line for line in lines if line.strip()]
    if not nonblank:
        return [], None
    parsed = _type_line(nonblank[0])
    if parsed and (parsed[1] is not None or _EXCEPTION_NAME.match(parsed[0])):
        name, value = parsed
        rest = "\n".join(nonblank[1:])
        if rest:
            value = f"{value or ''}\n{rest}".strip()
        return [
            _split_type(name, value) if "." in name else ExceptionInfo(type=name, value=value or None)
        ], None
    return [], None
