"""Turn the requests recorded by server.py into the committed corpus.

Run: `python build_corpus.py RAW_DIR MAP_FILE BACKEND_DIR`. Writes, for every event the scenario
scripts noted in MAP_FILE:
- `tests/corpus/events/<name>.json`: `{"expected_group", "description", "sdk", "event"}`
- `tests/corpus/envelopes/<name>.envelope`: the envelope bytes as sent, content encoding undone
- `tests/corpus/envelopes/index.json`: per envelope, the request path, query and headers
plus one session-only envelope per SDK and one wire sample (as sent) per SDK and content encoding.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

WIRE_SUFFIX = {"br": ".br", "gzip": ".gz", "deflate": ".zz"}


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
        body = meta_path.with_suffix(".body").read_bytes()
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
        entry = {
            "path": meta["path"],
            "query": meta["query"],
            "headers": {k: v for k, v in meta["headers"].items() if k.lower() != "host"},
            "chunked": meta["chunked"],
            "wire_bytes": meta["wire_bytes"],
            "decoded_bytes": meta["decoded_bytes"],
            "item_types": [item.get("type") for item, _ in items],
            "item_length_header": all("length" in item for item, _ in items),
        }
        if encoding in WIRE_SUFFIX and (sdk_name, encoding) not in wire_samples and events:
            wire_samples.add((sdk_name, encoding))
            wire_name = f"{name}.envelope{WIRE_SUFFIX[encoding]}"
            (envelopes / wire_name).write_bytes(meta_path.with_suffix(".wire").read_bytes())
            entry["wire_sample"] = wire_name
        index[name] = entry
    (envelopes / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    print(f"{len(index)} envelopes, {len(list(inputs.glob('*.json')))} corpus events")


if __name__ == "__main__":
    main()
