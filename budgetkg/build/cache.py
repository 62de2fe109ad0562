"""The parse cache: an unchanged PDF (same sha256, same reader code and mappings, same page
source and OCR mode) is not parsed again; its pickled reading.ParsedDocument comes from the
previous build's cache/ and is hard-linked into the new one."""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from budgetkg.pdf import DEFAULT_ENGINE

if TYPE_CHECKING:
    from budgetkg.build.pipeline import _Input

CACHE_VERSION = "3"  # 3: the cache holds a reading.ParsedDocument (Document + unplaced numbers)
PACKAGE_DIR = Path(__file__).resolve().parent.parent  # budgetkg/

#: What a parsed Document depends on besides the PDF: a change to any of these files makes the
#: cached parses of the previous build stale, so the cache key includes their digest.
READER_INPUTS = (
    "model.py",
    "layout.py",
    "pdf.py",
    "pdf_pdfium.py",
    "ocr.py",
    *(f"tables/{m}.py" for m in ("__init__", "patterns", "geometry", "locate", "header", "columns", "rows")),
    "reader.py",
    "kinds.py",
    "codelists.py",
    "prose.py",
    "mapping.py",
    "reading.py",
)


def reader_fingerprint(engine: str = DEFAULT_ENGINE) -> str:
    """Digest of the code, mappings and page source (`engine`) a parse depends on (part of the cache key)."""
    digest = hashlib.sha256(CACHE_VERSION.encode())
    digest.update(engine.encode())
    for name in READER_INPUTS:
        digest.update((PACKAGE_DIR / name).read_bytes())
    from budgetkg.mapping import MAPPINGS_DIR

    for path in sorted(MAPPINGS_DIR.rglob("*.toml")):
        digest.update(path.relative_to(MAPPINGS_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    from budgetkg.resources import data_dir

    for path in sorted((data_dir("ontology") / "codelists").glob("*.csv")):  # kinds and code columns read them
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cache_name(sha256: str, fingerprint: str, ocr: str) -> str:
    """The cache file of a parse: the PDF's digest, the reader's fingerprint, the OCR mode."""
    return f"{sha256}-{fingerprint}-ocr-{ocr}.pickle"


def keep_parse(item: _Input, target: Path) -> None:
    """The parse goes into the new build's cache: a hard link to the previous build's file
    when reused (no copy), else the pickle the worker made (or one of the Document put
    together from its parts)."""
    if item.cached is not None:
        try:
            os.link(item.cached, target)
            return
        except OSError:
            shutil.copyfile(item.cached, target)
            return
    if item.blob is not None:
        target.write_bytes(item.blob)
    elif item.document is not None:  # put together from parts in this process
        from budgetkg.reading import ParsedDocument, UnplacedNumbers

        parsed = ParsedDocument(item.document, item.unplaced or UnplacedNumbers())
        target.write_bytes(pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL))
