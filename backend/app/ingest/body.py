"""Reading request bodies with hard limits: counting received bytes and decompressing in bounded steps.

`read_body` never trusts Content-Length (chunked bodies have none, and it can lie): it counts what it
actually receives. Decompression is incremental with a cap on every step's output, so a gzip, deflate
or brotli bomb raises PayloadTooLarge after producing at most `max_decompressed` bytes plus one step;
nothing ever inflates a whole body at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Protocol

import brotli

from app.ingest.limits import MAX_EVENT_BYTES, BadPayload, BodyTooSlow, PayloadTooLarge

# Largest output of one decompression step: the overshoot past a limit is at most this much.
_STEP = 256 * 1024
_GZIP_OR_ZLIB_WBITS = 32 + zlib.MAX_WBITS  # auto-detects a gzip or zlib header
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


async def read_body(
    chunks: AsyncIterator[bytes],
    *,
    content_encoding: str | None,
    max_compressed: int,
    max_decompressed: int,
    timeout_s: float | None = None,
) -> bytes:
    """Read and decode a body; raise PayloadTooLarge or BadPayload as soon as a limit or an error shows,
    BodyTooSlow when it has not all arrived within `timeout_s` (a client trickling bytes holds a
    connection and a request slot for as long as it likes otherwise)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await _read_body(chunks, content_encoding, max_compressed, max_decompressed)
    except TimeoutError:
        raise BodyTooSlow(f"request body not received within {timeout_s:g} s") from None


async def _read_body(
    chunks: AsyncIterator[bytes], content_encoding: str | None, max_compressed: int, max_decompressed: int
) -> bytes:
    decoder = _decoder_for(content_encoding)
    sink = _Sink(max_decompressed)
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > max_compressed:
            raise PayloadTooLarge(f"request body exceeds {max_compressed} bytes")
        for piece in decoder.feed(chunk):
            sink.add(piece)
            if len(piece) >= _STEP:
                # A small chunk can expand a thousandfold: let other requests run between full steps.
                await asyncio.sleep(0)
    for piece in decoder.finish():
        sink.add(piece)
    return sink.result()


def decode_legacy_store_body(body: bytes, *, max_decompressed: int = MAX_EVENT_BYTES) -> bytes:
    """Decode a `/store/` body: JSON as is, otherwise base64 of JSON or of zlib-compressed JSON."""
    if body.lstrip().startswith(b"{"):
        if len(body) > max_decompressed:
            raise PayloadTooLarge(f"store body exceeds {max_decompressed} bytes")
        return body
    try:
        decoded = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadPayload("store body is neither JSON nor base64", [str(exc)]) from exc
    if decoded.lstrip().startswith(b"{"):
        if len(decoded) > max_decompressed:
            raise PayloadTooLarge(f"store body exceeds {max_decompressed} bytes")
        return decoded
    decoder = _ZlibDecoder(_GZIP_OR_ZLIB_WBITS, "store body")
    sink = _Sink(max_decompressed)
    for piece in decoder.feed(decoded):
        sink.add(piece)
    for piece in decoder.finish():
        sink.add(piece)
    return sink.result()


def _decoder_for(content_encoding: str | None) -> _Decoder:
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return _IdentityDecoder()
    if encoding in ("gzip", "x-gzip"):
        return _ZlibDecoder(_GZIP_OR_ZLIB_WBITS, "gzip body", multi_member=True)
    if encoding == "deflate":
        return _DeflateDecoder()
    if encoding == "br":
        return _BrotliDecoder()
    shown = ascii(encoding[:40])  # header-safe: the message may be echoed in X-Sentry-Error
    raise BadPayload(f"unsupported Content-Encoding: {shown}", ["supported: gzip, deflate, br, identity"])


class _Sink:
    """Collects decoded pieces and raises PayloadTooLarge once their total passes the limit."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._size = 0
        # A list of pieces rather than one growing bytearray: no reallocation copies while reading.
        self._pieces: list[bytes] = []

    def add(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._size > self._limit:
            self._pieces.clear()
            raise PayloadTooLarge(f"decompressed body exceeds {self._limit} bytes")
        self._pieces.append(piece)

    def result(self) -> bytes:
        return b"".join(self._pieces)


class _IdentityDecoder:
    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield bytes(data)

    def finish(self) -> Iterator[bytes]:
        return iter(())


class _ZlibDecoder:
    """gzip, zlib or raw deflate (by `wbits`), inflated at most `_STEP` bytes at a time."""

    def __init__(self, wbits: int, what: str, *, multi_member: bool = False) -> None:
        self._wbits = wbits
        self._what = what
        # RFC 1952 allows several gzip members back to back; they decode to the concatenation.
        self._multi_member = multi_member
        self._inflater = zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self._inflater.eof:
                if not self._multi_member:
                    raise BadPayload(f"{self._what}: data after the end of the compressed stream")
                self._inflater = zlib.decompressobj(self._wbits)
            yield from self._inflate(data)
            data = self._inflater.unused_data if self._inflater.eof else b""

    def finish(self) -> Iterator[bytes]:
        if not self._inflater.eof:
            yield from self._inflate(b"")
        if not self._inflater.eof:
            raise BadPayload(f"{self._what}: compressed stream is truncated or empty")

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        inflater = self._inflater
        while True:
            try:
                out = inflater.decompress(data, _STEP)
            except zlib.error as exc:
                raise BadPayload(f"{self._what}: invalid compressed data", [str(exc)]) from exc
            if out:
                yield out
            data = inflater.unconsumed_tail
            # Stop at the end of the stream, or when a step neither produced output nor left input:
            # a full step may have left output pending inside zlib, so only an empty step ends it.
            if inflater.eof or not (out or data):
                return


class _DeflateDecoder:
    """HTTP `deflate` means zlib-wrapped (RFC 9110), but some clients send raw deflate: sniff the header."""

    def __init__(self) -> None:
        self._prefix = b""
        self._inner: _ZlibDecoder | None = None

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._inner is None:
            self._prefix += data
            if len(self._prefix) < 2:
                return
            data, self._prefix = self._prefix, b""
            self._inner = self._choose(data)
        yield from self._inner.feed(data)

    def finish(self) -> Iterator[bytes]:
        if self._inner is None:
            data, self._prefix = self._prefix, b""
            self._inner = self._choose(data)
            yield from self._inner.feed(data)
        yield from self._inner.finish()

    @staticmethod
    def _choose(head: bytes) -> _ZlibDecoder:
        if _looks_like_zlib(head):
            return _ZlibDecoder(_ZLIB_WBITS, "deflate body")
        return _ZlibDecoder(_RAW_DEFLATE_WBITS, "deflate body")


def _looks_like_zlib(head: bytes) -> bool:
    """True if `head` starts with a valid zlib header (RFC 1950: method 8, window <= 32K, check bits)."""
    if len(head) < 2:
        return False
    cmf, flg = head[0], head[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0


class _BrotliDecoder:
    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        out = self._process(data)
        # The decoder can hold pending output even when it reports it can take more input (one short
        # back-reference may expand to megabytes), so pump it with empty input until it yields nothing.
        while out or not self._decompressor.can_accept_more_data():
            if out:
                yield out
            out = self._process(b"")

    def finish(self) -> Iterator[bytes]:
        yield from self.feed(b"")
        if not self._decompressor.is_finished():
            raise BadPayload("br body: compressed stream is truncated or empty")

    def _process(self, data: bytes) -> bytes:
        try:
            return self._decompressor.process(data, output_buffer_limit=_STEP)
        except brotli.error as exc:
            raise BadPayload("br body: invalid compressed data", [str(exc)]) from exc
