"""The data-user checks of test_cube.py on the fifteen real published documents, as the session
builds them once (tests/conftest.py ``real_build``): Data Cube integrity constraints, leaves
that sum to every printed aggregate, store = dumps."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from conftest import RealBuild
from pyoxigraph import RdfFormat, Store, parse
from test_cube import (
    IC,
    _ask,
    duplicate_observations,
    incoherent_totals,
    leaf_mismatches,
    normalised_store,
)

#: (table kind, row) pairs whose printed aggregate is not the sum of its leaves on the fifteen
#: documents (2026-12-04), each looked at on its page. Not the hierarchy's, nor the documents'
#: arithmetic: the reader's reading of the 绩效目标 tables of 14-cs-xfj-2026, whose unit and
#: project cells span several pages and are reprinted on each (to fix in the reader, tables/):
#: - overall-performance-targets 长沙市信访局 (pp.30–32): the unit's row 126001 长沙市信访局
#:   1,935.36 (= 1,517.95 basic + 417.41 project, as printed) is reprinted on pp.31 and 32 and
#:   read there into the indicator rows 经济效益指标 and 生态效益指标, so its leaves count it
#:   three times; the 备注 column holds indicator weights (10, 4, 2), read as amounts;
#: - project-performance-targets '' (pp.22–29): the unit's row 126001 长沙市信访局 417.41 is read
#:   as a project without a name, and each project's amount (35.78, 10.22, 102.80 …) is read once
#:   for every page the project spans, into indicator rows.
#: Fixed (2026-12-04, budgetkg/hierarchy.py, tested in tests/test_hierarchy.py): the 政府采购 tables
#: of 11-js-swbgt-2019 p.12 and 13-suz-sjj-2026 p.22 (column nesting) and the 收入总表 of
#: 13-suz-sjj-2026 p.10 (unit codes 024 / 024001). A pair not listed fails the test.
KNOWN_LEAF_MISMATCHES = {
    ("overall-performance-targets", "长沙市信访局"),
    ("project-performance-targets", ""),
}


@pytest.fixture(scope="module")
def real_cube(real_build: RealBuild) -> Path:
    """The session's build of every real document (tests/conftest.py), shared with the reader's tests."""
    assert not real_build.result.failures, real_build.result.failures
    return real_build.out


def test_real_documents_hold_the_integrity_constraints(real_cube: Path) -> None:
    st = normalised_store(real_cube)
    violated = [p.stem for p in IC if p.stem != "ic-12" and _ask(st, p.read_text(encoding="utf-8"))]
    assert violated == []
    observations, duplicates = duplicate_observations(st)
    assert observations > 10000 and duplicates == []


def test_real_documents_leaves_sum_to_every_aggregate(real_cube: Path) -> None:
    aggregates, off = leaf_mismatches(Store.read_only(str(real_cube / "store")))
    assert aggregates > 2000 and off <= KNOWN_LEAF_MISMATCHES, off - KNOWN_LEAF_MISMATCHES


def test_real_documents_totals_and_aggregates_agree(real_cube: Path) -> None:
    """No printed total stands alone beside what it totals (as 15-hz-qxj-2026 p.16 杭州市气象局 under
    合计 and p.18 支出总计 after 一、本年支出合计 did, and the 小计 of 11-js-swbgt-2019 p.2)."""
    assert incoherent_totals(Store.read_only(str(real_cube / "store"))) == ([], [])


def test_real_documents_store_and_dumps_hold_the_same_terms(real_cube: Path) -> None:
    dump = gzip.decompress((real_cube / "dumps" / "budgetkg.nq.gz").read_bytes())
    assert set(parse(dump, format=RdfFormat.N_QUADS)) == set(Store.read_only(str(real_cube / "store")))
