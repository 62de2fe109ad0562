"""Corpus builds: incremental reuse of parses, failure isolation, atomic swap, progress output.

Uses two small synthetic budgets (scripts/make_corpus.py) so that each build takes seconds.
"""

from __future__ import annotations

import faulthandler
import fcntl
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import BASE, SAMPLE_PDF, load_script
from pyoxigraph import Store
from rdflib.namespace import RDF, SH

import budgetkg.build as build_module
import budgetkg.build.directory
import budgetkg.build.pipeline
import budgetkg.reader
from budgetkg.build import BuildOptions, build
from budgetkg.pdf import DEFAULT_ENGINE

pytest.importorskip("reportlab")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three synthetic budgets: two departments' 2024 budgets and one 2023 budget."""
    out = tmp_path_factory.mktemp("corpus")
    load_script("make_corpus").generate_corpus(out, departments=3, years=[2024], seed=3, jobs=2)
    return out


@pytest.fixture()
def inputs(corpus: Path, tmp_path: Path) -> Path:
    """A fresh folder with two of the budgets (tests add, change and break files in it)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for pdf in sorted(corpus.glob("*.pdf"))[:2]:
        shutil.copy(pdf, folder / pdf.name)
    return folder


def _quiet(**kwargs: object) -> BuildOptions:
    kwargs.setdefault("progress", False)
    kwargs.setdefault("validate", False)
    kwargs.setdefault("jobs", 2)
    return BuildOptions(**kwargs)  # type: ignore[arg-type]


def _no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(source: object, pages: object, mappings: object = None, settings: object = None) -> None:
        raise AssertionError(f"{source} was parsed again")

    monkeypatch.setattr(budgetkg.reader, "document_from_pages", refuse)


def _dumps(out: Path) -> dict[str, bytes]:
    files = [p for p in (out / "dumps").rglob("*") if p.is_file()] + [out / "lines.csv", out / "catalog.ttl"]
    return {str(p.relative_to(out)): p.read_bytes() for p in files}


def test_unchanged_pdfs_are_not_parsed_again(inputs: Path, corpus: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "build"
    first = build([inputs], _quiet(out=out), echo=lambda m: None)
    assert (len(first.documents), first.reused, first.failures) == (2, 0, [])
    before = _dumps(out)

    with monkeypatch.context() as m:
        _no_parsing(m)
        again = build([inputs], _quiet(out=out), echo=lambda m: None)
    assert (len(again.documents), again.reused, again.failures) == (2, 2, [])
    assert _dumps(out) == before  # the reused parse builds the same graph, byte for byte

    # one PDF replaced by another document: only that one is parsed
    victim = sorted(inputs.glob("*.pdf"))[1]
    third = sorted(corpus.glob("*.pdf"))[2]
    shutil.copy(third, victim)
    changed = build([inputs], _quiet(out=out), echo=lambda m: None)
    assert (len(changed.documents), changed.reused, changed.failures) == (2, 1, [])
    assert {d.source.sha256 for d in changed.documents} == {build_module.sha256_of(p) for p in inputs.glob("*.pdf")}
    cache = sorted(p.name.split("-")[0] for p in (out / "cache").iterdir())
    assert cache == sorted(d.source.sha256 for d in changed.documents)  # stale entries are dropped

    # a change to the reader's code or mappings makes every cached parse stale
    monkeypatch.setattr(budgetkg.build.pipeline, "reader_fingerprint", lambda engine="pdfplumber": "0123456789abcdef")
    fresh = build([inputs], _quiet(out=out), echo=lambda m: None)
    assert (len(fresh.documents), fresh.reused) == (2, 0)


def _hello_pdf(path: Path) -> None:
    """A valid PDF with text but no budget table."""
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    c.drawString(72, 720, "Hello, this is not a budget.")
    c.save()


def test_one_bad_file_never_stops_the_others(inputs: Path, tmp_path: Path, monkeypatch) -> None:
    good = sorted(inputs.glob("*.pdf"))
    (inputs / "notes.pdf").write_text("not a PDF at all", encoding="utf-8")
    (inputs / "empty.pdf").write_bytes(b"")
    data = good[0].read_bytes()
    (inputs / "truncated.pdf").write_bytes(data[: len(data) // 3])
    _hello_pdf(inputs / "hello.pdf")
    for name in ("crash.pdf", "hang.pdf", "bug.pdf"):
        (inputs / name).write_bytes(data + name.encode())  # same budget, other bytes

    real = budgetkg.reader.document_from_pages

    def reader(source, pages, mappings: object = None, settings: object = None):  # noqa: ANN001, ANN202
        path = Path(source.path)
        if path.name == "crash.pdf":  # the PDF library segfaults on this one
            faulthandler.disable()  # pytest's handler would print a traceback for it
            os.kill(os.getpid(), signal.SIGSEGV)
        if path.name == "hang.pdf":  # and never returns on that one
            time.sleep(600)
        if path.name == "bug.pdf":
            raise ZeroDivisionError("a reader bug")
        return real(source, pages, mappings, settings)

    monkeypatch.setattr(budgetkg.reader, "document_from_pages", reader)  # the forked workers inherit it
    out = tmp_path / "build"
    result = build([inputs], _quiet(out=out, timeout=10, validate=True), echo=lambda m: None)

    assert sorted(d.source.name for d in result.documents) == [p.name for p in good]
    reasons = {Path(f.path).name: f.reason for f in result.failures}
    assert set(reasons) == {"notes.pdf", "empty.pdf", "truncated.pdf", "hello.pdf", "crash.pdf", "hang.pdf", "bug.pdf"}
    assert "not a PDF" in reasons["notes.pdf"] and "not a PDF" in reasons["empty.pdf"]
    assert "damaged" in reasons["truncated.pdf"]
    assert "no recognisable budget table" in reasons["hello.pdf"]
    assert "worker process died" in reasons["crash.pdf"] and "SIGSEGV" in reasons["crash.pdf"]
    assert "longer than 10 s" in reasons["hang.pdf"]
    assert "ZeroDivisionError: a reader bug" in reasons["bug.pdf"]

    manifest = json.loads((out / "build.json").read_text(encoding="utf-8"))
    assert len(manifest["documents"]) == 2 and len(manifest["failures"]) == 7
    store = Store.read_only(str(out / "store"))
    graphs = {g.value for g in store.named_graphs()}
    assert {d["graph"] for d in manifest["documents"]} <= graphs
    assert (out / "validation" / "report.ttl").is_file()
    assert not any(p.name.startswith(".build-") and p.is_dir() for p in tmp_path.iterdir())


def test_same_file_twice_and_same_budget_twice(inputs: Path, tmp_path: Path) -> None:
    first = sorted(inputs.glob("*.pdf"))[0]
    shutil.copy(first, inputs / "copy-of-first.pdf")
    (inputs / "zz-reissued.pdf").write_bytes(first.read_bytes() + b"\n% reissued\n")
    messages: list[str] = []
    result = build([inputs], _quiet(out=tmp_path / "build"), echo=messages.append)
    assert len(result.documents) == 2
    assert any(m.startswith("skipped: ") and "copy-of-first.pdf" in m for m in messages)
    [failure] = result.failures
    assert failure.path.endswith("zz-reissued.pdf") and "is the same budget" in failure.reason


_POLLER = textwrap.dedent(
    """
    import json, os, sys, time
    out, stop = sys.argv[1], sys.argv[2]
    reads = misses = 0
    while not os.path.exists(stop):
        try:
            with open(os.path.join(out, "build.json"), encoding="utf-8") as fh:
                json.load(fh)
            with open(os.path.join(out, "store", "CURRENT"), encoding="utf-8") as fh:
                fh.read()
            reads += 1
        except (OSError, ValueError) as exc:
            misses += 1
            print("miss:", exc, file=sys.stderr)
    print(reads, misses)
    """
)


def test_readers_never_see_the_output_missing_during_a_rebuild(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "build"
    out.mkdir()
    (out / "from-an-older-build.txt").write_text("old", encoding="utf-8")  # a real directory
    build([inputs], _quiet(out=out), echo=lambda m: None)
    assert out.is_dir() and not out.is_symlink() and not (out / "from-an-older-build.txt").exists()

    stop = tmp_path / "stop"
    poller = subprocess.Popen(
        [sys.executable, "-c", _POLLER, str(out), str(stop)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(0.3)
        stamps = set()
        for _ in range(4):
            build([inputs], _quiet(out=out), echo=lambda m: None)
            stamps.add((out / "build.json").stat().st_mtime_ns)
    finally:
        stop.touch()
        stdout, stderr = poller.communicate(timeout=30)
    reads, misses = map(int, stdout.split())
    assert misses == 0, stderr
    assert reads > 100
    assert len(stamps) == 4  # each rebuild was swapped in
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".build-")]
    assert leftovers == []


def test_swap_without_renameat2_still_replaces_the_build(inputs: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "build"
    build([inputs], _quiet(out=out), echo=lambda m: None)
    monkeypatch.setattr(budgetkg.build.directory, "exchange", lambda a, b: False)
    before = out.stat().st_ino
    result = build([inputs], _quiet(out=out), echo=lambda m: None)
    assert out.stat().st_ino != before and result.reused == 2
    assert json.loads((out / "build.json").read_text(encoding="utf-8"))["documents"]


def test_a_second_build_into_the_same_directory_fails_fast(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "build"
    with (tmp_path / ".build.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(ValueError, match="another budgetkg build"):
            build([inputs], _quiet(out=out), echo=lambda m: None)
    assert not out.exists()


def test_progress_bar_shows_documents_pages_and_failures(inputs: Path, tmp_path: Path) -> None:
    (inputs / "broken.pdf").write_text("garbage", encoding="utf-8")
    out = tmp_path / "build"
    proc = subprocess.run(
        [sys.executable, "-m", "budgetkg.cli", "build", str(inputs), "--out", str(out), "--jobs", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr
    manifest = json.loads((out / "build.json").read_text(encoding="utf-8"))
    pages = sum(d["pages"] for d in manifest["documents"])
    assert "parsing: 100%" in err and "3/3" in err
    assert f"pages={pages}" in err and "failed=1" in err
    assert "validating: 100%" in err and "2/2" in err
    assert f"failed: {inputs / 'broken.pdf'}: pdf: is not a PDF file" in err
    assert "built 2 document(s)" in err


# --- fewer documents than workers: a document's pages and its shapes are shared out ---------------


def test_a_document_read_in_parts_is_the_document_read_whole(sample_document) -> None:  # noqa: ANN001
    from budgetkg.pdf import count_pages, read_pages

    count = count_pages(SAMPLE_PDF)
    odd, even = (read_pages(SAMPLE_PDF, range(first, count + 1, 2)) for first in (1, 2))
    assert [p.number for p in even] == list(range(2, count + 1, 2))  # numbers stay those of the document
    pages = sorted(odd + even, key=lambda p: p.number)
    blob, error = build_module.assemble(SAMPLE_PDF, build_module.sha256_of(SAMPLE_PDF), pages)
    assert error is None and blob is not None
    assert pickle.loads(blob).document == sample_document  # a reading.ParsedDocument, as cached


def test_the_shapes_are_shared_out_without_loss_or_overlap() -> None:
    from budgetkg.validation import shape_parts, shapes_graph, shapes_part

    full = set(shapes_graph())
    for parts in (2, 3):
        groups = shape_parts(parts)
        names = [name for group in groups for name in group]
        assert len(names) == len(set(names)) == len({str(s) for s in shapes_graph().subjects(RDF.type, SH.NodeShape)})
        graphs = [set(shapes_part(i, parts)) for i in range(parts)]
        assert set().union(*graphs) == full
        for i, graph in enumerate(graphs):
            assert {str(s) for s, _, _ in graph if (s, RDF.type, SH.NodeShape) in graph} == set(groups[i])


def test_one_document_on_two_workers_builds_the_same_as_on_one(sample_build: Path, tmp_path: Path, monkeypatch) -> None:
    """jobs=2 reads the sample in two parts and validates it with half the shapes in each
    worker; everything written is byte for byte what the one-worker build wrote."""
    assembled: list[Path] = []
    shared: list[int] = []
    real_assemble, real_pool = build_module.assemble, build_module.validation_pool

    def assemble(path: Path, sha256: str, pages: list):  # noqa: ANN202
        assembled.append(path)
        return real_assemble(path, sha256, pages)

    def validation_pool(jobs: int, documents: int, timeout: float | None):  # noqa: ANN202
        pool, parts = real_pool(jobs, documents, timeout)
        shared.append(parts)
        return pool, parts

    monkeypatch.setattr(budgetkg.build.pipeline, "assemble", assemble)
    monkeypatch.setattr(budgetkg.build.pipeline, "validation_pool", validation_pool)
    out = tmp_path / "build"
    result = build([SAMPLE_PDF], BuildOptions(out=out, base_uri=BASE, jobs=2, progress=False), echo=lambda m: None)
    assert assembled == [SAMPLE_PDF] and shared == [2] and not result.failures

    def written(build_dir: Path) -> dict[str, bytes]:
        files = [*_dumps(build_dir).keys(), "validation/report.ttl", "validation/report.html", "build.json"]
        return {name: (build_dir / name).read_bytes() for name in files}

    assert written(out) == written(sample_build)
    [cached] = (out / "cache").iterdir()
    [before] = (sample_build / "cache").iterdir()
    assert cached.name == before.name
    assert pickle.loads(cached.read_bytes()) == pickle.loads(before.read_bytes())


def test_a_part_that_kills_its_worker_fails_its_document_only(inputs: Path, tmp_path: Path, monkeypatch) -> None:
    import budgetkg.pdf

    victim, other = sorted(inputs.glob("*.pdf"))
    real = budgetkg.pdf.read_pages

    def read_pages(path: Path, numbers=None, engine: str = DEFAULT_ENGINE, ocr: object = None):  # noqa: ANN001, ANN202
        if path.name == victim.name and numbers is not None and 2 in numbers:
            faulthandler.disable()
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(path, numbers, engine, ocr)

    monkeypatch.setattr(budgetkg.pdf, "read_pages", read_pages)  # the forked workers inherit it
    result = build([inputs], _quiet(out=tmp_path / "build", jobs=4), echo=lambda m: None)
    assert [d.source.name for d in result.documents] == [other.name]
    [failure] = result.failures
    assert failure.path == str(victim) and "worker process died" in failure.reason and "SIGSEGV" in failure.reason
    cached = [p.name.split("-")[0] for p in (tmp_path / "build" / "cache").iterdir()]
    assert cached == [result.documents[0].source.sha256]


def test_a_bad_file_alone_is_read_whole_and_says_why(inputs: Path, tmp_path: Path) -> None:
    """Its pages cannot be counted here, so it is not split: the worker gives the reason."""
    data = sorted(inputs.glob("*.pdf"))[0].read_bytes()
    for name, content, reason in (
        ("truncated.pdf", data[: len(data) // 3], "is damaged and cannot be parsed"),
        ("notes.pdf", b"not a PDF at all", "is not a PDF file"),
    ):
        path = tmp_path / name
        path.write_bytes(content)
        result = build([path], _quiet(out=tmp_path / "build"), echo=lambda m: None)
        assert [(f.path, reason in f.reason) for f in result.failures] == [(str(path), True)]
