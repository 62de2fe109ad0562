"""budgetkg benchmarks: every figure measured on this machine in one run, as a ratio to its baseline.

    python -m benchmarks.run                          # everything (about 40 minutes on 2 cores)
    python -m benchmarks.run --only sample,store      # some sections
    python -m benchmarks.run --quick                  # small sizes, to try the script out

Sections: sample (full build vs pdfplumber's character extraction), engines (what a page
costs with each page source, pdfplumber and PDFium, as a ratio to pdfplumber's), speedup (2 workers vs 1 on
a 40-document corpus), store (load rate vs pyoxigraph's bulk_load), validation (time per
document at 10, 100, 1000 documents), sparql (latency vs the Oxigraph server, 20 concurrent
clients with one runaway query), virtuoso (publishing the corpus to Virtuoso, its answers
compared with the embedded store's, and its latency), corpus200 (a 200-document corpus built
from PDFs).

Not a test suite: nothing is asserted; a Markdown table is printed (and saved with --json).
Servers listen on 127.0.0.1 only and every request loop is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gzip
import hashlib
import http.client
import importlib.util
import json
import os
import pickle
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python benchmarks/run.py` from a source checkout
    sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "tests" / "fixtures" / "gz-zwfwsjglj-2023-budget.pdf"
FLOOR = """
import sys, pdfplumber
with pdfplumber.open(sys.argv[1]) as pdf:
    n = sum(len(page.chars) for page in pdf.pages)
print(n)
"""
SERIAL = """
import sys, shutil
from pathlib import Path
from budgetkg.build import BuildOptions, build
shutil.rmtree(sys.argv[2], ignore_errors=True)
build([Path(sys.argv[1])], BuildOptions(out=Path(sys.argv[2]), jobs=0, progress=False), echo=lambda m: None)
"""
SECTIONS = ("sample", "engines", "speedup", "store", "validation", "sparql", "virtuoso", "corpus200")
OBS = "http://purl.org/linked-data/cube#Observation"
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
BENCH_MAX_ROWS = 1_000_000  # `budgetkg serve --max-rows` in the sparql section: above any example query's answer


@dataclasses.dataclass
class Figure:
    """One line of the table: a measured value against its baseline."""

    name: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    ratio: float | None = None  # value / baseline (or as stated in `target`)
    target: str = ""
    met: bool | None = None
    note: str = ""

    def row(self) -> str:
        value = f"{self.value:,.3g} {self.unit}" if self.value < 100 else f"{self.value:,.0f} {self.unit}"
        base = self.baseline
        if self.baseline_value is not None:
            base += f" {self.baseline_value:,.3g}" if self.baseline_value < 100 else f" {self.baseline_value:,.0f}"
        ratio = f"{self.ratio:.2f}×" if self.ratio is not None else ""
        met = {True: "yes", False: "**no**", None: ""}[self.met]
        return f"| {self.name} | {value} | {base} | {ratio} | {self.target} | {met} | {self.note} |"


FIGURES: list[Figure] = []


def record(figure: Figure) -> Figure:
    FIGURES.append(figure)
    print("  " + figure.row(), flush=True)
    return figure


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    return "?"


# --- helpers ---------------------------------------------------------------------------------------


def make_corpus_module() -> ModuleType:
    name = "make_corpus"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def timed(cmd: list[str], log: Path | None = None, env: dict[str, str] | None = None) -> float:
    """Wall time of a command (which must succeed, or exit 1 for a build with failures)."""
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        err = stack.enter_context(log.open("w")) if log else subprocess.DEVNULL
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}" + (f", see {log}" if log else ""))
    return elapsed


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "budgetkg.cli", *args]


def cli_build(inputs: Path, out: Path, jobs: int, log: Path | None = None, quiet: bool = True) -> float:
    shutil.rmtree(out, ignore_errors=True)
    return timed(cli("build", str(inputs), "--out", str(out), "--jobs", str(jobs), *(["-q"] if quiet else [])), log)


def median_of(n: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(n))


def generate(out: Path, departments: int, years: list[int], seed: int = 0) -> Path:
    if not (out / "index.json").exists():
        say(f"  generating {departments * len(years)} synthetic budgets in {out} …")
        make_corpus_module().generate_corpus(out, departments=departments, years=years, seed=seed, jobs=2)
    return out


def cached_documents(build_dir: Path) -> list[Any]:
    """The parsed documents of a build, in build order (from its parse cache)."""
    manifest = json.loads((build_dir / "build.json").read_text(encoding="utf-8"))
    docs = []
    for entry in manifest["documents"]:
        [path] = (build_dir / "cache").glob(f"{entry['sha256']}-*.pickle")
        docs.append(pickle.loads(path.read_bytes()).document)  # a reading.ParsedDocument
    return docs


# --- sections ----------------------------------------------------------------------------------------


def bench_sample(work: Path, repeats: int, profile: Path | None) -> None:
    """Full build of the sample (CLI, fresh output, no parse cache) vs pdfplumber's chars."""
    floor = median_of(repeats, lambda: timed([sys.executable, "-c", FLOOR, str(SAMPLE)]))
    record(Figure("pdfplumber alone: characters of the sample (floor)", floor, "s", note="65 pages, 27 k chars"))
    from budgetkg.build import BuildOptions, build

    out = work / "sample-inprocess"
    shutil.rmtree(out, ignore_errors=True)
    result = build([SAMPLE], BuildOptions(out=out, jobs=1, progress=False), echo=lambda m: None)
    stages = ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items())
    say(f"  stages of one build (s; sort, store and dumps overlap validation): {stages}")
    bench_sample_validation(out, max(5, repeats), result.timings.get("validate"))
    for jobs in (1, 2):
        t = median_of(repeats, lambda jobs=jobs: cli_build(SAMPLE, work / "sample-build", jobs))
        ratio = t / floor
        record(
            Figure(
                f"full build of the sample, `--jobs {jobs}`",
                t,
                "s",
                "floor",
                floor,
                ratio,
                f"≤ {SAMPLE_BUILD_TARGET}×",
                ratio <= SAMPLE_BUILD_TARGET,
                f"median of {repeats}" + (f"; stages (s) of one build: {stages}" if jobs == 1 else ""),
            )
        )
    if profile is not None:
        with contextlib.suppress(ImportError):
            from pyinstrument import Profiler

            shutil.rmtree(out, ignore_errors=True)
            profiler = Profiler()
            with profiler:  # jobs=0: every stage in this process, where the profiler sees it
                build([SAMPLE], BuildOptions(out=out, jobs=0, progress=False), echo=lambda m: None)
            profile.write_text(profiler.output_text(unicode=True, show_all=False), encoding="utf-8")
            say(f"  profile of an in-process build written to {profile}")


