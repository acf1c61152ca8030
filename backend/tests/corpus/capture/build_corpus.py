"""Turn the requests recorded by server.py into the committed corpus.

Run: `python build_corpus.py RAW_DIR MAP_FILE BACKEND_DIR`. Writes, for every event the scenario
scripts noted in MAP_FILE:
- `tests/corpus/events/<name>.json`: `{"expected_group", "description", "sdk", "event"}`
- `tests/corpus/envelopes/<name>.envelope`: the envelope bytes as sent, content encoding undone
- `tests/corpus/envelopes/index.json`: per envelope, the request path, query and headers
plus one session-only envelope per SDK and one wire sample (as sent) per SDK and content encoding.

Absolute paths of the capturing machine (its checkout, venv, Python, temporary apps) are rewritten
to neutral ones under /app (NEUTRAL_PATHS), item lengths and sizes following; file names, modules,
and each variant's app directory stay distinct, so grouping sees what it saw. `python
build_corpus.py --neutralize BACKEND_DIR` applies that to the committed corpus in place.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import zlib
from pathlib import Path
from typing import Any

import brotli

WIRE_SUFFIX = {"br": ".br", "gzip": ".gz", "deflate": ".zz"}
_PATH = rb"/[^\s\"'()]*?"  # the leftmost slash of an absolute path, up to what follows
NEUTRAL_PATHS = [
    (re.compile(_PATH + rb"/tests/(?:grouping|corpus)/capture/"), rb"/app/capture/"),
    (re.compile(_PATH + rb"/\.venv/"), rb"/app/.venv/"),
    (re.compile(_PATH + rb"/\.pyenv/versions/[\d.]+/"), rb"/usr/local/"),
    (re.compile(_PATH + rb"/corpus-(py|node)-([ab])-[\w-]+/"), rb"/app/releases/\1-\2/"),
    (re.compile(rb"/tmp/capt/"), rb"/app/capture/"),
]
MACHINE_PATH = re.compile(rb"/(?:root|home|Users|work|tmp)/")


def neutral(data: bytes) -> bytes:
    for pattern, replacement in NEUTRAL_PATHS:
        data = pattern.sub(replacement, data)
    if leak := MACHINE_PATH.search(data):
        at = leak.start()
        raise SystemExit(f"a path of this machine would be committed: {data[at : at + 80]!r}")
    return data


def neutral_envelope(body: bytes) -> bytes:
    """The envelope with neutral paths, every explicit item length made right again."""
    header_line, _, rest = body.partition(b"\n")
    out = [neutral(header_line)]
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        length = json.loads(item_line).get("length")
        if length is not None:
            payload, rest = rest[:length], rest[length + 1 :]
            payload = neutral(payload)
            item_line = re.sub(rb'"length":\s*\d+', b'"length":%d' % len(payload), item_line)
        else:
            payload, _, rest = rest.partition(b"\n")
            payload = neutral(payload)
        out += [neutral(item_line), payload]
    return b"\n".join(out) + (b"\n" if body.endswith(b"\n") else b"")


def encode(data: bytes, encoding: str) -> bytes:
    if encoding == "br":
        return brotli.compress(data)
    if encoding == "gzip":
        return gzip.compress(data, mtime=0)
    if encoding == "deflate":
        return zlib.compress(data)
    return data


def neutralize(backend: Path) -> None:
    """Rewrite the committed corpus's paths; sizes and wire samples (re-compressed) follow."""
    envelopes = backend / "tests/corpus/envelopes"
    for path in sorted((backend / "tests/corpus/events").glob("*.json")):
        path.write_bytes(neutral(path.read_bytes()))
    index = json.loads((envelopes / "index.json").read_text())
    for name, entry in index.items():
        body = neutral_envelope((envelopes / f"{name}.envelope").read_bytes())
        (envelopes / f"{name}.envelope").write_bytes(body)
        encoding = next((v for k, v in entry["headers"].items() if k.lower() == "content-encoding"), "")
        wire = encode(body, encoding)
        if "wire_sample" in entry:
            (envelopes / entry["wire_sample"]).write_bytes(wire)
        entry["decoded_bytes"], entry["wire_bytes"] = len(body), len(wire)
        for header in entry["headers"]:
            if header.lower() == "content-length":
                entry["headers"][header] = str(len(wire))
    (envelopes / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")


def split_envelope(body: bytes) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """Headers and items of an envelope, items with or without a `length` header."""
    header_line, _, rest = body.partition(b"\n")
    items = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item_header = json.loads(item_line)
        if "length" in item_header:
            payload, rest = rest[: item_header["length"]], rest[item_header["length"] + 1 :]
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((item_header, payload))
    return json.loads(header_line), items


def main() -> None:
    raw_dir, map_file, backend = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    notes = {r["event_id"]: r for r in map(json.loads, map_file.read_text().splitlines())}
    inputs = backend / "tests/corpus/events"
    envelopes = backend / "tests/corpus/envelopes"
    inputs.mkdir(parents=True, exist_ok=True)
    envelopes.mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {}
    wire_samples: set[tuple[str, str]] = set()
    for meta_path in sorted(raw_dir.glob("*.json")):
        meta = json.loads(meta_path.read_text())
        body = neutral_envelope(meta_path.with_suffix(".body").read_bytes())
        _header, items = split_envelope(body)
        user_agent = meta["headers"].get("User-Agent") or meta["headers"].get("user-agent", "")
        sdk_name = "py" if "python" in user_agent else "node"
        events = [json.loads(payload) for item, payload in items if item.get("type") == "event"]
        if events:
            note = notes.get(events[0]["event_id"])
            if note is None:
                continue
            name = note["name"]
            record = {
                "expected_group": note["expected_group"],
                "description": note["description"],
                "sdk": user_agent,
                "event": events[0],
            }
            (inputs / f"{name}.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        else:
            name = f"{sdk_name}_{items[0][0].get('type', 'empty')}"
            if name in index:
                continue
        (envelopes / f"{name}.envelope").write_bytes(body)
        encoding = next((v for k, v in meta["headers"].items() if k.lower() == "content-encoding"), "")
        wire = encode(body, encoding)  # the neutral body is not what was sent: encoded again
        headers = {k: v for k, v in meta["headers"].items() if k.lower() != "host"}
        headers.update({k: str(len(wire)) for k in headers if k.lower() == "content-length"})
        entry = {
            "path": meta["path"],
            "query": meta["query"],
            "headers": headers,
            "chunked": meta["chunked"],
            "wire_bytes": len(wire),
            "decoded_bytes": len(body),
            "item_types": [item.get("type") for item, _ in items],
            "item_length_header": all("length" in item for item, _ in items),
        }
        if encoding in WIRE_SUFFIX and (sdk_name, encoding) not in wire_samples and events:
            wire_samples.add((sdk_name, encoding))
            wire_name = f"{name}.envelope{WIRE_SUFFIX[encoding]}"
            (envelopes / wire_name).write_bytes(wire)
            entry["wire_sample"] = wire_name
        index[name] = entry
    (envelopes / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    print(f"{len(index)} envelopes, {len(list(inputs.glob('*.json')))} corpus events")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--neutralize"]:
        neutralize(Path(sys.argv[2]))
    else:
        main()
