"""The build directory as the server sees it: manifest, paths, and IRI ↔ URL-path mapping.

IRIs are minted under the build's ``base_uri``; the server answers for them on whatever host
and port it runs, by mapping a request path P to ``base_uri + P`` and, in HTML, an IRI under
the base back to a server-relative path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

DEFAULT_BASE = "http://localhost:8000/"


@dataclass(frozen=True, slots=True)
class Build:
    """A finished build directory (``budgetkg build … --out DIR``)."""

    root: Path
    base_uri: str
    documents: tuple[dict[str, Any], ...] = ()
    manifest: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, root: Path, base_uri: str | None = None) -> Build:
        """Read ``build.json``; fail early with a readable message if the store is missing."""
        root = Path(root).resolve()
        manifest: dict[str, Any] = {}
        mf = root / "build.json"
        if mf.is_file():
            from budgetkg.manifest import Manifest  # the one reader of build.json

            manifest = Manifest.read(root).as_dict()
        if not (root / "store").is_dir():
            raise FileNotFoundError(f"{root}: no store/ directory — is this a budgetkg build?")
        base = base_uri or manifest.get("base_uri") or DEFAULT_BASE
        if not base.endswith(("/", "#")):
            base += "/"
        docs = tuple(d for d in manifest.get("documents", []) if isinstance(d, dict))
        return cls(root=root, base_uri=base, documents=docs, manifest=manifest)

    def fingerprint(self) -> tuple[int, int, int] | None:
        """Identity of the build on disk; changes when a new build is swapped in."""
        return fingerprint(self.root)

    @property
    def store_path(self) -> Path:
        return self.root / "store"

    @property
    def validation_graph(self) -> str:
        return self.base_uri + "graph/validation"

    def iri_candidates(self, raw_path: str) -> list[str]:
        """IRIs a request path may name: IRI form (non-ASCII decoded) first, then fully decoded."""
        path = raw_path.lstrip("/")
        out = [self.base_uri + uri_to_iri(path)]
        full = unquote_to_bytes(path).decode("utf-8", errors="replace")
        if self.base_uri + full not in out:
            out.append(self.base_uri + full)
        return out

    def local_path(self, iri: str) -> str | None:
        """Server-relative URL path for an IRI under the base, else None."""
        if not iri.startswith(self.base_uri):
            return None
        return "/" + iri[len(self.base_uri) :]

    def source_pdf(self, sha256: str) -> Path | None:
        """The source PDF kept in the build (``sources/<sha256>.pdf``), if present."""
        if not re.fullmatch(r"[0-9a-f]{16,64}", sha256):
            return None
        sources = self.root / "sources"
        exact = sources / f"{sha256}.pdf"
        if exact.is_file():
            return exact
        if sources.is_dir():
            for p in sources.glob(f"{sha256}*.pdf"):
                return p
        for doc in self.documents:
            if str(doc.get("sha256", "")).startswith(sha256):
                name = doc.get("file") or doc.get("file_name")
                if name:
                    cand = sources / Path(str(name)).name
                    if cand.is_file():
                        return cand
        return None


def fingerprint(root: Path) -> tuple[int, int, int] | None:
    """(inode of DIR, inode and mtime of build.json), or None while DIR is missing."""
    try:
        d = root.stat()
        m = (root / "build.json").stat()
    except OSError:
        return None
    return (d.st_ino, m.st_ino, m.st_mtime_ns)


_PCT = re.compile(rb"(?:%[0-9A-Fa-f]{2})+")


def uri_to_iri(path: str) -> str:
    """Decode percent-escapes that form non-ASCII UTF-8 (RFC 3987 §3.2); keep ASCII escapes."""

    def repl(m: re.Match[bytes]) -> bytes:
        raw = unquote_to_bytes(m.group(0).decode("ascii"))
        out = bytearray()
        i = 0
        while i < len(raw):
            b = raw[i]
            if b < 0x80:
                out += b"%%%02X" % b
                i += 1
                continue
            length = 2 if b >= 0xC0 and b < 0xE0 else 3 if b < 0xF0 else 4
            chunk = raw[i : i + length]
            try:
                chunk.decode("utf-8")
                out += chunk
                i += length
            except UnicodeDecodeError:
                out += b"%%%02X" % b
                i += 1
        return bytes(out)

    return _PCT.sub(repl, path.encode("utf-8")).decode("utf-8", errors="replace")
