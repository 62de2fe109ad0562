"""Shared fixtures: the sample PDF and one real build of it (built once per test session)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from budgetkg.build import BuildOptions, build

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
