"""``build.json``: the manifest of a build directory, one typed and versioned class that every
writer (build) and reader (validate, publish, serve) of the file goes through.

Version 2 added ``version``, ``validation_dump``, ``license`` and ``publisher``; a version 1
file (no ``version`` key) is still read, with those fields at their defaults.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

MANIFEST_VERSION = 2
FILE_NAME = "build.json"


class ManifestError(ValueError):
    """build.json is missing, not JSON, or lacks a field: one line naming the file."""


@dataclass(frozen=True, slots=True)
class DocumentEntry:
    """One built document: its source PDF, its named graph and dump, what it is."""

    doc_id: str
    file: str = ""
    sha256: str = ""
    pages: int = 0
    graph: str = ""  # default: BASE graph/{doc_id}
    dump: str = ""  # relative to the build directory; default: dumps/documents/{doc_id}.ttl
    source: str = ""  # the copied PDF, relative to the build directory
    department: str = ""
    year: int = 0
    kind: str = ""  # 预算 | 决算
    budget: str = ""  # the bk:Budget IRI
    reading: dict[str, int] = field(default_factory=dict)  # its counts in reading.json (tables, balanced …)


def _document(base: str, data: dict[str, Any]) -> DocumentEntry:
    """An entry, with the graph and dump a build writes for its doc id where none is given."""
    doc_id = str(data["doc_id"])
    data.setdefault("graph", "")
    data.setdefault("dump", "")
    data["graph"] = data["graph"] or f"{base}graph/{doc_id}"
    data["dump"] = data["dump"] or f"dumps/documents/{doc_id}.ttl"
    return DocumentEntry(**data)


@dataclass(frozen=True, slots=True)
class FailureEntry:
    file: str
    reason: str


@dataclass(frozen=True, slots=True)
class Manifest:
    base_uri: str
    reference_graph: str
    validation_graph: str
    documents: tuple[DocumentEntry, ...] = ()
    failures: tuple[FailureEntry, ...] = ()
    reference_dump: str = "dumps/reference.ttl"
    validation_dump: str = "validation/report.ttl"
    reading: str = "reading.json"  # every table's reading status (reading.py)
    license: str | None = None
    publisher: str | None = None
    version: int = MANIFEST_VERSION
    extra: dict[str, Any] = field(default_factory=dict)  # keys written by a newer budgetkg, kept

    def to_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if k != "extra"}
        data.update(self.extra)
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    def write(self, build_dir: Path) -> Path:
        path = build_dir / FILE_NAME
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = FILE_NAME) -> Manifest:
        try:
            version = int(data.get("version", 1))
            if version > MANIFEST_VERSION:
                raise ManifestError(
                    f"{where}: manifest version {version} is newer than this budgetkg ({MANIFEST_VERSION})"
                )
            base = str(data["base_uri"])
            base = base if base.endswith("/") else base + "/"
            doc_fields = {f.name for f in fields(DocumentEntry)}
            documents = tuple(
                _document(base, {k: v for k, v in d.items() if k in doc_fields}) for d in data.get("documents", [])
            )
            failures = tuple(FailureEntry(str(f["file"]), str(f["reason"])) for f in data.get("failures", []))
            known = {f.name for f in fields(cls)}
            return cls(
                base_uri=base,
                reference_graph=str(data.get("reference_graph") or f"{base}graph/reference"),
                validation_graph=str(data.get("validation_graph") or f"{base}graph/validation"),
                documents=documents,
                failures=failures,
                reference_dump=str(data.get("reference_dump") or "dumps/reference.ttl"),
                validation_dump=str(data.get("validation_dump") or "validation/report.ttl"),
                license=data.get("license"),
                publisher=data.get("publisher"),
                version=MANIFEST_VERSION,
                extra={k: v for k, v in data.items() if k not in known},
            )
        except ManifestError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"{where}: not a budgetkg build manifest ({type(exc).__name__}: {exc})") from None

    @classmethod
    def read(cls, build_dir: Path) -> Manifest:
        path = Path(build_dir) / FILE_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ManifestError(f"{path}: no build manifest (is {build_dir} a budgetkg build?)") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{path}: unreadable build manifest ({exc})") from None
        if not isinstance(data, dict):
            raise ManifestError(f"{path}: not a build manifest (a JSON object is expected)")
        return cls.from_dict(data, str(path))

    def as_dict(self) -> dict[str, Any]:
        """The manifest as plain JSON data (what ``to_json`` writes)."""
        return json.loads(self.to_json())
