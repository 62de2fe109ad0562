"""Shared fixtures: the sample PDF and one real build of it (built once per test session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from budgetkg.build import BuildOptions, build

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_PDF = FIXTURES / "gz-zwfwsjglj-2023-budget.pdf"
SAMPLE_TXT = FIXTURES / "gz-zwfwsjglj-2023-budget.txt"
BASE = "http://localhost:8000/"


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
