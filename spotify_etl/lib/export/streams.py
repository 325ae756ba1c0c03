"""Byte streams between an export file and the JSON parser, and the parser's records.

A file is read once, through layers that each look at the bytes on their way:
`HashingReader` (the sha256 of the bytes as stored) → `Utf8Reader` (UTF-8, with or without a
byte-order mark, UTF-16 or UTF-32, handed on as UTF-8) → `DepthGuard` (stops the read as soon
as the JSON nests deeper than `MAX_NESTING`) → ijson.

The guard exists because ijson's fast readers (`items`, `parse`) keep the path of every
event, so their memory grows with the square of the nesting: 40,000 levels, 80 KB of
brackets, take 3.9 GB. A file the guard stops is read again with `bounded_records`, built on
ijson's `basic_parse`, whose memory stays flat at any depth: records nested deeper than the
limit come out as `TooDeep` (rejected by the caller), the rest as usual.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterator
from typing import IO, Any

# Spotify's records nest two levels (the file's array, the record); anything near this is
# not an export, and ijson's fast readers stay small below it (≈ 5 MB at 1,000 levels).
MAX_NESTING = 100

_HASH_CHUNK = 1 << 20


class NestingTooDeep(ValueError):
    """The JSON nests deeper than MAX_NESTING (raised by DepthGuard while the parser reads)."""


class HashingReader:
    """A binary stream that hashes what is read through it, so a file is read once."""

    def __init__(self, stream: IO[bytes]):
        self._stream = stream
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self.digest.update(chunk)
        return chunk

    def finish(self, unreadable: tuple[type[BaseException], ...] = ()) -> str:
        """Hash the rest (after a parse error or trailing bytes) and return the hex digest.
        A stream that cannot be read to its end (`unreadable`: a damaged zip member) is known
        by what could be read and where it broke, which is the same each time it is read."""
        try:
            while chunk := self._stream.read(_HASH_CHUNK):
                self.digest.update(chunk)
        except (OSError, *unreadable) as exc:
            self.digest.update(f"\0unreadable: {exc}".encode())
        return self.digest.hexdigest()


# Byte-order marks, the longer first (UTF-32-LE's begins with UTF-16-LE's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def detect_encoding(head: bytes) -> tuple[str, int]:
    """(encoding, length of its byte-order mark) of JSON text starting with `head` (its first
    four bytes): by the mark, else by where the zero bytes of its first, ASCII character lie
    (RFC 4627, section 3)."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    if len(head) >= 4:
        if head[:3] == b"\0\0\0":
            return "utf-32-be", 0
        if head[1:4] == b"\0\0\0":
            return "utf-32-le", 0
    if len(head) >= 2:
        if head[0] == 0:
            return "utf-16-be", 0
        if head[1] == 0:
            return "utf-16-le", 0
    return "utf-8", 0


class Utf8Reader:
    """The stream's JSON text as UTF-8 bytes, whatever Unicode encoding it was written in.

    Plain UTF-8 passes through untouched (the parser itself rejects invalid bytes). With
    `errors="replace"`, bytes that are not valid in the encoding become U+FFFD, so that one
    damaged name costs one record, not the rest of its file."""

    def __init__(self, stream: IO[bytes], errors: str = "strict"):
        self._stream = stream
        head = b""
        while len(head) < 4 and (more := stream.read(4 - len(head))):
            head += more
        self.encoding, bom = detect_encoding(head)
        self._pending = head[bom:]
        transcode = self.encoding != "utf-8" or errors != "strict"
        self._decoder = codecs.getincrementaldecoder(self.encoding)(errors) if transcode else None

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks for nothing to learn whether the stream gives bytes or text
            return b""
        while True:
            chunk = self._stream.read(size)
            if self._pending:
                chunk, self._pending = self._pending + chunk, b""
            if self._decoder is None:
                return chunk
            try:
                text = self._decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                raise UnicodeDecodeError(
                    exc.encoding,
                    exc.object,
                    exc.start,
                    exc.end,
                    f"{exc.reason} (file written in {self.encoding.upper()})",
                ) from None
            if text or not chunk:  # a chunk may end inside a character: read on
                return text.encode("utf-8")


