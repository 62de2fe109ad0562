"""Shared fixtures: the sample PDF and one real build of it (built once per test session); the
real published documents (never committed: found through `$BUDGETKG_REAL_DOCS`, default
`<repo>/../shared/samples/real`) and one build of all of them together, shared by every test
that reads them."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from budgetkg.build import BuildOptions, BuildResult, build

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_PDF = FIXTURES / "gz-zwfwsjglj-2023-budget.pdf"
SAMPLE_TXT = FIXTURES / "gz-zwfwsjglj-2023-budget.txt"
BASE = "http://localhost:8000/"
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
REPO = Path(__file__).resolve().parents[1]
REAL_DOCS_ENV = "BUDGETKG_REAL_DOCS"


def load_script(name: str) -> ModuleType:
    """A program of scripts/ imported by path under its own name (scripts/ is not a package;
    make_corpus finds render_budget_pdf in sys.modules under that name)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample") / "build"
    result = build([SAMPLE_PDF], BuildOptions(out=out, base_uri=BASE, progress=False), echo=lambda m: None)
    assert not result.failures
    return out


@pytest.fixture(scope="session")
def sample_document():
    from budgetkg.reader import read_document

    return read_document(SAMPLE_PDF)


# --- the real published documents -------------------------------------------------------------


@pytest.fixture(scope="session")
def real_docs_dir() -> Path:
    """The folder of real published budget PDFs (with their README.md), or skip."""
    folder = Path(os.environ.get(REAL_DOCS_ENV) or REPO.parent / "shared" / "samples" / "real")
    if not folder.is_dir() or not any(folder.glob("*.pdf")):
        pytest.skip(f"real documents not found in {folder}: set ${REAL_DOCS_ENV} to the folder of real budget PDFs")
    return folder


@dataclass(frozen=True)
class RealDoc:
    """One line of the real documents' README table: what the document is, as published."""

    name: str  # file name without .pdf
    issuer: str
    year: int
    kind: str  # 预算 | 决算 (model.Document.kind)
    unit: str
    pages: int
    grand_total: str


def read_real_manifest(folder: Path) -> dict[str, RealDoc]:
    """The README.md table of the real documents: | file | issuer | year | kind | unit | pages | total | …"""
    out: dict[str, RealDoc] = {}
    readme = folder / "README.md"
    if not readme.is_file():
        return out
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 7 or not cells[0].endswith(".pdf"):
            continue
        name = cells[0].removesuffix(".pdf")
        pages = re.sub(r"\D", "", cells[5])
        out[name] = RealDoc(
            name=name,
            issuer=cells[1],
            year=int(cells[2]),
            kind="决算" if "决算" in cells[3] else "预算",
            unit=cells[4],
            pages=int(pages or 0),
            grand_total=cells[6],
        )
    return out


@pytest.fixture(scope="session")
def real_manifest(real_docs_dir: Path) -> dict[str, RealDoc]:
    manifest = read_real_manifest(real_docs_dir)
    if not manifest:
        pytest.skip(f"{real_docs_dir}/README.md lists no documents")
    return manifest


@dataclass(frozen=True)
class RealBuild:
    out: Path
    result: BuildResult
    echoed: tuple[str, ...]  # what the build printed (warnings, reading summaries, validation)

    def document(self, name: str):  # noqa: ANN201 - model.Document
        return next(d for d in self.result.documents if d.source.name == f"{name}.pdf")

    def reading(self, name: str):  # noqa: ANN201 - reading.DocumentReading
        return next(r for r in self.result.readings if r.file == f"{name}.pdf")


@pytest.fixture(scope="session")
def real_build(real_docs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> RealBuild:
    """All real documents built together, once per session (the issue's done criterion: one
    run), with two worker processes; every test that reads them shares this build."""
    out = tmp_path_factory.mktemp("real") / "build"
    echoed: list[str] = []
    result = build([real_docs_dir], BuildOptions(out=out, base_uri=BASE, jobs=2, progress=False), echo=echoed.append)
    return RealBuild(out, result, tuple(echoed))


@pytest.fixture(scope="session")
def sample_server(sample_build: Path):  # noqa: ANN201 - Iterator[serve_fixtures.LiveServer]
    """``budgetkg serve`` on the sample build, on a loopback port: one server for every test that
    only reads from it (pages, search, validation, the crawl)."""
    from serve_fixtures import LiveServer

    server = LiveServer(sample_build, timeout=10.0, workers=2).start()
    try:
        yield server
    finally:
        server.stop()

