"""Downloads: dumps, catalog, validation report, source PDFs — with HTTP caching and ranges.

Dumps are large and deterministic, so they get strong ETags from a content hash (stable across
identical rebuilds), ``If-None-Match`` → 304, and single ``Range`` requests → 206/416, which
lets download managers resume. They are served byte-exact (never re-encoded by gzip).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import AsyncIterator
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

MEDIA_TYPES: dict[str, str] = {
    ".ttl": "text/turtle; charset=utf-8",
    ".nt": "application/n-triples; charset=utf-8",
    ".nq": "application/n-quads; charset=utf-8",
    ".trig": "application/trig; charset=utf-8",
    ".jsonld": "application/ld+json; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".gz": "application/gzip",
    ".pdf": "application/pdf",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".map": "application/json; charset=utf-8",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
CHUNK = 256 * 1024

_hash_cache: dict[tuple[str, int, int, int], str] = {}


def media_type_for(path: Path) -> str:
    return MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")


def safe_join(root: Path, relative: str) -> Path | None:
    """``root/relative`` if it stays inside root and is a file (no traversal, no dotfiles)."""
    if any(part.startswith(".") for part in Path(relative).parts):
        return None
    try:
        candidate = (root / relative).resolve()
        root_resolved = root.resolve()
        if not candidate.is_relative_to(root_resolved) or not candidate.is_file():
            return None
    except (OSError, RuntimeError, ValueError):  # ValueError: a NUL byte in the name
        return None
    return candidate


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


async def strong_etag(path: Path, st: os.stat_result) -> str:
    """Content-hash ETag, cached per (path, size, mtime, inode) so each file is hashed once."""
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    tag = _hash_cache.get(key)
    if tag is None:
        tag = await asyncio.to_thread(_sha256_file, path)
        _hash_cache[key] = tag
    return f'"{tag[:32]}"'


def etag_for_bytes(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _etag_list(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def not_modified(request: Request, etag: str, mtime: float | None = None) -> bool:
    """RFC 9110 §13.1: If-None-Match (weak comparison) wins over If-Modified-Since."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = _etag_list(inm)
        bare = etag.removeprefix("W/")
        return "*" in tags or any(t.removeprefix("W/") == bare for t in tags)
    ims = request.headers.get("if-modified-since")
    if ims and mtime is not None:
        try:
            return int(mtime) <= parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False
    return False


_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")
_MAX_DIGITS = 18  # a longer number is beyond any file; int() of thousands of digits even raises


def _position(digits: str) -> int:
    """A byte position of a Range header; absurdly long numbers count as "past any end"."""
    return int(digits) if len(digits.lstrip("0")) <= _MAX_DIGITS else 10**_MAX_DIGITS


def parse_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """One byte range → (start, end inclusive); None: ignore header; False: unsatisfiable."""
    if "," in header:
        return None  # several ranges: answer with the whole file (allowed by RFC 9110)
    m = _RANGE.match(header)
    if not m or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if first:
        start = _position(first)
        end = _position(last) if last else size - 1
        if last and end < start:
            return None
        if start >= size:
            return False
        return start, min(end, size - 1)
    length = _position(last)
    if length == 0:
        return False
    return max(0, size - length), size - 1


async def _read_range(path: Path, start: int, end: int) -> AsyncIterator[bytes]:
    remaining = end - start + 1
    f = await asyncio.to_thread(path.open, "rb")
    try:
        await asyncio.to_thread(f.seek, start)
        while remaining > 0:
            block = await asyncio.to_thread(f.read, min(CHUNK, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        await asyncio.to_thread(f.close)


async def file_response(
    request: Request,
    path: Path,
    media_type: str | None = None,
    *,
    cache_control: str = "public, max-age=60",
    download_name: str | None = None,
    ranges: bool = True,
) -> Response:
    """A file with ETag, Last-Modified, 304, and (optionally) single-range 206/416."""
    st = await asyncio.to_thread(path.stat)
    etag = await strong_etag(path, st)
    headers = {
        "ETag": etag,
        "Last-Modified": formatdate(st.st_mtime, usegmt=True),
        "Cache-Control": cache_control,
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": "ETag, Content-Length, Content-Range, Accept-Ranges",
    }
    if ranges:
        headers["Accept-Ranges"] = "bytes"
    if download_name:
        headers["Content-Disposition"] = f'inline; filename="{download_name}"'
    mt = media_type or media_type_for(path)
    if not_modified(request, etag, st.st_mtime):
        return Response(status_code=304, headers=headers)
    size = st.st_size
    start, end, status = 0, size - 1, 200
    range_header = request.headers.get("range") if ranges else None
    if range_header:
        if_range = request.headers.get("if-range")
        if if_range is None or if_range.strip() == etag:
            parsed = parse_range(range_header, size)
            if parsed is False:
                headers["Content-Range"] = f"bytes */{size}"
                return Response(status_code=416, headers=headers)
            if parsed:
                start, end = parsed
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(max(0, end - start + 1))
    if request.method == "HEAD" or size == 0:
        return Response(status_code=status, headers=headers, media_type=mt)
    return StreamingResponse(_read_range(path, start, end), status_code=status, headers=headers, media_type=mt)


def bytes_response(
    request: Request, data: bytes, media_type: str, *, cache_control: str = "public, max-age=60"
) -> Response:
    """In-memory document (e.g. converted catalog) with a content-hash ETag and 304."""
    etag = etag_for_bytes(data)
    headers = {
        "ETag": etag,
        "Cache-Control": cache_control,
        "Access-Control-Allow-Origin": "*",
    }
    if not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else data
    headers["Content-Length"] = str(len(data))
    return Response(body, headers=headers, media_type=media_type)
