"""Reading uploaded bundles: the files sentry-cli puts in them, and every way a bundle is refused
(zip bombs by ratio and by total size, manifests that are missing, malformed or name absent files)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from app.sourcemaps.archive import MAX_RATIO, BadBundle, map_url, read_bundle
from tests.support.js_events import FIXTURES

DEBUG_ID = "895f946f-5224-5070-afb3-e1ff9bd9170c"
LIMIT = 50 * 1024 * 1024


def manifest(**overrides: Any) -> dict[str, Any]:
    """The manifest sentry-cli 3 writes for `sourcemaps upload --release 1.0` of an injected build."""
    return {
        "files": {
            "files/_/_/app.min.js": {
                "type": "minified_source",
                "url": "~/app.min.js",
                "headers": {"debug-id": DEBUG_ID, "sourcemap": "app.min.js.map"},
            },
            "files/_/_/app.min.js.map": {
                "type": "source_map",
                "url": "~/app.min.js.map",
                "headers": {"debug-id": DEBUG_ID},
            },
        },
        "debug_id": "800cdf24-55e0-5f9e-b55d-9d69ee5c5aa5",
        "org": "acme",
        "project": "shop",
        "release": "1.0",
        **overrides,
    }


def bundle(files: dict[str, bytes], manifest_data: Any = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        if manifest_data is not None:
            text = manifest_data if isinstance(manifest_data, str) else json.dumps(manifest_data)
            archive.writestr("manifest.json", text)
    return out.getvalue()


def build_files() -> dict[str, bytes]:
    folder = FIXTURES / "build-a"
    return {
        "files/_/_/app.min.js": (folder / "app.min.js").read_bytes(),
        "files/_/_/app.min.js.map": (folder / "app.min.js.map").read_bytes(),
    }


def test_a_sentry_cli_bundle_is_read_with_its_urls_and_debug_ids() -> None:
    read = read_bundle(bundle(build_files(), manifest()), LIMIT)
    assert (read.release, read.dist, read.debug_id) == ("1.0", None, "800cdf24-55e0-5f9e-b55d-9d69ee5c5aa5")
    by_type = {f.type: f for f in read.files}
    assert by_type["minified_source"].url == "~/app.min.js"
    assert by_type["minified_source"].sourcemap == "~/app.min.js.map"
    assert by_type["source_map"].debug_id == DEBUG_ID
    assert by_type["source_map"].content == build_files()["files/_/_/app.min.js.map"]


def test_files_of_other_types_are_left_out() -> None:
    entries = manifest()["files"] | {"files/_/_/README": {"type": "source", "url": "~/README"}}
    read = read_bundle(bundle(build_files() | {"files/_/_/README": b"hi"}, manifest(files=entries)), LIMIT)
    assert sorted(f.type for f in read.files) == ["minified_source", "source_map"]


def test_a_zip_bomb_is_refused_by_its_ratio() -> None:
    bomb = b"\0" * (8 * 1024 * 1024)  # deflates about 1000 times
    entries = manifest()["files"] | {"files/_/_/bomb.js.map": {"type": "source_map", "url": "~/bomb.js.map"}}
    with pytest.raises(BadBundle, match=f"more than {MAX_RATIO} times"):
        read_bundle(bundle(build_files() | {"files/_/_/bomb.js.map": bomb}, manifest(files=entries)), LIMIT)


def test_a_bundle_inflating_past_the_limit_is_refused() -> None:
    # Every file has a sane ratio, but together they pass the limit.
    many = {f"files/_/_/{n}.js.map": bytes(range(256)) * 4096 for n in range(4)}  # 1 MiB each
    entries = {name: {"type": "source_map", "url": f"~/{n}.js.map"} for n, name in enumerate(many)}
    with pytest.raises(BadBundle, match="larger than allowed"):
        read_bundle(bundle(many, {"files": entries}), 3 * 1024 * 1024)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a zip at all", "not a zip archive"),
        (bundle(build_files()), "no manifest.json"),
        (bundle(build_files(), "{"), "not JSON"),
        (bundle(build_files(), {"files": []}), 'with a "files" object'),
        (
            bundle(build_files(), manifest(files={"files/_/_/app.min.js": "x"})),
            "must be an object with a type",
        ),
        (bundle({}, manifest()), "which the bundle does not hold"),
        (
            bundle(
                build_files(),
                manifest(
                    files={"files/_/_/app.min.js": {"type": "source_map", "headers": {"debug-id": "x"}}}
                ),
            ),
            "is not a UUID",
        ),
        (
            bundle(build_files(), manifest(files={"files/_/_/app.min.js": {"type": "source_map", "url": 3}})),
            "url must be a string",
        ),
    ],
)
def test_malformed_bundles_are_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(BadBundle, match=message):
        read_bundle(data, LIMIT)


@pytest.mark.parametrize(
    ("file_url", "reference", "expected"),
    [
        ("~/app.min.js", "app.min.js.map", "~/app.min.js.map"),
        ("~/assets/app.min.js", "../maps/app.min.js.map", "~/maps/app.min.js.map"),
        ("~/assets/app.min.js", "/static/app.min.js.map", "~/static/app.min.js.map"),
        ("~/assets/app.min.js", "https://cdn.example/app.min.js.map", "https://cdn.example/app.min.js.map"),
    ],
)
def test_map_url(file_url: str, reference: str, expected: str) -> None:
    assert map_url(file_url, reference) == expected
