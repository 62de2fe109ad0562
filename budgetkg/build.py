"""The build pipeline: inputs → documents → lines.csv, graph, validation, store, dumps.

A corpus build keeps every core busy and one bad file from hurting the others:

- documents are parsed in worker processes, one document per worker at a time, so a file that
  crashes or hangs the PDF library is pinned on that file alone (its worker is replaced); with
  fewer documents than workers, a document's pages are read by several workers and put together
  here, and its SHACL shapes are shared out among several workers too;
- the parse of an unchanged PDF (same sha256, same reader code) comes from the previous build;
- each document's graph is built as soon as it and the ones before it are parsed, and SHACL
  validation, which is per document, runs in worker processes too, while the main process
  loads the store and writes the dumps;
- everything is written into a temporary sibling directory that is exchanged with the output
  directory in one atomic rename, so a reader of the output never sees a half-built build.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import gc
import hashlib
import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from budgetkg.claims import write_claims_csv, write_year_over_year_csv
from budgetkg.lines import write_lines
from budgetkg.model import Document, InputError, PageText
from budgetkg.pdf import DEFAULT_ENGINE, count_pages, sha256_of
from budgetkg.processes import die_with_parent

if TYPE_CHECKING:
    from budgetkg.graph import Dataset, GraphBuilder
    from budgetkg.ocr import OcrOptions
    from budgetkg.reading import DocumentReading, UnplacedNumbers
    from budgetkg.validation import Finding, ValidationReport

CACHE_VERSION = "3"  # 3: the cache holds a reading.ParsedDocument (Document + unplaced numbers)
DEFAULT_BASE_URI = "http://localhost:8000/"
PACKAGE_DIR = Path(__file__).resolve().parent

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

#: When there are fewer documents than workers, a document is read in parts of at least this
#: many pages (a PDF opened by several workers costs each of them its page tree and fonts).
MIN_PART_PAGES = 4


@dataclass
class BuildOptions:
    out: Path
    base_uri: str = DEFAULT_BASE_URI
    jobs: int = 1  # worker processes for parsing and validation; 0: everything in this process
    progress: bool = True
    validate: bool = True
    tolerance: str | None = None  # rounding tolerance per printed figure, see validation.py
    timeout: float | None = 1800.0  # seconds one document may take to parse (or validate)
    engine: str = DEFAULT_ENGINE  # the page source, see budgetkg.pdf.ENGINES
    license: str | None = None  # IRI of the data's licence, stated in the catalog (export.CatalogInfo)
    publisher: str | None = None  # the catalog's publisher (default: the department(s) read)
    ocr: str = "auto"  # OCR pages without usable text (auto), every page (always) or none (never)


@dataclass
class BuildResult:
    documents: list[Document] = field(default_factory=list)
    failures: list[InputError] = field(default_factory=list)
    reused: int = 0
    lines: int = 0
    triples: int = 0
    pages: int = 0
    summary: dict = field(default_factory=dict)
    report: ValidationReport | None = None
    readings: list[DocumentReading] = field(default_factory=list)  # one per built document, in order
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, for benchmarks


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


# --- which stage failed ------------------------------------------------------------------------

#: Pipeline stage of each module, for the one-line `failed: FILE: stage: reason` of a failure.
STAGES = {
    "pdf": "pdf",
    "tables": "tables",
    "reader": "reader",
    "prose": "reader",
    "mapping": "reader",
    "model": "reader",
    "reading": "reading",
    "graph": "graph",
    "validation": "validation",
    "store": "store",
    "lines": "export",
    "export": "export",
}


def failure_reason(exc: BaseException, default_stage: str) -> str:
    """`stage: reason (page N)` for an exception: the stage is that of the innermost budgetkg
    module in the traceback (an error inside pdfplumber called by pdf.py is a pdf-stage error),
    the page that of the innermost frame working on a page or a table, where there is one."""
    stage, page = default_stage, None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        module = frame.f_globals.get("__name__", "")
        if module.startswith("budgetkg."):
            stage = STAGES.get(module.split(".")[1], stage)
        found = _page_in(frame.f_locals)
        if found is not None:
            page = found
        tb = tb.tb_next
    if isinstance(exc, InputError):
        reason = exc.reason
    else:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if page is not None and "page" not in reason:
        reason += f" (page {page})"
    return f"{stage}: {reason}"


def _page_in(local_vars: dict[str, Any]) -> int | None:
    """The page a frame works on: a PageText, or a (raw) table's or row's first page."""
    from budgetkg.model import RawRow, RawTable, Row, Table

    for value in local_vars.values():
        if isinstance(value, PageText):
            return value.number
    for value in local_vars.values():
        if isinstance(value, RawTable | Table | RawRow | Row) and value.pages:
            return value.pages[0]
    return None


# --- worker processes --------------------------------------------------------------------------

#: Data a worker keeps between tasks (the reference graph every validation task needs).
_SHARED: dict[str, Any] = {}


@dataclass(frozen=True)
class Task:
    """One unit of work for a worker: `fn(*args)`, with `shared` data sent once per worker."""

    key: int
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    shared: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Outcome:
    ok: bool
    value: Any = None  # the task's return value when ok
    reason: str = ""  # why not, as a one-line reason


def _worker_main(conn: Connection) -> None:
    """Run tasks until told to stop. Ctrl-C goes to the parent, which stops its workers; if the
    parent is killed, the workers die with it (Linux) instead of finishing their documents."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        kind, payload = message
        if kind == "share":
            key, value = payload
            _SHARED[key] = value
            continue
        fn, args = payload
        try:
            outcome = Outcome(True, fn(*args))
        except Exception as exc:  # reported against the task; the worker carries on
            outcome = Outcome(False, reason=f"{type(exc).__name__}: {exc}")
        try:
            conn.send(outcome)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            conn.send(Outcome(False, reason=f"result could not be sent back ({type(exc).__name__})"))
        except OSError:  # the parent is gone
            return


