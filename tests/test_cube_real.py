"""The data-user checks of test_cube.py on six real published documents (Guangzhou; Shenzhen,
whose 财政拨款收支总表 prints 款 and 项 names without codes; a Shanghai district's budget in 元 with
split code columns and its 决算): Data Cube integrity constraints, leaves that sum to every
printed aggregate, store = dumps."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from conftest import BASE
from pyoxigraph import RdfFormat, Store, parse
from test_cube import (
    IC,
    _ask,
    duplicate_observations,
    leaf_mismatches,
    normalised_store,
)

from budgetkg.build import BuildOptions, build

#: the real documents the validation reports no violation on, but 01 (the sample's department, 53 pages)
DOCUMENTS = (
    "02-gz-xfj-2026.pdf",
    "04-gz-qxj-2026.pdf",
    "05-gz-tjj-2026.pdf",
    "07-sz-tjj-2026.pdf",
    "09-sh-pt-zfb-2025.pdf",
    "10-sh-pt-czj-2024-js.pdf",
)


@pytest.fixture(scope="session")
def real_docs_dir() -> Path:
    """The real published PDFs (env $BUDGETKG_REAL_DOCS, default <repo>/../shared/samples/real)."""
    path = Path(
        os.environ.get("BUDGETKG_REAL_DOCS", Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "real")
    )
    if not path.is_dir():
        pytest.skip(f"real documents not found at {path} (set $BUDGETKG_REAL_DOCS)")
    return path


@pytest.fixture(scope="module")
def real_cube(real_docs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = [real_docs_dir / name for name in DOCUMENTS]
    if not all(f.exists() for f in files):
        pytest.skip(f"{', '.join(DOCUMENTS)} not in {real_docs_dir}")
    out = tmp_path_factory.mktemp("real-cube") / "build"
    result = build(files, BuildOptions(out=out, base_uri=BASE, jobs=1, progress=False), echo=lambda m: None)
    assert not result.failures
    return out


def test_real_documents_hold_the_integrity_constraints(real_cube: Path) -> None:
    st = normalised_store(real_cube)
    violated = [p.stem for p in IC if p.stem != "ic-12" and _ask(st, p.read_text(encoding="utf-8"))]
    assert violated == []
    observations, duplicates = duplicate_observations(st)
    assert observations > 3000 and duplicates == []


def test_real_documents_leaves_sum_to_every_aggregate(real_cube: Path) -> None:
    aggregates, off = leaf_mismatches(Store.read_only(str(real_cube / "store")))
    assert aggregates > 1000 and off == set()


def test_real_documents_store_and_dumps_hold_the_same_terms(real_cube: Path) -> None:
    dump = gzip.decompress((real_cube / "dumps" / "budgetkg.nq.gz").read_bytes())
    assert set(parse(dump, format=RdfFormat.N_QUADS)) == set(Store.read_only(str(real_cube / "store")))