# Everything but the bytes that make structure: quotes and brackets.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_QUOTE, _OPENING = ord('"'), frozenset(b"[{")


class DepthGuard:
    """Passes bytes on unchanged; raises NestingTooDeep once the JSON read through it nests
    deeper than `limit`. Brackets inside strings do not count.

    Per chunk, in C: escaped characters are dropped, then everything but quotes and brackets,
    then every pair of adjacent quotes (a string's contents are only what lies
    between its quotes, so dropping two adjacent ones changes no bracket's in-string parity).
    What is left is about two brackets a record, walked in Python: a few percent of parsing."""

    def __init__(self, stream, limit: int = MAX_NESTING):
        self._stream = stream
        self._limit = limit
        self._depth = 0
        self._in_string = False
        self._carry = b""  # trailing backslashes: they may escape the next chunk's first byte
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self._scan(chunk)
        self.position += len(chunk)
        return chunk

    def _scan(self, chunk: bytes) -> None:
        data = self._carry + chunk
        kept = len(data.rstrip(b"\\")) if chunk else len(data)
        data, self._carry = data[:kept], data[kept:]
        if b"\\" in data:
            data = _without_escaped_characters(data)
        depth, in_string = self._depth, self._in_string
        for byte in data.translate(None, _NOT_STRUCTURE).replace(b'""', b""):
            if byte == _QUOTE:
                in_string = not in_string
            elif not in_string:
                depth += 1 if byte in _OPENING else -1
                if depth > self._limit:
                    raise NestingTooDeep(
                        f"nested deeper than {self._limit} levels within bytes"
                        f" {self.position:,}..{self.position + len(chunk):,}"
                    )
        self._depth, self._in_string = depth, in_string


def _without_escaped_characters(data: bytes) -> bytes:
    """`data` less every backslash escape's backslash and the character it escapes (a quote or
    backslash escaped is no structure). Splitting on backslashes is a C scan; escapes are rare."""
    parts = data.split(b"\\")
    kept = [parts[0]]
    escapes = True  # whether the backslash before the next part starts an escape
    for part in parts[1:]:
        if not escapes:  # this backslash was itself escaped
            kept.append(part)
            escapes = True
        elif part:
            kept.append(part[1:])
        else:  # the escaped character is the next backslash
            escapes = False
    return b"".join(kept)


class TooDeep:
    """A record nested deeper than the limit: what it holds down to that depth, for the
    rejection's record text (deeper parts replaced by a note)."""

    def __init__(self, partial: Any):
        self.partial = partial


def bounded_records(stream, backend, limit: int = MAX_NESTING) -> Iterator[Any]:
    """The elements of the top-level JSON array, built from `backend.basic_parse` events with
    flat memory at any depth. An element nesting deeper than `limit` (the array counts as 1)
    is yielded as TooDeep."""
    events = backend.basic_parse(stream, use_float=True)
    first = next(events, (None, None))[0]
    if first != "start_array":
        raise NestingTooDeep("the top level is not an array")
    stack: list[list] = []  # per open container: [container, pending key]
    too_deep = False
    skipping = 0  # open containers below the limit, not built
    for event, value in events:
        if skipping:
            skipping += event in ("start_map", "start_array")
            skipping -= event in ("end_map", "end_array")
            if skipping == 0:
                value = f"<nested deeper than {limit} levels: not kept>"
                event = "string"
            else:
                continue
        if event in ("start_map", "start_array"):
            if len(stack) + 2 > limit:
                skipping, too_deep = 1, True
                continue
            stack.append([{} if event == "start_map" else [], None])
            continue
        if event == "map_key":
            stack[-1][1] = value
            continue
        if event in ("end_map", "end_array"):
            if not stack:
                return  # the end of the top-level array
            value = stack.pop()[0]
        if not stack:
            yield TooDeep(value) if too_deep else value
            too_deep = False
            continue
        container, key = stack[-1]
        if type(container) is dict:
            container[key] = value
        else:
            container.append(value)
