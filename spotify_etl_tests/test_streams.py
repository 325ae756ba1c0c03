"""The stream layers under the parser: the depth guard is exact at any chunk boundary, the
bounded reader builds what json builds, and every Unicode encoding reads as UTF-8."""

from __future__ import annotations

import io
import json

import ijson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spotify_etl.lib.export.streams import DepthGuard, NestingTooDeep, TooDeep, Utf8Reader, bounded_records

# Strings full of what could be taken for structure: brackets, quotes, backslashes.
_TEXT = st.text(alphabet='[]{}"\\ab\u00e9\u6771', max_size=6)
# Integers the C parser holds: it overflows on -2**63 itself (found by this test), as beyond
# 64 bits, and ingestion reads such a file again with the exact parser.
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63) + 1, 2**63 - 1) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=30,
)


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


class _Chunks:
    """A stream that hands out at most `size` bytes a read, to put boundaries everywhere."""

    def __init__(self, data: bytes, size: int):
        self._data, self._size, self._at = data, size, 0

    def read(self, size: int = -1) -> bytes:
        size = self._size if size < 0 else min(size, self._size)
        chunk = self._data[self._at : self._at + size]
        self._at += len(chunk)
        return chunk


def _trips(data: bytes, limit: int, chunk: int) -> bool:
    guard = DepthGuard(_Chunks(data, chunk), limit)
    try:
        while guard.read(chunk):
            pass
    except NestingTooDeep:
        return True
    return False


@settings(max_examples=300, deadline=None)
@given(st.lists(_JSON, max_size=4), st.integers(1, 9), st.booleans())
def test_the_guard_trips_exactly_above_the_limit_at_any_chunk_size(records, chunk, ascii_only) -> None:
    data = json.dumps(records, ensure_ascii=ascii_only).encode()
    depth = _depth(records)
    assert not _trips(data, depth, chunk)
    assert _trips(data, depth - 1, chunk) == (depth - 1 >= 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(_JSON, max_size=4), st.integers(2, 6))
def test_bounded_records_build_what_json_builds_or_say_too_deep(records, limit) -> None:
    got = list(bounded_records(io.BytesIO(json.dumps(records).encode()), ijson, limit))
    assert len(got) == len(records)
    for built, record in zip(got, records, strict=False):
        if 1 + _depth(record) > limit:
            assert type(built) is TooDeep
        else:
            assert built == record


@pytest.mark.parametrize(
    "encoding, bom",
    [
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b""),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-32-le", b""),
        ("utf-32-be", b"\x00\x00\xfe\xff"),
    ],
)
def test_utf8_reader_hands_out_utf8_whatever_was_written(encoding, bom) -> None:
    text = json.dumps([{"artist": "東京事変 Björk 🎵"}], ensure_ascii=False)
    reader = Utf8Reader(_Chunks(bom + text.encode(encoding), 3))
    assert reader.encoding == encoding
    out = b""
    while chunk := reader.read(5):
        out += chunk
    assert out.decode("utf-8") == text
