"""What the workers run: parse a document (whole or some of its pages), validate a document's
graph (whole or a share of its shapes); and the main-process side that sends and collects them."""

from __future__ import annotations

import gc
import hashlib
import pickle
import sys
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from budgetkg.build.failures import failure_reason
from budgetkg.model import Document, PageText
from budgetkg.pdf import DEFAULT_ENGINE, count_pages
from budgetkg.pool import InlinePool, Outcome, Task, WorkerPool, make_pool, shared

if TYPE_CHECKING:
    from budgetkg.ocr import OcrOptions
    from budgetkg.validation import Finding


def parse_task(path: str, engine: str = DEFAULT_ENGINE, ocr: OcrOptions | None = None) -> tuple[bool, bytes | str]:
    """(True, pickled reading.ParsedDocument) or (False, `stage: reason` why the file cannot be
    built). The pickle is also what the cache stores, so it is made once, here."""
    from budgetkg.pdf import read_pdf

    try:
        source, pages = read_pdf(Path(path), engine, ocr)
    except Exception as exc:
        return False, failure_reason(exc, "pdf")
    return parsed_document(source, pages)


def alternative_readings(source: Any, pages: list[PageText]) -> list[tuple[str, Callable[[frozenset[int]], Document]]]:
    """Other ways to read a document, tried by reading.improve_reading (with the default
    tolerance) on the tables that do not balance: every column strategy of mappings/layout.toml
    other than the configured one (columns from rules, columns from gutters). Only the pages of
    those tables are read again, with the first two (the cover: whose budget it is)."""
    import dataclasses

    from budgetkg.layout import STRATEGIES, load_layout
    from budgetkg.reader import document_from_pages

    configured = load_layout()

    def reading(strategy: str) -> tuple[str, Callable[[frozenset[int]], Document]]:
        settings = dataclasses.replace(configured, column_strategy=strategy)

        def read(needed: frozenset[int]) -> Document:
            subset = [p for i, p in enumerate(pages) if i < 2 or p.number in needed]
            return document_from_pages(source, subset, settings=settings)

        return f"columns from {strategy}", read

    return [reading(s) for s in STRATEGIES if s not in ("auto", configured.column_strategy)]


def parsed_document(source: Any, pages: list[PageText]) -> tuple[bool, bytes | str]:
    """The Document read from its pages, with the numbers of its table pages that no cell holds
    (reading.unplaced_numbers needs the pages, which are not kept), pickled."""
    from budgetkg.reader import document_from_pages
    from budgetkg.reading import ParsedDocument, improve_reading, unplaced_numbers

    try:
        document = improve_reading(document_from_pages(source, pages), alternative_readings(source, pages))
        parsed = ParsedDocument(document, unplaced_numbers(document, pages))
        return True, pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # a reader bug must not stop the other documents
        return False, failure_reason(exc, "reader")


def parse_pages_task(
    path: str, numbers: tuple[int, ...], engine: str = DEFAULT_ENGINE, ocr: OcrOptions | None = None
) -> tuple[bool, list[PageText] | str]:
    """(True, the pages numbered `numbers`) or (False, the one-line reason they cannot be read):
    one part of a document read by several workers, put together by `document_from_pages`."""
    from budgetkg.pdf import read_pages

    try:
        return True, read_pages(Path(path), numbers, engine, ocr)
    except Exception as exc:
        return False, failure_reason(exc, "pdf")


def parsed(outcome: Outcome) -> tuple[Any, str | None]:
    """(the parse task's value, None) or (None, why the document is not built)."""
    if not outcome.ok:  # the worker died or overran its time: inside the PDF library, as a rule
        return None, f"pdf: could not be read ({outcome.reason})"
    ok, value = outcome.value
    return (value, None) if ok else (None, str(value))


def assemble(path: Path, sha256: str, pages: list[PageText]) -> tuple[bytes | None, str | None]:
    """The pickled ParsedDocument from the pages its parts' workers read, or None and the
    reason, exactly as `parse_task` would have made or refused it from the whole file."""
    from budgetkg.pdf import source_file

    try:
        source = source_file(path, pages, sha256)
    except Exception as exc:
        return None, failure_reason(exc, "pdf")
    ok, value = parsed_document(source, pages)
    return (value, None) if ok else (None, str(value))  # type: ignore[return-value]