#: What the full build of the sample may take, as a ratio to pdfplumber's character extraction
#: of the same PDF (issue 16: "at most 1.0×").
SAMPLE_BUILD_TARGET = 1.0

#: What validating the sample may take (issue 16): its graph loaded and every shape checked.
VALIDATION_TARGET = 0.3


def bench_sample_validation(build_dir: Path, repeats: int, build_stage: float | None) -> None:
    """Validation of the sample alone, in this process, as a build's worker does it: the
    document's graph and the reference graph loaded from N-Triples into a fresh store, then
    every shape (median of `repeats`; CPU time beside it, steadier when the cores are shared)."""
    from pyoxigraph import NamedNode, Quad, RdfFormat, Store, serialize

    from budgetkg.manifest import Manifest
    from budgetkg.validation import DEFAULT_TOLERANCE, settings_triples, validate_loaded

    manifest = Manifest.read(build_dir)
    doc = manifest.documents[0]
    built = Store.read_only(str(build_dir / "store"))
    nt = RdfFormat.N_TRIPLES
    document, reference = (
        serialize([q.triple for q in built.quads_for_pattern(None, None, None, NamedNode(g))], format=nt)
        for g in (doc.graph, manifest.reference_graph)
    )

    def once() -> tuple[float, float, int]:
        wall, cpu = time.perf_counter(), time.process_time()
        store = Store()
        store.load(document, format=nt)
        store.load(reference, format=nt)
        store.bulk_extend(Quad(t.subject, t.predicate, t.object) for t in settings_triples(DEFAULT_TOLERANCE))
        found = len(validate_loaded(store, doc.file, doc.sha256))
        return time.perf_counter() - wall, time.process_time() - cpu, found

    once()  # shapes parsed and compiled once per process, as in a build's warm-up
    runs = [once() for _ in range(repeats)]
    wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    record(
        Figure(
            "validation of the sample (load + every shape, one process)",
            wall,
            "s",
            "target",
            VALIDATION_TARGET,
            wall / VALIDATION_TARGET,
            "< 1.0×",
            wall < VALIDATION_TARGET,
            f"median of {repeats}; CPU {cpu:.3f} s ({cpu / VALIDATION_TARGET:.2f}×); {runs[0][2]} findings"
            + (f"; the build's validate stage {build_stage:.2f} s" if build_stage is not None else ""),
        )
    )


