"""A throwaway Sentry-compatible sink that records every request an SDK sends, for building the corpus.

Run: `python server.py OUT_DIR` — prints the port it listens on (127.0.0.1 only), then writes
`OUT_DIR/NNNN.json` (method, path, query, headers, transfer details) and `OUT_DIR/NNNN.body` (the
body with transfer and content encodings undone) for each request, answering `200 {}` like Relay.
"""

from __future__ import annotations

import json
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import brotli

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("captures")
_lock = threading.Lock()
_seq = [0]


def _read_chunked(rfile) -> bytes:  # type: ignore[no-untyped-def]
    body = b""
    while True:
        size = int(rfile.readline().split(b";")[0].strip(), 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return body
        body += rfile.read(size)
        rfile.readline()


def _decode(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    if encoding == "br":
        return brotli.decompress(body)
    return body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
        if chunked:
            raw = _read_chunked(self.rfile)
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "").lower()
        body = _decode(raw, encoding)
        path, _, query = self.path.partition("?")
        with _lock:
            _seq[0] += 1
            n = _seq[0]
        meta = {
            "method": "POST",
            "path": path,
            "query": query,
            "headers": dict(self.headers.items()),
            "chunked": chunked,
            "wire_bytes": len(raw),
            "decoded_bytes": len(body),
        }
        (OUT / f"{n:04d}.json").write_text(json.dumps(meta, indent=2))
        (OUT / f"{n:04d}.body").write_bytes(body)
        (OUT / f"{n:04d}.wire").write_bytes(raw)
        answer = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
