"""Reading bodies: every Content-Encoding, chunked delivery, size limits, and decompression bombs."""

from __future__ import annotations

import asyncio
import base64
import gzip
import os
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterable

import brotli
import pytest

from app.ingest.body import decode_legacy_store_body, read_body
from app.ingest.limits import (
    MAX_COMPRESSED_BODY_BYTES,
    MAX_DECOMPRESSED_BYTES,
    MAX_EVENT_BYTES,
    BadPayload,
    PayloadTooLarge,
)

MIB = 1024 * 1024
PAYLOAD = (
    b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"event"}\n' + os.urandom(2000) + b"x" * 50_000
)


async def stream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def read(
    chunks: Iterable[bytes] | AsyncIterator[bytes],
    encoding: str | None,
    *,
    max_compressed: int = MAX_COMPRESSED_BODY_BYTES,
    max_decompressed: int = MAX_DECOMPRESSED_BYTES,
) -> bytes:
    source = chunks if isinstance(chunks, AsyncIterator) else stream(chunks)
    return asyncio.run(
        read_body(
            source,
            content_encoding=encoding,
            max_compressed=max_compressed,
            max_decompressed=max_decompressed,
        )
    )


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODED = {
    "identity": PAYLOAD,
    "gzip": gzip.compress(PAYLOAD),
    "deflate-zlib": zlib.compress(PAYLOAD),
    "deflate-raw": raw_deflate(PAYLOAD),
    "br": brotli.compress(PAYLOAD),
}
HEADER = {"identity": None, "gzip": "gzip", "deflate-zlib": "deflate", "deflate-raw": "deflate", "br": "br"}


@pytest.mark.parametrize("kind", list(ENCODED))
def test_each_encoding_in_one_chunk(kind: str) -> None:
    assert read([ENCODED[kind]], HEADER[kind]) == PAYLOAD


@pytest.mark.parametrize("kind", list(ENCODED))
@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
def test_each_encoding_chunked(kind: str, chunk_size: int) -> None:
    # Chunk size 1 also makes the deflate sniffer wait for its two header bytes across chunks.
    body = ENCODED[kind]
    chunks = split(body, chunk_size)
    if chunk_size == 1:
        chunks = [*chunks[:3000], body[3000:]]  # keep the one-byte case quick
    assert read(chunks, HEADER[kind]) == PAYLOAD


@pytest.mark.parametrize("header", ["identity", "", " IDENTITY ", None])
def test_identity_spellings(header: str | None) -> None:
    assert read([b"ab", b"", b"cd"], header) == b"abcd"


@pytest.mark.parametrize("header", ["GZIP", " gzip ", "x-gzip"])
def test_gzip_spellings(header: str) -> None:
    assert read([gzip.compress(b"hello")], header) == b"hello"


def test_python_sdk_style_gzip_file_stream() -> None:
    # sentry-python writes through gzip.GzipFile(compresslevel=9), as here.
    import io

    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="w", compresslevel=9) as handle:
        handle.write(PAYLOAD)
    assert read(split(buffer.getvalue(), 1000), "gzip") == PAYLOAD


def test_concatenated_gzip_members_decode_to_the_concatenation() -> None:
    assert read([gzip.compress(b"first "), gzip.compress(b"second")], "gzip") == b"first second"


def test_empty_identity_body() -> None:
    assert read([], None) == b""


@pytest.mark.parametrize("header", ["zstd", "compress", "gzip, br", "bogus", "br\u00e9\x7f"])
def test_unsupported_encodings(header: str) -> None:
    with pytest.raises(BadPayload, match="unsupported Content-Encoding") as caught:
        read([b"x"], header)
    assert caught.value.status_code == 400
    assert caught.value.message.isascii()


@pytest.mark.parametrize(
    ("body", "header"),
    [
        (b"this is not gzip at all", "gzip"),
        (b"this is not deflate", "deflate"),
        (b"\x00\x01\x02 not brotli either \xff" * 3, "br"),
        (gzip.compress(PAYLOAD)[:-20], "gzip"),  # truncated
        (zlib.compress(PAYLOAD)[:100], "deflate"),
        (raw_deflate(PAYLOAD)[:100], "deflate"),
        (brotli.compress(PAYLOAD)[:50], "br"),
        (b"", "gzip"),
        (b"", "deflate"),
        (b"", "br"),
        (zlib.compress(b"{}") + b"trailing", "deflate"),
        (brotli.compress(b"{}") + b"trailing", "br"),
    ],
)
def test_corrupt_truncated_or_empty_compressed_bodies(body: bytes, header: str) -> None:
    with pytest.raises(BadPayload):
        read(split(body, 16), header)


def test_compressed_limit_counts_bytes_received_and_stops_reading() -> None:
    # An endless chunked body: no Content-Length to trust, so counting is the only defence.
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield os.urandom(64 * 1024)

    with pytest.raises(PayloadTooLarge, match="exceeds 1048576 bytes") as caught:
        read(endless(), None, max_compressed=MIB)
    assert pulled == 17  # 16 chunks make exactly 1 MiB; the 17th passes the limit
    assert caught.value.status_code == 413


def test_compressed_limit_applies_before_decompression() -> None:
    body = gzip.compress(os.urandom(300_000), compresslevel=1)
    with pytest.raises(PayloadTooLarge, match="request body exceeds"):
        read(split(body, 10_000), "gzip", max_compressed=200_000)


def test_bodies_exactly_at_the_limits_pass() -> None:
    data = os.urandom(10_000)
    assert read(split(data, 999), None, max_compressed=10_000, max_decompressed=10_000) == data
    with pytest.raises(PayloadTooLarge):
        read([data, b"!"], None, max_compressed=10_000, max_decompressed=20_000)
    with pytest.raises(PayloadTooLarge, match="decompressed body exceeds 9999"):
        read([data], None, max_compressed=20_000, max_decompressed=9_999)