def bench_engines(repeats: int) -> None:
    """Per-page cost of each page source on the sample, in this process (warm): what the source
    itself hands the reader (characters and edges), all of stage 1 (budgetkg.pdf.read_pages:
    words, splits at rules, lines) on it, and the reading stages up to the Document
    (budgetkg.reader.read_document: stage 1, tables, kinds, reader). pdfplumber, the reference,
    is the baseline of each."""
    import pdfplumber

    from budgetkg import pdf_pdfium
    from budgetkg.pdf import ENGINES, read_pages
    from budgetkg.reader import read_document

    def plumber_raw() -> float:
        start = time.perf_counter()
        with pdfplumber.open(SAMPLE) as pdf:
            for page in pdf.pages:
                page.chars, page.edges  # noqa: B018 - what budgetkg.pdf reads of a page
        return time.perf_counter() - start

    def pdfium_raw() -> float:
        start = time.perf_counter()
        pdf = pdf_pdfium.open_pdf(SAMPLE)
        try:
            for _ in pdf_pdfium.read_raw_pages(pdf, list(range(1, len(pdf) + 1))):
                pass
        finally:
            pdf.close()
        return time.perf_counter() - start

    pages = pdf_pdfium.count_pages(SAMPLE)
    raw = {"pdfplumber": median_of(repeats, plumber_raw), "pdfium": median_of(repeats, pdfium_raw)}
    stage = {e: median_of(repeats, lambda e=e: _timed_call(lambda: read_pages(SAMPLE, engine=e))) for e in ENGINES}
    reading = {e: median_of(repeats, lambda e=e: _timed_call(lambda: read_document(SAMPLE, engine=e))) for e in ENGINES}
    for label, figures in (
        ("characters and edges", raw),
        ("stage 1 (read_pages: words, rules, lines)", stage),
        ("reading stages (read_document: stage 1, tables, reader)", reading),
    ):
        base = figures["pdfplumber"] / pages * 1000
        for engine in ENGINES:
            per_page = figures[engine] / pages * 1000
            record(
                Figure(
                    f"{label} per page, {engine}",
                    per_page,
                    "ms",
                    "pdfplumber",
                    base,
                    per_page / base,
                    note=f"sample, {pages} pages, median of {repeats}",
                )
            )