def _context() -> multiprocessing.context.BaseContext:
    """fork on Linux: workers start in milliseconds with the parent's imports (pdfplumber,
    pyshacl, the parsed shapes) instead of importing them again; spawn elsewhere."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


class _Worker:
    def __init__(self, ctx: multiprocessing.context.BaseContext) -> None:
        parent, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child,), daemon=True)  # type: ignore[attr-defined]
        self.process.start()
        child.close()
        self.conn = parent
        self.task: Task | None = None
        self.started = 0.0
        self.shared: set[str] = set()

    def send(self, task: Task) -> None:
        for key, value in task.shared:
            if key not in self.shared:
                self.conn.send(("share", (key, value)))
                self.shared.add(key)
        self.conn.send(("run", (task.fn, task.args)))
        self.task, self.started = task, time.monotonic()

    def stop(self, kill: bool = False) -> None:
        if not kill:
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.conn.close()


class WorkerPool:
    """Worker processes that run one task each at a time.

    Unlike a ProcessPoolExecutor, a worker that dies (a segfault or out-of-memory kill inside
    a PDF library) or overruns the timeout fails only the task it was running: it is replaced
    and the other tasks carry on. Results are yielded as they come; the next task is sent to a
    worker before its result is handed out, so workers never wait for the caller.
    """

    def __init__(self, size: int, timeout: float | None = None) -> None:
        self.ctx = _context()
        self.timeout = timeout
        self.workers = [_Worker(self.ctx) for _ in range(max(1, size))]

    def run(
        self, tasks: Iterable[Task], after_start: Callable[[], None] | None = None
    ) -> Iterator[tuple[Task, Outcome]]:
        """Yield (task, outcome) as tasks finish; `after_start` runs here once the first tasks
        are out, so the caller can use the time the workers need."""
        source = iter(tasks)  # pulled one at a time: a task's payload exists only while it runs
        retry: list[Task] = []

        def start(worker: _Worker) -> None:
            task = retry.pop() if retry else next(source, None)
            if task is None:
                return
            try:
                worker.send(task)
            except OSError:  # died while idle: replace it, the task goes to the next free worker
                retry.append(task)
                self._replace(worker)

        while True:
            for w in self.workers:
                if w.task is None:
                    start(w)
            if after_start is not None:
                after_start()
                after_start = None
            busy = [w for w in self.workers if w.task is not None]
            if not busy:
                if retry:
                    continue
                return
            deadline = None
            if self.timeout is not None:
                deadline = max(0.0, min(w.started for w in busy) + self.timeout - time.monotonic())
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=deadline)
            for w in busy:
                assert w.task is not None
                task = w.task
                if w.conn in ready or w.process.sentinel in ready:
                    outcome = self._receive(w, ready)
                    if outcome is None:
                        continue  # the pipe closed, the process is still on its way out
                elif self.timeout is not None and time.monotonic() - w.started > self.timeout:
                    outcome = Outcome(False, reason=f"took longer than {self.timeout:g} s and was stopped")
                    self._replace(w)
                else:
                    continue
                w.task = None
                start(w)  # keep the worker busy while the caller works on the result
                yield task, outcome

    def _receive(self, w: _Worker, ready: list[Any]) -> Outcome | None:
        """The worker's answer; a failed Outcome if it died (the worker is then replaced)."""
        try:
            if w.conn.poll():
                return w.conn.recv()
        except Exception:  # EOF or a message cut short: the process is dying or dead
            pass
        if w.process.is_alive() and w.process.sentinel not in ready:
            return None
        w.process.join(timeout=1)
        outcome = Outcome(False, reason=f"the worker process died ({_exit_reason(w.process.exitcode)})")
        self._replace(w)
        return outcome

    def _replace(self, worker: _Worker) -> None:
        worker.stop(kill=True)
        fresh = _Worker(self.ctx)
        worker.process, worker.conn, worker.shared = fresh.process, fresh.conn, fresh.shared
        worker.task = None

    def close(self) -> None:
        for w in self.workers:
            w.stop(kill=w.task is not None)