@pytest.mark.parametrize("kind", ["gzip", "deflate-zlib", "deflate-raw", "br"])
def test_decompressed_limit_boundary(kind: str) -> None:
    data = b"a" * 500_000
    body = {
        "gzip": gzip.compress,
        "deflate-zlib": zlib.compress,
        "deflate-raw": raw_deflate,
        "br": brotli.compress,
    }[kind](data)
    assert read([body], HEADER[kind], max_decompressed=500_000) == data
    with pytest.raises(PayloadTooLarge, match="decompressed body exceeds 499999 bytes"):
        read([body], HEADER[kind], max_decompressed=499_999)


# --- Decompression bombs -------------------------------------------------------------------------
# Each bomb inflates to 10 GiB of zeros. It is built by compressing one MiB of zeros at a time with a
# full flush after each, which resets the compressor's state: every MiB after the first compresses to
# the same bytes, so the 10 GiB stream is the first segment plus that segment repeated, generated
# lazily. The stream ends before the compressor's trailer, which the reader must never get to.

BOMB_BYTES = 10 * 1024 * MIB


def zlib_family_bomb(wbits: int) -> tuple[bytes, bytes]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(MIB)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH) == repeated
    return first, repeated


def brotli_bomb() -> tuple[bytes, bytes]:
    compressor = brotli.Compressor(quality=5)
    zeros = bytes(MIB)
    first = compressor.process(zeros) + compressor.flush()
    repeated = compressor.process(zeros) + compressor.flush()
    assert compressor.process(zeros) + compressor.flush() == repeated
    return first, repeated


BOMBS = {
    "gzip": (lambda: zlib_family_bomb(16 + zlib.MAX_WBITS), "gzip"),
    "deflate-zlib": (lambda: zlib_family_bomb(zlib.MAX_WBITS), "deflate"),
    "deflate-raw": (lambda: zlib_family_bomb(-zlib.MAX_WBITS), "deflate"),
    "br": (brotli_bomb, "br"),
}


@pytest.mark.parametrize("kind", list(BOMBS))
@pytest.mark.parametrize("segments_per_chunk", [64, 1024])
def test_ten_gib_bomb_stops_at_the_decompressed_limit_with_bounded_memory(
    kind: str, segments_per_chunk: int
) -> None:
    # 64 segments make a ~64 KiB chunk (what servers typically hand over) worth 64 MiB; 1024 make one
    # chunk worth 1 GiB, which only bounded, stepwise inflation survives.
    build, header = BOMBS[kind]
    first, repeated = build()
    segments = BOMB_BYTES // MIB
    assert len(first) + (segments - 1) * len(repeated) < MAX_COMPRESSED_BODY_BYTES  # small on the wire
    chunk = repeated * segments_per_chunk
    sent = 0

    async def bomb() -> AsyncIterator[bytes]:
        nonlocal sent
        yield first
        for _ in range((segments - 1) // segments_per_chunk):
            sent += 1
            yield chunk

    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge, match="decompressed body exceeds"):
            read(bomb(), header)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 150 * MIB, f"peak {peak / MIB:.1f} MiB"
    # It stopped right after the 100 MiB limit instead of reading on through the 10 GiB stream.
    assert sent <= MAX_DECOMPRESSED_BYTES // MIB // segments_per_chunk + 1


# --- Legacy /store/ bodies ------------------------------------------------------------------------

EVENT_JSON = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","message":"hello"}'


@pytest.mark.parametrize(
    "body",
    [
        EVENT_JSON,
        b"  \n" + EVENT_JSON,
        base64.b64encode(zlib.compress(EVENT_JSON)),
        base64.b64encode(EVENT_JSON),
        base64.b64encode(zlib.compress(EVENT_JSON)) + b"\n",
        base64.b64encode(gzip.compress(EVENT_JSON)),
    ],
)
def test_store_body_forms(body: bytes) -> None:
    decoded = decode_legacy_store_body(body)
    assert decoded.strip() == EVENT_JSON


def test_store_body_base64_with_line_breaks_like_old_raven_clients() -> None:
    big = b'{"extra":"' + base64.b16encode(os.urandom(2000)) + b'"}'
    wrapped = base64.encodebytes(zlib.compress(big))  # newline every 76 characters
    assert b"\n" in wrapped.strip()
    assert decode_legacy_store_body(wrapped) == big


@pytest.mark.parametrize(
    "body",
    [
        b"not base64 !!!",
        base64.b64encode(b"\x00\x01 not zlib"),
        base64.b64encode(zlib.compress(EVENT_JSON)[:-5]),
    ],
)
def test_store_body_garbage(body: bytes) -> None:
    with pytest.raises(BadPayload):
        decode_legacy_store_body(body)


def test_store_body_zlib_bomb_is_bounded() -> None:
    bomb = base64.b64encode(zlib.compress(bytes(50 * MIB), 9))
    assert len(bomb) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge, match=f"exceeds {MAX_EVENT_BYTES} bytes"):
            decode_legacy_store_body(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * MIB


@pytest.mark.parametrize("body", [EVENT_JSON, base64.b64encode(EVENT_JSON)])
def test_store_body_json_over_the_limit(body: bytes) -> None:
    assert decode_legacy_store_body(body, max_decompressed=len(EVENT_JSON)) == EVENT_JSON
    with pytest.raises(PayloadTooLarge, match="store body exceeds"):
        decode_legacy_store_body(body, max_decompressed=len(EVENT_JSON) - 1)