def page_count(path: Path, engine: str = DEFAULT_ENGINE) -> int:
    """Pages of a PDF, or 0 when it cannot be opened here: it is then read whole by a worker,
    which reports why (damaged, encrypted, not a PDF) as for any other document."""
    try:
        return count_pages(path, engine)
    except Exception:
        return 0


def validation_pool(jobs: int, documents: int, timeout: float | None) -> tuple[WorkerPool | InlinePool, int]:
    """Workers to validate `documents` documents, and in how many parts each document's shapes
    are shared out (`shape_parts`): more than one only when workers would otherwise be idle."""
    from budgetkg.validation import shapes_part

    parts = max(1, jobs // documents) if 0 < documents < jobs else 1
    for part in range(parts):
        shapes_part(part, parts)  # made once here, inherited by the forked workers
    gc.freeze()  # forked workers' garbage collectors leave this process's objects (and pages) alone
    try:
        return make_pool(jobs, documents * parts, timeout), parts
    finally:
        gc.unfreeze()


def validate_task(
    ntriples: bytes, reference_key: str, document: str, sha256: str, tol: str, part: int = 0, parts: int = 1
) -> list[Finding]:
    """Validate one document's graph (N-Triples, loaded by Oxigraph's parser without Python
    objects) against the reference graph this worker was sent once; with the shapes of `part`
    of `parts` only, when a document's validation is shared out."""
    from pyoxigraph import Quad, RdfFormat, Store

    from budgetkg.validation import settings_triples, validate_loaded

    store = Store()
    store.load(ntriples, format=RdfFormat.N_TRIPLES)
    store.load(shared(reference_key), format=RdfFormat.N_TRIPLES)
    store.bulk_extend(Quad(t.subject, t.predicate, t.object) for t in settings_triples(Decimal(tol)))
    return validate_loaded(store, document, sha256, part, parts)


def validate_graphs(
    graphs: Iterable[tuple[str, str, bytes]],
    reference: bytes,
    tolerance: str | Decimal | None = None,
    *,
    jobs: int = 1,
    pool: WorkerPool | InlinePool | None = None,
    parts: int = 1,
    total: int | None = None,
    timeout: float | None = None,
    progress: bool = False,
) -> tuple[list[Finding], list[tuple[int, str]]]:
    """SHACL-validate documents in worker processes, each on its own with the reference graph.

    `graphs` yields (file name, sha256, the document's graph as N-Triples in build order) and
    is consumed lazily; `reference` is the reference graph as N-Triples, sent once per worker.
    Each document is validated in `parts` tasks with a share of the shapes each (with a pool of
    our own: as many as keep the workers busy when there are fewer documents than workers).
    Returns the findings (any order; `make_report` sorts them) and (position, reason) for each
    document whose validation failed. Builds and the benchmarks both validate through here."""
    from budgetkg.validation import parse_tolerance

    tol = str(parse_tolerance(tolerance))
    own = pool is None
    if pool is None:
        pool, parts = validation_pool(jobs, total or jobs, timeout)
    ref_key = f"reference-{hashlib.sha256(reference).hexdigest()[:16]}"
    shared = ((ref_key, reference),)
    tasks = (
        Task(i * parts + part, validate_task, (ntriples, ref_key, name, sha256, tol, part, parts), shared)
        for i, (name, sha256, ntriples) in enumerate(graphs)
        for part in range(parts)
    )
    findings: list[Finding] = []
    failed: list[tuple[int, str]] = []
    partial: dict[int, tuple[list[Finding], list[str], int]] = {}  # per document: findings, failures, parts in
    counts = {"Violation": 0, "Warning": 0}
    bar = tqdm(total=total, desc="validating", unit="doc", disable=not progress, file=sys.stderr, mininterval=0.5)
    try:
        for task, outcome in pool.run(tasks):
            doc = task.key // parts
            found, reasons, done = partial.pop(doc, ([], [], 0))
            if outcome.ok:
                found.extend(outcome.value)
            else:
                reasons.append(outcome.reason)
            if done + 1 < parts:
                partial[doc] = (found, reasons, done + 1)
                continue
            if reasons:  # a document is validated completely or not at all
                failed.append((doc, reasons[0]))
            else:
                findings.extend(found)
                for f in found:
                    counts[f.severity] = counts.get(f.severity, 0) + 1
            bar.update(1)
            bar.set_postfix(violations=counts["Violation"], warnings=counts["Warning"], refresh=False)
    finally:
        bar.close()
        if own:
            pool.close()
    return findings, failed
