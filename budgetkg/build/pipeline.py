"""The build pipeline: inputs → documents → lines.csv, graph, validation, store, dumps
(see budgetkg.build for how a corpus build uses every core)."""

from __future__ import annotations

import pickle
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from budgetkg.build.cache import cache_name, keep_parse, reader_fingerprint
from budgetkg.build.directory import build_lock, keep_source, remove_leftovers, swap
from budgetkg.build.failures import failure_reason
from budgetkg.build.tasks import (
    assemble,
    page_count,
    parse_pages_task,
    parse_task,
    parsed,
    validate_graphs,
    validation_pool,
)
from budgetkg.claims import write_claims_csv, write_year_over_year_csv
from budgetkg.lines import write_lines
from budgetkg.model import Document, InputError
from budgetkg.pdf import DEFAULT_ENGINE, sha256_of
from budgetkg.pool import InlinePool, Outcome, Task, WorkerPool, make_pool

if TYPE_CHECKING:
    from budgetkg.graph import Dataset, GraphBuilder
    from budgetkg.ocr import OcrOptions
    from budgetkg.reading import DocumentReading, UnplacedNumbers
    from budgetkg.validation import ValidationReport

DEFAULT_BASE_URI = "http://localhost:8000/"

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
    with build_lock(out):
        remove_leftovers(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-building-", dir=out.parent))
        try:
            tmp.chmod(0o755)
            result = _Build(tmp, files, options, echo).run()
            swap(tmp, out)
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
            cached = old_cache / cache_name(item.sha256, self.fingerprint, self.options.ocr)
            if cached.is_file():
                item.cached = cached
            else:
                todo.append(item)
        return todo

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
        pool = make_pool(self.options.jobs if plan else 0, len(plan), self.options.timeout)  # fork before any thread
        self.bar = _bar(self.options, total=len(self.items), desc="parsing", unit="doc")
        try:
            ocr = self._ocr_options()
            tasks = [
                Task(key, parse_task, (str(job.item.path), self.options.engine, ocr))
                if job.pages is None
                else Task(key, parse_pages_task, (str(job.item.path), job.pages, self.options.engine, ocr))
                for key, job in enumerate(plan)
            ]
            for task, outcome in pool.run(tasks, after_start=self._while_workers_start):
                job = plan[task.key]
                if job.pages is None:
                    job.item.blob, job.item.error = parsed(outcome)
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
            count = page_count(item.path, self.options.engine)
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
        results = [parsed(o) for o in item.parts if o is not None]
        item.parts = None
        item.error = next((error for _, error in results if error is not None), None)
        if item.error is None:
            pages = sorted((page for value, _ in results for page in value), key=lambda page: page.number)
            item.blob, item.error = assemble(item.path, item.sha256, pages)

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
        keep_parse(item, self.tmp / "cache" / cache_name(item.sha256, self.fingerprint, self.options.ocr))
        keep_source(item, self.options.out / "sources", self.tmp / "sources")
        self.datasets.append(ds)
        self.result.documents.append(doc)
        self.result.readings.append(reading)
        self.result.pages += doc.source.page_count

    def _validate_and_publish(self) -> ValidationReport | None:
        """Validation in worker processes; meanwhile a thread of this process sorts the graphs,
        then writes the whole-graph dumps while another bulk-loads the store (Oxigraph
        releases the GIL)."""
        from budgetkg.store import add_report, load_store

        t0 = time.perf_counter()
        self._warm_up()
        documents = [ds for ds in self.datasets if ds.document is not None]
        pool, parts = None, 1
        if self.options.validate and documents:
            pool, parts = validation_pool(self.options.jobs, len(documents), self.options.timeout)
        stores: list[Any] = []
        errors: list[BaseException] = []

        def in_thread(name: str, fn: Callable[..., None], *args: Any) -> threading.Thread:
            """fn(*args) in a started thread; its exception is kept in `errors`, raised after the join."""

            def run() -> None:
                try:
                    fn(*args)
                except BaseException as exc:
                    errors.append(exc)

            thread = threading.Thread(target=run, name=name, daemon=True)
            thread.start()
            return thread

        def publish() -> None:
            t = time.perf_counter()
            for ds in self.datasets:  # sorted, and each document's Turtle written
                self.exporter.add(ds)
            self.timings["sort"] = time.perf_counter() - t
            t = time.perf_counter()
            nquads = self.tmp / "store.nq"
            self.exporter.write_nquads(nquads)
            loading = in_thread("budgetkg-store", load, nquads, t)
            t = time.perf_counter()
            try:
                self.exporter.write_graph_dumps()
            finally:
                self.timings["dumps"] = time.perf_counter() - t
                loading.join()

        def load(nquads: Path, t: float) -> None:
            """The store, beside the dumps: Oxigraph's loader releases the GIL."""
            stores.append(load_store(self.tmp / "store", nquads))
            nquads.unlink()
            self.timings["store"] = time.perf_counter() - t

        thread = in_thread("budgetkg-publish", publish)
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