class InlinePool:
    """The same interface in this process (jobs=0): for profilers and debuggers."""

    def __init__(self) -> None:
        self.workers: list[Any] = []

    def run(
        self, tasks: Iterable[Task], after_start: Callable[[], None] | None = None
    ) -> Iterator[tuple[Task, Outcome]]:
        if after_start is not None:
            after_start()
        added: set[str] = set()
        try:
            for task in tasks:
                for key, value in task.shared:
                    _SHARED[key] = value
                    added.add(key)
                try:
                    outcome = Outcome(True, task.fn(*task.args))
                except Exception as exc:
                    outcome = Outcome(False, reason=f"{type(exc).__name__}: {exc}")
                yield task, outcome
        finally:
            for key in added:  # this process lives on: do not keep a corpus' reference graph
                _SHARED.pop(key, None)

    def close(self) -> None:
        pass


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _pool(jobs: int, tasks: int, timeout: float | None) -> WorkerPool | InlinePool:
    if jobs <= 0:
        return InlinePool()
    return WorkerPool(min(jobs, max(1, tasks)), timeout)


# --- tasks ---------------------------------------------------------------------------------------


def _parse_task(
    path: str, engine: str = DEFAULT_ENGINE, ocr: OcrOptions | None = None
) -> tuple[bool, bytes | str]:
    """(True, pickled reading.ParsedDocument) or (False, `stage: reason` why the file cannot be
    built). The pickle is also what the cache stores, so it is made once, here."""
    from budgetkg.pdf import read_pdf

    try:
        source, pages = read_pdf(Path(path), engine, ocr)
    except Exception as exc:
        return False, failure_reason(exc, "pdf")
    return _parsed_document(source, pages)


def alternative_readings(
    source: Any, pages: list[PageText]
) -> list[tuple[str, Callable[[frozenset[int]], Document]]]:
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


def _parsed_document(source: Any, pages: list[PageText]) -> tuple[bool, bytes | str]:
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


def _parse_pages_task(
    path: str, numbers: tuple[int, ...], engine: str = DEFAULT_ENGINE, ocr: OcrOptions | None = None
) -> tuple[bool, list[PageText] | str]:
    """(True, the pages numbered `numbers`) or (False, the one-line reason they cannot be read):
    one part of a document read by several workers, put together by `document_from_pages`."""
    from budgetkg.pdf import read_pages

    try:
        return True, read_pages(Path(path), numbers, engine, ocr)
    except Exception as exc:
        return False, failure_reason(exc, "pdf")


