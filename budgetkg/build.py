"""The build pipeline: inputs → documents → lines.csv, graph, validation, store, dumps.

Parses documents in parallel processes, reuses the parse of an unchanged PDF (same sha256)
from the previous build, isolates failures per file, and writes everything into a temporary
sibling directory that replaces the output directory in one step at the end, so a reader of
the output never sees a half-built state.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from budgetkg.lines import write_lines
from budgetkg.model import Document, InputError
from budgetkg.pdf import sha256_of

CACHE_VERSION = "1"
DEFAULT_BASE_URI = "http://localhost:8000/"


@dataclass
class BuildOptions:
    out: Path
    base_uri: str = DEFAULT_BASE_URI
    jobs: int = 1
    progress: bool = True
    validate: bool = True
    tolerance: str | None = None  # rounding tolerance per printed figure, see validation.py


@dataclass
class BuildResult:
    documents: list[Document] = field(default_factory=list)
    failures: list[InputError] = field(default_factory=list)
    reused: int = 0
    lines: int = 0
    triples: int = 0
    summary: dict = field(default_factory=dict)


def collect_inputs(inputs: Iterable[Path]) -> list[Path]:
    """PDF files named directly, plus every *.pdf below each folder, in a stable order."""
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() == ".pdf" and p.is_file()))
        else:
            files.append(path)
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def _parse_one(path: Path) -> Document | InputError:
    from budgetkg.reader import read_document

    try:
        return read_document(path)
    except InputError as exc:
        return exc
    except Exception as exc:  # a reader bug must not stop the other documents
        return InputError(str(path), f"could not be read ({type(exc).__name__}: {exc})")


def _cache_key(sha: str) -> str:
    return f"{sha}-v{CACHE_VERSION}.pickle"


def parse_documents(
    files: list[Path], options: BuildOptions, cache_dir: Path | None
) -> tuple[list[Document], list[InputError], int, dict[str, bytes]]:
    """Parse in parallel; unchanged files come from the previous build's cache."""
    documents: dict[int, Document] = {}
    failures: list[InputError] = []
    todo: list[tuple[int, Path]] = []
    reused = 0
    fresh_cache: dict[str, bytes] = {}
    for i, path in enumerate(files):
        if not path.exists():
            failures.append(InputError(str(path), "does not exist"))
            continue
        if cache_dir is not None:
            try:
                sha = sha256_of(path)
            except OSError as exc:
                failures.append(InputError(str(path), f"cannot be read ({exc.strerror})"))
                continue
            cached = cache_dir / _cache_key(sha)
            if cached.exists():
                try:
                    blob = cached.read_bytes()
                    doc = pickle.loads(blob)
                    documents[i] = doc
                    fresh_cache[_cache_key(sha)] = blob
                    reused += 1
                    continue
                except Exception:
                    pass
        todo.append((i, path))
    bar = tqdm(
        total=len(files),
        initial=reused,
        unit="doc",
        desc="parsing",
        disable=not options.progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    pages = 0

    def record(i: int, result: Document | InputError) -> None:
        nonlocal pages
        if isinstance(result, InputError):
            failures.append(result)
            tqdm.write(f"error: {result.path}: {result.reason}", file=sys.stderr)
        else:
            documents[i] = result
            pages += result.source.page_count
            fresh_cache[_cache_key(result.source.sha256)] = pickle.dumps(result)
        bar.update(1)
        bar.set_postfix(pages=pages, failed=len(failures))

    if options.jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=options.jobs) as pool:
            futures = {pool.submit(_parse_one, path): i for i, path in todo}
            for future, i in futures.items():
                record(i, future.result())
    else:
        for i, path in todo:
            record(i, _parse_one(path))
    bar.close()
    return [documents[i] for i in sorted(documents)], failures, reused, fresh_cache


def build(inputs: list[Path], options: BuildOptions, echo: Callable[[str], None] = print) -> BuildResult:
    files = collect_inputs(inputs)
    out = options.out
    old_cache = out / "cache" if (out / "cache").is_dir() else None
    documents, failures, reused, cache = parse_documents(files, options, old_cache)
    result = BuildResult(documents=documents, failures=failures, reused=reused)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    tmp.chmod(0o755)
    try:
        (tmp / "cache").mkdir()
        for name, blob in cache.items():
            (tmp / "cache" / name).write_bytes(blob)
        result.lines = write_lines(documents, tmp / "lines.csv")
        for doc in documents:
            for warning in doc.warnings:
                echo(f"warning: {doc.source.name}: {warning}")
            for table in doc.tables:
                for warning in table.warnings:
                    echo(f"warning: {doc.source.name}: {table.title}: {warning}")
        _publish_stages(documents, tmp, options, result, echo)
        _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def _publish_stages(
    documents: list[Document],
    tmp: Path,
    options: BuildOptions,
    result: BuildResult,
    echo: Callable[[str], None],
) -> None:
    """Graph, store, dumps and validation (later stages)."""
    from budgetkg.export import write_exports
    from budgetkg.graph import GraphBuilder
    from budgetkg.store import write_store

    builder = GraphBuilder(options.base_uri)
    datasets = builder.build(documents)
    report = None
    if options.validate:
        from budgetkg.validation import validate_datasets

        report = validate_datasets(datasets, builder, tolerance=options.tolerance)
        (tmp / "validation").mkdir()
        report.write(tmp / "validation", documents)
        echo(report.summary_text())
        result.summary = report.counts()
    result.triples = write_store(datasets, report, tmp / "store")
    write_exports(datasets, report, tmp, builder, documents)
    manifest = {
        "base_uri": options.base_uri,
        "reference_graph": builder.reference_graph,
        "reference_dump": "dumps/reference.ttl",
        "validation_graph": builder.validation_graph,
        "documents": [
            {
                "doc_id": builder.doc_id(doc),
                "file": doc.source.name,
                "sha256": doc.source.sha256,
                "pages": doc.source.page_count,
                "graph": builder.document_graph(doc),
                "dump": f"dumps/documents/{builder.doc_id(doc)}.ttl",
                "department": doc.department,
                "year": doc.year,
                "kind": doc.kind,
                "budget": builder.budget_iri(doc),
            }
            for doc in documents
        ],
        "failures": [{"file": f.path, "reason": f.reason} for f in result.failures],
    }
    (tmp / "build.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def _swap(tmp: Path, out: Path) -> None:
    """Replace `out` with `tmp` so that readers see either the old or the new build."""
    if out.exists():
        old = out.with_name(f".{out.name}-old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)