def _timed_call(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_speedup(work: Path, documents: int) -> Path:
    """The same corpus built with one worker and with two; returns the two-worker build."""
    corpus = generate(work / f"corpus-{documents}", documents // 2, [2023, 2024])
    t1 = cli_build(corpus, work / "speedup-j1", 1, work / "speedup-j1.log")
    t2 = cli_build(corpus, work / "speedup-j2", 2, work / "speedup-j2.log")
    serial = [sys.executable, "-c", SERIAL, str(corpus), str(work / "speedup-j0")]
    t0 = timed(serial)
    manifest = json.loads((work / "speedup-j2" / "build.json").read_text(encoding="utf-8"))
    pages = sum(d["pages"] for d in manifest["documents"])
    record(
        Figure(
            f"build of {documents} synthetic budgets, one process",
            t0,
            "s",
            note=f"{pages} pages; `jobs=0`: parse, validation, store and dumps one after the other",
        )
    )
    record(Figure(f"build of {documents} synthetic budgets, `--jobs 1`", t1, "s", note="one worker process"))
    record(
        Figure(
            f"build of {documents} synthetic budgets, `--jobs 2`",
            t2,
            "s",
            "`--jobs 1`",
            t1,
            t1 / t2,
            "speed-up ≥ 1.8×",
            t1 / t2 >= 1.8,
            f"ratio = speed-up; {len(manifest['failures'])} failed",
        )
    )
    record(
        Figure(
            f"build of {documents} synthetic budgets, `--jobs 2`",
            t2,
            "s",
            "one process",
            t0,
            t0 / t2,
            "",
            None,
            "ratio = speed-up over a build without any parallelism",
        )
    )
    return work / "speedup-j2"


def bench_store(work: Path, build_dir: Path) -> None:
    """The build's store stage (N-Quads file, Oxigraph bulk loader, then compaction: since
    2026-12-06 `load_store` compacts, beside the dumps) vs bulk_load of the same triples as
    N-Triples (the issue's baseline, default graph) and as N-Quads (same named graphs), which
    are not compacted: the ratio includes the compaction a build pays for faster reads."""
    from pyoxigraph import RdfFormat, Store

    from budgetkg.export import Exporter
    from budgetkg.graph import GraphBuilder
    from budgetkg.store import load_store

    base = json.loads((build_dir / "build.json").read_text(encoding="utf-8"))["base_uri"]
    builder = GraphBuilder(base)
    datasets = builder.build(cached_documents(build_dir))
    scratch = work / "store-bench"
    shutil.rmtree(scratch, ignore_errors=True)
    exporter = Exporter(scratch, builder)
    for ds in datasets:
        exporter.add(ds)
    quads = sum(len(g.keys) for g in exporter.graphs)

    def ours() -> float:
        shutil.rmtree(scratch / "store", ignore_errors=True)
        start = time.perf_counter()
        exporter.write_nquads(scratch / "store.nq")
        store = load_store(scratch / "store", scratch / "store.nq")
        store.flush()
        elapsed = time.perf_counter() - start
        del store
        return elapsed

    def pyoxigraph_bulk_load(path: Path, fmt: RdfFormat) -> float:
        shutil.rmtree(scratch / "baseline", ignore_errors=True)
        start = time.perf_counter()
        store = Store(str(scratch / "baseline"))
        store.bulk_load(path=str(path), format=fmt)
        store.flush()
        elapsed = time.perf_counter() - start
        del store
        return elapsed

    nt = scratch / "merged.nt"
    with gzip.open(build_dir / "dumps" / "budgetkg.nt.gz") as src, nt.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    triples = sum(1 for _ in nt.open("rb"))
    t_ours = median_of(3, ours)
    t_nt = median_of(3, lambda: pyoxigraph_bulk_load(nt, RdfFormat.N_TRIPLES))
    t_nq = median_of(3, lambda: pyoxigraph_bulk_load(scratch / "store.nq", RdfFormat.N_QUADS))
    r_ours, r_nt, r_nq = quads / t_ours, triples / t_nt, quads / t_nq
    note = f"{quads:,} quads in {len(datasets)} named graphs"
    record(Figure("pyoxigraph bulk_load, N-Triples (default graph)", r_nt, "triples/s", note=f"{triples:,} triples"))
    record(Figure("pyoxigraph bulk_load, same N-Quads (named graphs)", r_nq, "quads/s", note=note))
    record(
        Figure(
            "build's store stage (N-Quads file + bulk loader)",
            r_ours,
            "quads/s",
            "bulk_load N-Triples",
            r_nt,
            r_ours / r_nt,
            "≥ 50 %",
            r_ours / r_nt >= 0.5,
            f"{r_ours / r_nq:.0%} of bulk_load of the same N-Quads",
        )
    )
    shutil.rmtree(scratch, ignore_errors=True)


def _renamed(doc: Any, k: int) -> Any:
    """Copy k of a document: every organisation renamed, so it is another department's budget
    with the same tables (same size, same checks), its own IRIs and its own source."""
    if k == 0:
        return doc
    from budgetkg.model import RowKind

    def rename(name: str) -> str:
        return f"{name}{k}号"

    tables = []
    for table in doc.tables:
        rows = tuple(
            dataclasses.replace(
                row,
                unit=rename(row.unit),
                label=rename(row.label) if row.kind is RowKind.UNIT else row.label,
                parent_label=rename(row.parent_label) if row.parent_label else row.parent_label,
            )
            for row in table.rows
        )
        tables.append(dataclasses.replace(table, rows=rows))
    prose = dataclasses.replace(doc.prose, subordinate_units=tuple(rename(u) for u in doc.prose.subordinate_units))
    sha = hashlib.sha256(f"{doc.source.sha256}|{k}".encode()).hexdigest()
    source = dataclasses.replace(doc.source, sha256=sha, name=f"{Path(doc.source.name).stem}-{k}.pdf")
    return dataclasses.replace(doc, department=rename(doc.department), tables=tuple(tables), prose=prose, source=source)


def bench_validation(work: Path, build_dir: Path, sizes: list[int], jobs: int) -> None:
    """Validation alone (the build's parallel validator) on growing corpora of graphs made
    without PDFs: renamed copies of the parsed synthetic budgets."""
    from pyoxigraph import RdfFormat, serialize

    from budgetkg.build import validate_graphs
    from budgetkg.graph import GraphBuilder

    base_docs = cached_documents(build_dir)
    per_doc = []
    for n in sizes:
        builder = GraphBuilder("http://localhost:8000/")
        packed = []
        triples = 0
        say(f"  building {n} graphs …")
        for i in range(n):
            doc = _renamed(base_docs[i % len(base_docs)], i // len(base_docs))
            ds = builder.document_dataset(doc)
            triples += len(ds.triples)
            nt = serialize(ds.triples, format=RdfFormat.N_TRIPLES)
            packed.append((doc.source.name, doc.source.sha256, zlib.compress(nt, 1)))
        reference = serialize(builder.reference_dataset().triples, format=RdfFormat.N_TRIPLES)
        del builder
        graphs = ((name, sha, zlib.decompress(blob)) for name, sha, blob in packed)
        say(f"  validating {n} documents ({triples:,} triples) with {jobs} workers, load {load_average()} …")
        start = time.perf_counter()
        findings, failed = validate_graphs(graphs, reference, jobs=jobs, total=n, progress=True)
        elapsed = time.perf_counter() - start
        per_doc.append(elapsed / n)
        growth = per_doc[-1] / per_doc[0]
        record(
            Figure(
                f"validation of {n:,} documents ({jobs} workers)",
                elapsed,
                "s",
                f"per document at {sizes[0]}" if len(per_doc) > 1 else "",
                per_doc[0] if len(per_doc) > 1 else None,
                growth if len(per_doc) > 1 else None,
                "linear: per-document time flat",
                growth <= 1.25 if len(per_doc) > 1 else None,
                f"{per_doc[-1]:.3f} s per document; {triples // n:,} triples each; "
                f"{len(findings)} findings, {len(failed)} failed",
            )
        )
        del packed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, path: str, deadline: float = 120) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return
        time.sleep(0.3)
    raise RuntimeError(f"no server on port {port}")


class Client:
    """One keep-alive HTTP connection to a SPARQL endpoint on loopback."""

    def __init__(self, port: int, path: str, timeout: float = 120, cold: bool = True) -> None:
        self.port, self.path, self.timeout = port, path, timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        # cold: every query evaluated by the engine (budgetkg serve's answer cache bypassed)
        self.headers = {"Accept": "application/sparql-results+json", "Connection": "keep-alive"}
        if cold:
            self.headers["Cache-Control"] = "no-cache"

    def query(self, sparql: str) -> tuple[int, float, bytes]:
        start = time.perf_counter()
        for attempt in (0, 1):
            try:
                self.conn.request(
                    "GET",
                    f"{self.path}?query={quote(sparql)}",
                    headers=self.headers,
                )
                resp = self.conn.getresponse()
                body = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                return resp.status, time.perf_counter() - start, body
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


@contextlib.contextmanager
def servers(
    work: Path, build_dir: Path, timeout: float, oxigraph: bool = True
) -> Iterator[dict[str, tuple[int, str]]]:
    """`budgetkg serve` and `oxigraph serve` on the same data; {name: (port, query path)}."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        port_b = free_port()
        procs.append(
            subprocess.Popen(
                cli(
                    "serve",
                    str(build_dir),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port_b),
                    "--timeout",
                    str(timeout),
                    # oxigraph serve has no result cap: measure both on the same full answers
                    # (queries/leaf-sums.rq returns more than the default cap on the synthetic corpus)
                    "--max-rows",
                    str(BENCH_MAX_ROWS),
                ),
                stdout=subprocess.DEVNULL,
                stderr=(work / "budgetkg-serve.log").open("w"),
            )
        )
        if not oxigraph:
            wait_for(port_b, "/status")
            yield {"budgetkg serve": (port_b, "/sparql")}
            return
        oxi_dir = work / "oxigraph-store"
        shutil.rmtree(oxi_dir, ignore_errors=True)
        nq = work / "budgetkg.nq"
        with gzip.open(build_dir / "dumps" / "budgetkg.nq.gz") as src, nq.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        subprocess.run(
            ["oxigraph", "load", "--location", str(oxi_dir), "--file", str(nq)], check=True, capture_output=True
        )
        nq.unlink()
        port_o = free_port()
        procs.append(
            subprocess.Popen(
                [
                    "oxigraph",
                    "serve-read-only",
                    "--location",
                    str(oxi_dir),
                    "--bind",
                    f"127.0.0.1:{port_o}",
                    "--union-default-graph",
                    "--timeout-s",
                    str(int(timeout)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=(work / "oxigraph-serve.log").open("w"),
            )
        )
        wait_for(port_b, "/status")
        wait_for(port_o, "/query?query=" + quote("ASK {}"))
        yield {"budgetkg serve": (port_b, "/sparql"), "oxigraph serve": (port_o, "/query")}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def median_latencies(client: Client, server: str, queries: dict[str, str], repeats: int) -> dict[str, float]:
    """Median seconds per named query over `repeats` runs; any answer but 200 stops the run."""
    medians = {}
    for name, query in queries.items():
        times = []
        for _ in range(repeats):
            status, t, body = client.query(query)
            if status != 200:
                raise RuntimeError(f"{server}: {name}: HTTP {status}: {body[:200]!r}")
            times.append(t)
        medians[name] = statistics.median(times)
    return medians


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def bench_sparql(work: Path, build_dir: Path, lookups: int, repeats: int, clients: int, per_client: int) -> None:
    """Latency of the example queries and of point lookups on one keep-alive connection, then
    `clients` concurrent clients with a mixed load and one runaway query."""
    examples = {p.stem: p.read_text(encoding="utf-8") for p in sorted((ROOT / "queries").glob("*.rq"))}
    timeout = 5.0
    with servers(work, build_dir, timeout) as endpoints:
        port, path = endpoints["budgetkg serve"]
        probe = Client(port, path)
        status, _, body = probe.query(f"SELECT ?o WHERE {{ ?o a <{OBS}> }} LIMIT {lookups}")
        assert status == 200, body[:200]
        iris = [b["o"]["value"] for b in json.loads(body)["results"]["bindings"]]
        probe.close()
        # budgetkg serve shows a loopback build's IRIs under the origin it serves (README, "Serving");
        # oxigraph serve holds them as stored: each server is asked for the same resources in its own
        # IRIs (else oxigraph would answer lookups of IRIs it does not hold, with no rows)
        stored = json.loads((build_dir / "build.json").read_text(encoding="utf-8"))["base_uri"]
        served = f"http://127.0.0.1:{port}/"
        own = {"budgetkg serve": iris, "oxigraph serve": [stored + i.removeprefix(served) for i in iris]}
        points_of = {name: [f"SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }}" for iri in own[name]] for name in endpoints}
        points = points_of["budgetkg serve"]
        # Sequential latency, the servers asked in turn query by query (both see the same moments of
        # the shared machine's load)
        conns = {name: Client(port, path) for name, (port, path) in endpoints.items()}
        for name, client in conns.items():
            for q in list(examples.values()) + points_of[name][:20]:  # warm caches and workers
                client.query(q)
        times: dict[str, dict[str, list[float]]] = {name: {q: [] for q in examples} for name in endpoints}
        lookup_times: dict[str, list[float]] = {name: [] for name in endpoints}
        for q, text in examples.items():
            for _ in range(repeats):
                for name, client in conns.items():
                    status, t, body = client.query(text)
                    if status != 200:
                        raise RuntimeError(f"{name}: {q}: HTTP {status}: {body[:200]!r}")
                    times[name][q].append(t)
        for k in range(len(points)):
            for name, client in conns.items():
                status, t, _ = client.query(points_of[name][k])
                if status != 200:
                    raise RuntimeError(f"{name}: point lookup: HTTP {status}")
                lookup_times[name].append(t)
        seq: dict[str, dict[str, float]] = {}
        for name, client in conns.items():
            client.close()
            per_query = {q: statistics.median(ts) for q, ts in times[name].items()}
            seq[name] = {
                "examples": statistics.median(per_query.values()),
                "examples_max": max(per_query.values()),
                "lookup": statistics.median(lookup_times[name]),
                "lookup_p95": percentile(lookup_times[name], 95),
            }
            say(f"  {name}: " + ", ".join(f"{q} {t * 1000:.1f} ms" for q, t in per_query.items()))
        ours, theirs = seq["budgetkg serve"], seq["oxigraph serve"]
        for key, label in (("lookup", "point lookup, median"), ("examples", "example queries, median of medians")):
            ratio = ours[key] / theirs[key]
            record(
                Figure(
                    f"SPARQL {label}",
                    ours[key] * 1000,
                    "ms",
                    "oxigraph serve",
                    theirs[key] * 1000,
                    ratio,
                    "≤ 1.5×" if key == "lookup" else "≤ 1.2×",
                    ratio <= (1.5 if key == "lookup" else 1.2),
                    f"keep-alive, sequential; {len(points) if key == 'lookup' else len(examples)} queries",
                )
            )
        load = {
            name: concurrent_load(
                port, path, points_of[name], list(examples.values()), clients, per_client, timeout, False
            )
            for name, (port, path) in endpoints.items()
        }
        # warm: the same load again with budgetkg serve's answer cache in use (oxigraph serve has none,
        # so its cold figure stays the baseline); the first pass above filled the cache
        port, path = endpoints["budgetkg serve"]
        warm = concurrent_load(
            port, path, points, list(examples.values()), clients, per_client, timeout, False, cold=False
        )
        ours, theirs = load["budgetkg serve"], load["oxigraph serve"]
        for key, label, better in (("throughput", "throughput", "higher"), ("p95", "p95 latency", "lower")):
            for run, mine in (("cold", ours), ("warm answer cache", warm)):
                ratio = mine[key] / theirs[key]
                unit = "req/s" if key == "throughput" else "ms"
                scale = 1 if key == "throughput" else 1000
                record(
                    Figure(
                        f"{clients} clients, mixed queries ({run}): {label}",
                        mine[key] * scale,
                        unit,
                        "oxigraph serve",
                        theirs[key] * scale,
                        ratio,
                        "≥ 1×" if key == "throughput" else f"{better} is better",
                        ratio >= 1 if key == "throughput" else None,
                        f"{mine['requests']} requests; errors: {mine['errors']} (oxigraph: {theirs['errors']})",
                    )
                )
        port, path = endpoints["budgetkg serve"]
        bad = concurrent_load(port, path, points, list(examples.values()), clients, per_client, timeout, True)
        cut = bad["runaway_status"] == 503 and bad["runaway_time"] < timeout + 3
        record(
            Figure(
                f"{clients} clients + 1 runaway query: throughput",
                bad["throughput"],
                "req/s",
                "same load without it",
                ours["throughput"],
                bad["throughput"] / ours["throughput"],
                "runaway cut off, no errors",
                cut and bad["errors"] == 0,
                f"runaway: HTTP {bad['runaway_status']} after {bad['runaway_time']:.1f} s (timeout {timeout:g} s); "
                f"{bad['requests']} other requests, {bad['errors']} errors ({bad['error_kinds']}), "
                f"p95 {bad['p95'] * 1000:.0f} ms",
            )
        )


def concurrent_load(
    port: int,
    path: str,
    points: list[str],
    examples: list[str],
    clients: int,
    per_client: int,
    timeout: float,
    with_runaway: bool,
    cold: bool = True,
) -> dict[str, Any]:
    """`clients` threads, each on its own keep-alive connection, `per_client` requests each
    (one example query in five, else point lookups); optionally one runaway query sent first.
    ``cold``: every request asks for a fresh evaluation (``Cache-Control: no-cache``)."""
    latencies: list[float] = []
    errors: list[str] = []
    runaway: dict[str, Any] = {}
    lock = threading.Lock()

    def client_thread(k: int) -> None:
        client = Client(port, path, timeout=120, cold=cold)
        mine = []
        for j in range(per_client):
            q = examples[(k + j) % len(examples)] if j % 5 == 4 else points[(k * per_client + j) % len(points)]
            try:
                status, t, body = client.query(q)
            except OSError as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}")
                continue
            if status != 200:
                with lock:
                    errors.append(f"HTTP {status}")
            mine.append(t)
        client.close()
        with lock:
            latencies.extend(mine)

    def runaway_thread() -> None:
        client = Client(port, path, timeout=timeout * 6)
        try:
            status, t, _ = client.query(RUNAWAY)
            runaway.update(status=status, time=t)
        except OSError as exc:
            runaway.update(status=type(exc).__name__, time=timeout * 6)
        client.close()

    threads = [threading.Thread(target=client_thread, args=(k,)) for k in range(clients)]
    bad = threading.Thread(target=runaway_thread)
    if with_runaway:
        bad.start()
        time.sleep(0.2)  # the runaway query is running when the load starts
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if with_runaway:
        bad.join()
    return {
        "requests": clients * per_client,
        "throughput": clients * per_client / wall,
        "p95": percentile(latencies, 95),
        "errors": len(errors),
        "error_kinds": ", ".join(f"{n}× {kind}" for kind, n in sorted(Counter(errors).items())) or "none",
        "runaway_status": runaway.get("status"),
        "runaway_time": runaway.get("time", 0.0),
    }


def bench_corpus(work: Path, documents: int) -> None:
    """A corpus built from PDFs with the progress bar on (its log is kept)."""
    corpus = generate(work / f"corpus-{documents}", documents // 2, [2023, 2024])
    log = work / f"corpus-{documents}-build.log"
    t = cli_build(corpus, work / f"corpus-{documents}-build", 2, log, quiet=False)
    manifest = json.loads((work / f"corpus-{documents}-build" / "build.json").read_text(encoding="utf-8"))
    pages = sum(d["pages"] for d in manifest["documents"])
    bars = [line for line in log.read_text(encoding="utf-8").replace("\r", "\n").splitlines() if "100%" in line]
    say("  " + "\n  ".join(bars))
    record(
        Figure(
            f"build of {documents} synthetic budgets (PDF), `--jobs 2`",
            t,
            "s",
            note=f"{len(manifest['documents'])} built, {pages:,} pages, {len(manifest['failures'])} failed; "
            f"{t / max(1, len(manifest['documents'])):.2f} s per document",
        )
    )


def bench_virtuoso(work: Path, build_dir: Path, repeats: int, clients: int, per_client: int) -> None:
    """Publish the corpus build into a private Virtuoso (bulk loader), check that it answers
    like the embedded store, then the same latency and load figures as for `budgetkg serve`."""
    if shutil.which("virtuoso-t") is None:
        say("  virtuoso-t not installed (apt-get install virtuoso-opensource-7-bin): skipped")
        return
    from budgetkg.publish import compare_with_embedded, publish_to_virtuoso
    from budgetkg.virtuoso import free_loopback_port, start_instance

    shutil.rmtree(work / "virtuoso", ignore_errors=True)
    instance = start_instance(work / "virtuoso", free_loopback_port(), free_loopback_port())
    try:
        start = time.perf_counter()
        report = publish_to_virtuoso(build_dir, instance.config)
        elapsed = time.perf_counter() - start
        triples = sum(a.triples for a in report.actions)
        diffs = compare_with_embedded(build_dir, instance.endpoint)
        record(
            Figure(
                "publish the corpus build to Virtuoso (bulk loader)",
                triples / elapsed,
                "triples/s",
                note=f"{triples:,} triples in {len(report.actions)} graphs, {elapsed:.1f} s; "
                f"{len(report.errors)} errors; {len(diffs)} differences from the embedded store",
            )
        )
        start = time.perf_counter()
        again = publish_to_virtuoso(build_dir, instance.config)
        record(
            Figure(
                "publish again, nothing changed",
                time.perf_counter() - start,
                "s",
                note=f"{again.count('unchanged')} graphs unchanged (dump sha256 and triple count checked)",
            )
        )
        examples = {p.stem: p.read_text(encoding="utf-8") for p in sorted((ROOT / "queries").glob("*.rq"))}
        with servers(work, build_dir, 5.0, oxigraph=False) as endpoints:
            endpoints["virtuoso"] = (instance.config.http_port, "/sparql")
            times: dict[str, float] = {}
            for name, (port, path) in endpoints.items():
                client = Client(port, path)
                for q in examples.values():  # warm up
                    client.query(q)
                medians = median_latencies(client, name, examples, repeats)
                client.close()
                times[name] = statistics.median(medians.values())
            ratio = times["virtuoso"] / times["budgetkg serve"]
            record(
                Figure(
                    "Virtuoso: example queries, median of medians",
                    times["virtuoso"] * 1000,
                    "ms",
                    "budgetkg serve",
                    times["budgetkg serve"] * 1000,
                    ratio,
                    "",
                    None,
                    "same data; keep-alive, sequential",
                )
            )
            points = [
                f"SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }}" for iri in _observation_iris(endpoints["budgetkg serve"], 200)
            ]
            port, path = endpoints["virtuoso"]
            load = concurrent_load(port, path, points, list(examples.values()), clients, per_client, 5.0, False)
            record(
                Figure(
                    f"Virtuoso: {clients} clients, mixed queries: throughput",
                    load["throughput"],
                    "req/s",
                    note=f"p95 {load['p95'] * 1000:.0f} ms; {load['requests']} requests, {load['errors']} errors",
                )
            )
    finally:
        instance.stop()


def _observation_iris(endpoint: tuple[int, str], n: int) -> list[str]:
    client = Client(*endpoint)
    status, _, body = client.query(f"SELECT ?o WHERE {{ ?o a <{OBS}> }} LIMIT {n}")
    client.close()
    assert status == 200, body[:200]
    return [b["o"]["value"] for b in json.loads(body)["results"]["bindings"]]


# --- main --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {', '.join(SECTIONS)}")
    ap.add_argument("--quick", action="store_true", help="small sizes (to try the script, not to quote)")
    ap.add_argument("--work", type=Path, default=None, help="scratch directory (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    ap.add_argument("--profile", type=Path, default=None, help="pyinstrument profile of the sample build (text)")
    ap.add_argument(
        "--build-dir",
        type=Path,
        default=None,
        help="an existing build for the store, validation, sparql and virtuoso sections (default: build the "
        "synthetic corpus of the speedup section)",
    )
    a = ap.parse_args(argv)
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    work = a.work or Path(tempfile.mkdtemp(prefix="budgetkg-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    quick = a.quick
    n_speed = 8 if quick else 40
    sizes = [4, 8] if quick else [10, 100, 1000]
    started = time.perf_counter()
    say(
        f"budgetkg benchmarks in {work}: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load {load_average()}"
    )
    try:
        corpus_build: Path | None = None

        def corpus_build_dir() -> Path:
            nonlocal corpus_build
            if corpus_build is None and a.build_dir is not None:
                if not (a.build_dir / "build.json").exists():
                    ap.error(f"--build-dir {a.build_dir}: no build.json there")
                corpus_build = a.build_dir
            if corpus_build is None:
                kept = work / "speedup-j2"
                if "speedup" not in only and (kept / "build.json").exists():  # from an earlier run with --work
                    corpus_build = kept
                else:
                    corpus_build = bench_speedup(work, n_speed)
            return corpus_build

        for section in SECTIONS:
            if section not in only:
                continue
            say(f"\n[{section}] load {load_average()}")
            if section == "sample":
                bench_sample(work, 1 if quick else 3, a.profile)
            elif section == "engines":
                bench_engines(1 if quick else 3)
            elif section == "speedup":
                corpus_build_dir()
            elif section == "store":
                bench_store(work, corpus_build_dir())
            elif section == "validation":
                bench_validation(work, corpus_build_dir(), sizes, jobs=2)
            elif section == "sparql":
                bench_sparql(
                    work,
                    corpus_build_dir(),
                    lookups=50 if quick else 200,
                    repeats=3 if quick else 5,
                    clients=20,
                    per_client=5 if quick else 25,
                )
            elif section == "virtuoso":
                bench_virtuoso(
                    work, corpus_build_dir(), repeats=3 if quick else 5, clients=20, per_client=5 if quick else 25
                )
            elif section == "corpus200":
                bench_corpus(work, 10 if quick else 200)
    finally:
        if not a.keep and a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores ({platform.system()}, "
        f"Python {platform.python_version()}) in {time.perf_counter() - started:.0f} s; "
        f"load at the end {load_average()}."
    )
    print()
    print("| measure | this machine | baseline | ratio | target | met | notes |")
    print("|---|---|---|---|---|---|---|")
    for f in FIGURES:
        print(f.row())
    if a.json:
        a.json.write_text(json.dumps([dataclasses.asdict(f) for f in FIGURES], ensure_ascii=False, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