def _parsed(outcome: Outcome) -> tuple[Any, str | None]:
    """(the parse task's value, None) or (None, why the document is not built)."""
    if not outcome.ok:  # the worker died or overran its time: inside the PDF library, as a rule
        return None, f"pdf: could not be read ({outcome.reason})"
    ok, value = outcome.value
    return (value, None) if ok else (None, str(value))


def _assemble(path: Path, sha256: str, pages: list[PageText]) -> tuple[bytes | None, str | None]:
    """The pickled ParsedDocument from the pages its parts' workers read, or None and the
    reason, exactly as `_parse_task` would have made or refused it from the whole file."""
    from budgetkg.pdf import source_file

    try:
        source = source_file(path, pages, sha256)
    except Exception as exc:
        return None, failure_reason(exc, "pdf")
    ok, value = _parsed_document(source, pages)
    return (value, None) if ok else (None, str(value))  # type: ignore[return-value]


def _page_count(path: Path, engine: str = DEFAULT_ENGINE) -> int:
    """Pages of a PDF, or 0 when it cannot be opened here: it is then read whole by a worker,
    which reports why (damaged, encrypted, not a PDF) as for any other document."""
    try:
        return count_pages(path, engine)
    except Exception:
        return 0


def _validation_pool(jobs: int, documents: int, timeout: float | None) -> tuple[WorkerPool | InlinePool, int]:
    """Workers to validate `documents` documents, and in how many parts each document's shapes
    are shared out (`shape_parts`): more than one only when workers would otherwise be idle."""
    from budgetkg.validation import shapes_part

    parts = max(1, jobs // documents) if 0 < documents < jobs else 1
    for part in range(parts):
        shapes_part(part, parts)  # made once here, inherited by the forked workers
    gc.freeze()  # forked workers' garbage collectors leave this process's objects (and pages) alone
    try:
        return _pool(jobs, documents * parts, timeout), parts
    finally:
        gc.unfreeze()


def _validate_task(
    ntriples: bytes, reference_key: str, document: str, sha256: str, tol: str, part: int = 0, parts: int = 1
) -> list[Finding]:
    """Validate one document's graph (N-Triples, loaded by Oxigraph's parser without Python
    objects) against the reference graph this worker was sent once; with the shapes of `part`
    of `parts` only, when a document's validation is shared out."""
    from pyoxigraph import Quad, RdfFormat, Store

    from budgetkg.validation import settings_triples, validate_loaded

    store = Store()
    store.load(ntriples, format=RdfFormat.N_TRIPLES)
    store.load(_SHARED[reference_key], format=RdfFormat.N_TRIPLES)
    store.bulk_extend(Quad(t.subject, t.predicate, t.object) for t in settings_triples(Decimal(tol)))
    return validate_loaded(store, document, sha256, part, parts)


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


# --- the build ---------------------------------------------------------------------------------


@dataclass
class _Input:
    index: int
    path: Path
    sha256: str = ""
    cached: Path | None = None  # the previous build's parse, when reused
    blob: bytes | None = None  # the pickled Document, fresh from a worker
    document: Document | None = None  # put together here from pages read in parts, or unpickled
    error: str | None = None  # why it is not built ("" for a skipped duplicate)
    unplaced: UnplacedNumbers | None = None  # numbers of its table pages in no cell (reading.py)
    parts: list[Outcome | None] | None = None  # the outcomes of its parts, when read in parts

    @property
    def ready(self) -> bool:
        return self.error is not None or self.blob is not None or self.cached is not None or self.document is not None


@dataclass(frozen=True)
class _Job:
    """A parse task: a whole document, or part `part` of it, the pages numbered `pages`."""

    item: _Input
    part: int = 0
    pages: tuple[int, ...] | None = None


def build(inputs: list[Path], options: BuildOptions, echo: Callable[[str], None] = print) -> BuildResult:
    """Build `inputs` into `options.out`; see the module docstring for how."""
    started = time.perf_counter()
    files = collect_inputs(inputs)
    out = options.out
    out.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(out):
        _remove_leftovers(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-building-", dir=out.parent))
        try:
            tmp.chmod(0o755)
            result = _Build(tmp, files, options, echo).run()
            _swap(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    result.timings["total"] = time.perf_counter() - started
    return result


class _Build:
    """One build into a temporary directory (which `build` then swaps into place)."""

    def __init__(self, tmp: Path, files: list[Path], options: BuildOptions, echo: Callable[[str], None]) -> None:
        from budgetkg.export import CatalogInfo, Exporter
        from budgetkg.graph import GraphBuilder
        from budgetkg.validation import parse_tolerance

        self.tmp, self.options, self.echo = tmp, options, echo
        self.fingerprint = reader_fingerprint(options.engine)
        self.items = [_Input(i, p) for i, p in enumerate(files)]
        self.result = BuildResult()
        self.timings = self.result.timings
        self.builder = GraphBuilder(options.base_uri)
        info = CatalogInfo(license=options.license, publisher=options.publisher)
        self.exporter = Exporter(tmp, self.builder, info)
        for warning in info.warnings(self.builder.base):
            echo(warning)
        self.datasets: list[Dataset] = []
        self.doc_ids: dict[str, Path] = {}
        self.skipped: list[str] = []
        self.tolerance: str | None = None
        self.reading_tolerance = parse_tolerance(options.tolerance)  # a bad one fails the build here
        self.warm = False
        self.taken = 0  # inputs taken so far, in input order
        self.bar: tqdm | None = None

    def run(self) -> BuildResult:
        t0 = time.perf_counter()
        self.timings["graph"] = 0.0
        self._parse(self._identify())
        self.timings["parse"] = time.perf_counter() - t0 - self.timings["graph"]
        result = self.result
        result.reused = sum(1 for item in self.items if item.cached is not None and item.document is not None)
        for line in self.skipped:
            self.echo(line)
        for doc in result.documents:
            for warning in doc.warnings:
                self.echo(f"warning: {doc.source.name}: {warning}")
            for table in doc.tables:
                for warning in table.warnings:
                    self.echo(f"warning: {doc.source.name}: {table.title}: {warning}")
        self._write_reading()
        t = time.perf_counter()
        reference = self.builder.reference_dataset()
        self.datasets.insert(0, reference)
        result.lines = write_lines(result.documents, self.tmp / "lines.csv")
        write_claims_csv(result.documents, self.tmp / "claims.csv", self.builder.org_key)
        write_year_over_year_csv(result.documents, self.tmp / "year-over-year.csv", self.builder.org_key)
        self.timings["graph"] += time.perf_counter() - t
        report = self._validate_and_publish()
        result.report = report
        if report is not None:
            self.echo(report.summary_text())
            result.summary = report.counts()
        t = time.perf_counter()
        self.exporter.write_catalog(result.documents)
        _write_manifest(self.tmp, self.options, self.builder, result)
        self.timings["catalog"] = time.perf_counter() - t
        return result

    def _write_reading(self) -> None:
        """reading.json, and one summary line per document (“12 tables, 11 balanced, …”)."""
        from budgetkg.reading import write_reading

        for reading in self.result.readings:
            self.echo(f"reading: {reading.file}: {reading.summary()}")
        write_reading(self.tmp / "reading.json", self.result.readings)

    def _identify(self) -> list[_Input]:
        """sha256 of every input; skip repeated files; find parses to reuse. Returns the rest."""
        by_sha: dict[str, _Input] = {}
        old_cache = self.options.out / "cache"
        todo = []
        for item in self.items:
            if not item.path.exists():
                item.error = "does not exist"
                continue
            try:
                item.sha256 = sha256_of(item.path)
            except OSError as exc:
                item.error = f"cannot be read ({exc.strerror})"
                continue
            if item.sha256 in by_sha:
                self.skipped.append(f"skipped: {item.path}: same file as {by_sha[item.sha256].path}")
                item.error = ""
                continue
            by_sha[item.sha256] = item
            cached = old_cache / self._cache_name(item)
            if cached.is_file():
                item.cached = cached
            else:
                todo.append(item)
        return todo

    def _cache_name(self, item: _Input) -> str:
        return f"{item.sha256}-{self.fingerprint}-ocr-{self.options.ocr}.pickle"

    def _ocr_options(self) -> OcrOptions:
        """OCR mode and cache for the workers: page results go into the new build's cache/ocr,
        found there or in the previous build's (budgetkg/ocr.py)."""
        from budgetkg.ocr import OcrOptions

        return OcrOptions(
            mode=self.options.ocr,
            cache_dir=self.tmp / "cache" / "ocr",
            previous_cache_dirs=(self.options.out / "cache" / "ocr",),
            progress=self.options.progress,
        )

    def _parse(self, todo: list[_Input]) -> None:
        """Parse in workers; take each input in input order as soon as it and those before it
        are ready (graph building needs input order: the reference keeps first labels)."""
        (self.tmp / "cache").mkdir()
        (self.tmp / "sources").mkdir()
        plan = self._plan(todo)
        pool = _pool(self.options.jobs if plan else 0, len(plan), self.options.timeout)  # fork before any thread
        self.bar = _bar(self.options, total=len(self.items), desc="parsing", unit="doc")
        try:
            ocr = self._ocr_options()
            tasks = [
                Task(key, _parse_task, (str(job.item.path), self.options.engine, ocr))
                if job.pages is None
                else Task(key, _parse_pages_task, (str(job.item.path), job.pages, self.options.engine, ocr))
                for key, job in enumerate(plan)
            ]
            for task, outcome in pool.run(tasks, after_start=self._while_workers_start):
                job = plan[task.key]
                if job.pages is None:
                    job.item.blob, job.item.error = _parsed(outcome)
                else:
                    self._take_part(job, outcome)
                self._take_ready()
            self._take_ready()
        finally:
            pool.close()
            self.bar.close()

    def _plan(self, todo: list[_Input]) -> list[_Job]:
        """One task per document; but with fewer documents than workers, a document is read in
        parts so that no worker idles. A part takes every k-th page rather than a page range:
        tables cost more per page than the prose before them, so ranges would be uneven."""
        jobs = self.options.jobs
        if not 0 < len(todo) < jobs:
            return [_Job(item) for item in todo]
        plan = []
        for item in todo:
            count = _page_count(item.path, self.options.engine)
            parts = min(jobs // len(todo), count // MIN_PART_PAGES)
            if parts < 2:
                plan.append(_Job(item))
                continue
            item.parts = [None] * parts
            plan.extend(_Job(item, part, tuple(range(part + 1, count + 1, parts))) for part in range(parts))
        return plan

    def _take_part(self, job: _Job, outcome: Outcome) -> None:
        """Keep a part's pages; with the last part in, put the Document together (in page
        order, so it equals the one read whole) or fail it with its first part's reason."""
        item = job.item
        assert item.parts is not None
        item.parts[job.part] = outcome
        if any(o is None for o in item.parts):
            return
        results = [_parsed(o) for o in item.parts if o is not None]
        item.parts = None
        item.error = next((error for _, error in results if error is not None), None)
        if item.error is None:
            pages = sorted((page for value, _ in results for page in value), key=lambda page: page.number)
            item.blob, item.error = _assemble(item.path, item.sha256, pages)

    def _while_workers_start(self) -> None:
        """Work for this process while the workers parse their first documents."""
        self._warm_up()
        self._take_ready()

    def _warm_up(self) -> None:
        """Import and prepare validation (pyshacl, shapes, ontology) once, here: the validation
        workers forked later inherit all of it. A bad tolerance fails the build now."""
        if self.warm or not self.options.validate:
            return
        from budgetkg.graph import _ontology_triple_list
        from budgetkg.validation import parse_tolerance, shapes_graph

        self.tolerance = str(parse_tolerance(self.options.tolerance))
        shapes_graph()
        _ontology_triple_list()
        self.warm = True

    def _take_ready(self) -> None:
        while self.taken < len(self.items) and self.items[self.taken].ready:
            self._take(self.items[self.taken])
            self.taken += 1

    def _take(self, item: _Input) -> None:
        """Keep the parse, build the graph and write its Turtle, or record the failure."""
        if item.error is None and item.document is None:
            try:
                blob = item.blob
                if blob is None and item.cached is not None:
                    blob = item.cached.read_bytes()
                parsed = pickle.loads(blob)  # type: ignore[arg-type]
                item.document, item.unplaced = parsed.document, parsed.unplaced
            except Exception as exc:  # an unreadable cache entry: it is parsed again next time
                item.error = f"reader: its cached parse could not be read ({type(exc).__name__})"
                item.cached = None
        doc = item.document
        if doc is not None:
            doc_id = self.builder.doc_id(doc)
            if doc_id in self.doc_ids:
                item.error = f"reader: is the same budget ({doc_id}) as {self.doc_ids[doc_id]}; only that one is built"
                item.document = None
            else:
                self._keep(item, doc, doc_id)
        if item.error:
            self.result.failures.append(InputError(str(item.path), item.error))
            if self.options.progress:
                tqdm.write(f"error: {item.path}: {item.error}", file=sys.stderr)
        item.blob = None
        assert self.bar is not None
        self.bar.update(1)
        self.bar.set_postfix(pages=self.result.pages, failed=len(self.result.failures), refresh=False)

    def _keep(self, item: _Input, doc: Document, doc_id: str) -> None:
        """Check the reading, build the document's graph; a failure of either fails this
        document alone, with its stage."""
        from budgetkg.reading import check_document

        try:
            reading = check_document(doc, self.reading_tolerance, item.unplaced)
            t = time.perf_counter()
            ds = self.builder.document_dataset(doc)  # triples in build order: validation depends on it
            self.timings["graph"] += time.perf_counter() - t
        except Exception as exc:
            item.error, item.document = failure_reason(exc, "graph"), None
            return
        self.doc_ids[doc_id] = item.path
        _keep_parse(item, self.tmp / "cache" / self._cache_name(item))
        _keep_source(item, self.options.out / "sources", self.tmp / "sources")
        self.datasets.append(ds)
        self.result.documents.append(doc)
        self.result.readings.append(reading)
        self.result.pages += doc.source.page_count

    def _validate_and_publish(self) -> ValidationReport | None:
        """Validation in worker processes; meanwhile a thread of this process bulk-loads the
        store (Oxigraph releases the GIL) and writes the whole-graph dumps."""
        from budgetkg.store import add_report, load_store

        t0 = time.perf_counter()
        self._warm_up()
        documents = [ds for ds in self.datasets if ds.document is not None]
        pool, parts = None, 1
        if self.options.validate and documents:
            pool, parts = _validation_pool(self.options.jobs, len(documents), self.options.timeout)
        stores: list[Any] = []
        errors: list[BaseException] = []

        def publish() -> None:
            try:
                t = time.perf_counter()
                for ds in self.datasets:  # sorted, and each document's Turtle written
                    self.exporter.add(ds)
                self.timings["sort"] = time.perf_counter() - t
                t = time.perf_counter()
                nquads = self.tmp / "store.nq"
                self.exporter.write_nquads(nquads)
                stores.append(load_store(self.tmp / "store", nquads))
                nquads.unlink()
                self.timings["store"] = time.perf_counter() - t
                t = time.perf_counter()
                self.exporter.write_graph_dumps()
                self.timings["dumps"] = time.perf_counter() - t
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=publish, name="budgetkg-publish", daemon=True)
        thread.start()
        report = None
        try:
            if pool is not None:
                report = self._validate(documents, pool, parts)
            elif self.options.validate:  # nothing to validate: an empty report, as always
                from budgetkg.validation import make_report

                report = make_report(self.builder.validation_graph, self.builder.base, Decimal(str(self.tolerance)), [])
        finally:
            if pool is not None:
                pool.close()
            thread.join()
        if errors:
            raise errors[0]
        self.timings["validate"] = time.perf_counter() - t0
        t = time.perf_counter()
        if report is not None:
            (self.tmp / "validation").mkdir()
            report.write(self.tmp / "validation", self.result.documents)
        add_report(stores.pop(), report)
        self.result.triples = self.exporter.write_dataset_dump(report)  # = the store's quads, without counting them
        self.timings["report"] = time.perf_counter() - t
        return report

    def _validate(self, documents: list[Dataset], pool: WorkerPool | InlinePool, parts: int) -> ValidationReport:
        from pyoxigraph import RdfFormat, serialize

        from budgetkg.validation import make_report

        sources = [ds.document.source for ds in documents if ds.document is not None]
        graphs = (  # a generator: each document's N-Triples exist only while it is validated
            (src.name, src.sha256, serialize(ds.triples, format=RdfFormat.N_TRIPLES))
            for src, ds in zip(sources, documents, strict=True)
        )
        reference = serialize(self.datasets[0].triples, format=RdfFormat.N_TRIPLES)
        findings, failed = validate_graphs(
            graphs,
            reference,
            self.tolerance,
            pool=pool,
            parts=parts,
            total=len(documents),
            progress=self.options.progress,
        )
        for i, reason in failed:
            self.result.failures.append(InputError(sources[i].path, f"validation: could not be validated ({reason})"))
        return make_report(self.builder.validation_graph, self.builder.base, Decimal(str(self.tolerance)), findings)


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
        pool, parts = _validation_pool(jobs, total or jobs, timeout)
    ref_key = f"reference-{hashlib.sha256(reference).hexdigest()[:16]}"
    shared = ((ref_key, reference),)
    tasks = (
        Task(i * parts + part, _validate_task, (ntriples, ref_key, name, sha256, tol, part, parts), shared)
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


def _keep_parse(item: _Input, target: Path) -> None:
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


def _keep_source(item: _Input, old_sources: Path, sources: Path) -> None:
    """sources/<sha256>.pdf, so pages can link to the page an amount was read from."""
    target = sources / f"{item.sha256}.pdf"
    old = old_sources / target.name
    if old.is_file():
        with contextlib.suppress(OSError):
            os.link(old, target)
            return
    shutil.copyfile(item.path, target)


def _write_manifest(tmp: Path, options: BuildOptions, builder: GraphBuilder, result: BuildResult) -> None:
    from budgetkg.manifest import DocumentEntry, FailureEntry, Manifest

    Manifest(
        base_uri=builder.base,
        reference_graph=builder.reference_graph,
        validation_graph=builder.validation_graph,
        documents=tuple(
            DocumentEntry(
                doc_id=builder.doc_id(doc),
                file=doc.source.name,
                sha256=doc.source.sha256,
                pages=doc.source.page_count,
                graph=builder.document_graph(doc),
                dump=f"dumps/documents/{builder.doc_id(doc)}.ttl",
                source=f"sources/{doc.source.sha256}.pdf",
                department=doc.department,
                year=doc.year,
                kind=doc.kind,
                budget=builder.budget_iri(doc),
                reading=reading.counts(),
            )
            for doc, reading in zip(result.documents, result.readings, strict=True)
        ),
        failures=tuple(FailureEntry(f.path, f.reason) for f in result.failures),
        license=options.license,
        publisher=options.publisher,
    ).write(tmp)


def _bar(options: BuildOptions, **kwargs: Any) -> tqdm:
    return tqdm(disable=not options.progress, file=sys.stderr, dynamic_ncols=True, mininterval=0.5, **kwargs)


# --- atomic replacement of the output directory -------------------------------------------------

RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2 RENAME_EXCHANGE); False where the
    platform or file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap(tmp: Path, out: Path) -> None:
    """Put the finished build `tmp` at `out` in one atomic step: a reader opening any file under
    `out` sees the old build or the new one, never a missing or half-written directory.

    `out` stays a real directory (paths like out/store and tools like cp, tar or a container
    bind mount see no symlink): the two directories are exchanged with renameat2, then the old
    one is deleted. Where that call is missing (not Linux), two renames with a short gap."""
    if not out.exists() and not out.is_symlink():
        os.rename(tmp, out)
        return
    old = tmp.with_name(tmp.name.replace("-building-", "-old-"))
    if _exchange(tmp, out):
        os.rename(tmp, old)
    else:
        os.replace(out, old)
        os.replace(tmp, out)
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()


def _remove_leftovers(out: Path) -> None:
    """Temporary and old directories of interrupted builds (we hold the lock: none is running)."""
    prefixes = (f".{out.name}-building-", f".{out.name}-old-")
    for path in out.parent.iterdir():
        if path.name.startswith(prefixes) and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _build_lock(out: Path) -> Iterator[None]:
    """One build at a time per output directory (a second one fails fast)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    lock = out.parent / f".{out.name}.lock"
    with lock.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ValueError(f"another budgetkg build is writing {out} (lock {lock})") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
