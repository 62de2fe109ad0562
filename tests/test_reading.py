"""The reader checks what it read (budgetkg/reading.py), on the sample document.

The sample balances except for its two genuine problems (the unit subtotals of table 12, which
the SHACL validation reports as well, tests/test_validation.py); every other check holds. A
figure changed in a copy of the Document — a misreading simulated, no mocks — makes exactly the
check that covers it fail, at the right row; a dropped cell shows as a number in no cell.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import SAMPLE_PDF

from budgetkg.build import failure_reason
from budgetkg.graph import GraphBuilder
from budgetkg.mapping import load_mappings, squash
from budgetkg.model import Amount, Document, Table
from budgetkg.reading import (
    BALANCED,
    EMPTY,
    FAILING,
    NOT_UNDERSTOOD,
    UnplacedNumbers,
    best_reading,
    check_document,
    column_sum_rules,
    failing_checks,
    improve_reading,
    page_numbers_printed,
    unplaced_numbers,
)
from budgetkg.validation import DEFAULT_TOLERANCE

GENUINE_UNITS = {"广州市数字政府运营中心", "广州市政务服务中心"}  # table 12: printed unit rows ≠ Σ projects


@pytest.fixture(scope="module")
def sample_pages():
    from budgetkg.pdf import read_pdf

    return read_pdf(SAMPLE_PDF)[1]


def _table(doc: Document, number: int) -> Table:
    return next(t for t in doc.tables if t.number == number)


def _changed(doc: Document, number: int, label: str, values: dict[str, str], code: str | None = None) -> Document:
    """A copy of the document with the first row of that label (and code) printing other figures."""
    tables = []
    done = False
    for table in doc.tables:
        rows = []
        for row in table.rows:
            wanted = squash(row.label) == label and (code is None or row.code == code)
            if not done and table.number == number and wanted:
                amounts = tuple(
                    dataclasses.replace(a, value=Decimal(values[a.measure_key]), printed=values[a.measure_key])
                    if a.measure_key in values
                    else a
                    for a in row.amounts
                )
                row = dataclasses.replace(row, amounts=amounts)
                done = True
            rows.append(row)
        tables.append(dataclasses.replace(table, rows=tuple(rows)))
    assert done, f"no row {label!r} in table {number}"
    return dataclasses.replace(doc, tables=tuple(tables))


def _failures(doc: Document) -> set[tuple[int, str, str]]:
    reading = check_document(doc)
    return {(t.number, f.check, squash(f.row)) for t in reading.tables for f in t.failures}


def test_the_sample_balances_but_for_its_genuine_problems(sample_document: Document) -> None:
    reading = check_document(sample_document)
    statuses = {t.number: t.status for t in reading.tables}
    assert statuses == {n: BALANCED for n in range(1, 14)} | {12: FAILING}
    failing = _table_reading(reading, 12)
    assert {f.row for f in failing.failures} == GENUINE_UNITS
    assert {f.check for f in failing.failures} == {"unit-subtotal"}
    one = next(f for f in failing.failures if f.row == "广州市政务服务中心" and f.column == "总计")
    assert (one.printed, one.expected, one.page) == (Decimal("155.45"), Decimal("125.35"), 57)
    assert sum(t.checks for t in reading.tables) > 500  # every table is checked, not skipped
    counts = reading.counts()
    assert counts == {
        "tables": 13,
        "balanced": 12,
        "failing": 1,
        "failing_checks": 6,
        "not_understood": 0,
        "empty": 0,
        "unplaced_numbers": 0,
    }
    assert reading.summary().startswith("13 tables, 12 balanced, 1 with 6 failing checks, 0 not understood")


def _table_reading(reading, number: int):  # noqa: ANN001, ANN202 - reading.DocumentReading/TableReading
    return next(t for t in reading.tables if t.number == number)


#: check → (table, row label, code, {column key: printed figure}, the failure expected: table, row)
MISREADINGS = {
    "row-parts": (7, "行政经费", None, {"total": "6653.58"}, (7, "行政经费")),
    "parent-children": (6, "办公费", "30201", {"amount": "142.60"}, (6, "商品和服务支出")),
    "side-total": (1, "一、预算拨款", None, {"income.amount": "49157.92"}, (1, "本年收入合计")),
    "income-expenditure": (1, "收入总计", None, {"income.amount": "49157.92"}, (1, "收入总计")),
    "unit-subtotal": (
        11,
        "工资福利支出",
        None,
        {"grand-total": "3015.27", "appropriation.total": "3015.27", "appropriation.general-public-budget": "3015.27"},
        (11, "广州市政务服务数据管理局"),
    ),
}


@pytest.mark.parametrize("check", list(MISREADINGS))
def test_a_misread_figure_fails_its_check(sample_document: Document, check: str) -> None:
    number, label, code, values, (where, row) = MISREADINGS[check]
    before = _failures(sample_document)
    after = _failures(_changed(sample_document, number, label, values, code))
    assert (where, check, row) in after - before, sorted(after - before)


def test_table_total_and_same_quantity(sample_document: Document) -> None:
    """The total row of table 5 misread: it no longer adds up, and the same quantity printed in
    table 6 (一般公共预算基本支出) disagrees, listed on both tables."""
    table = _table(sample_document, 5)
    total = next(r for r in table.rows if squash(r.label) == "合计")
    key = "general-public-budget.basic"
    printed = next(a.value for a in total.amounts if a.measure_key == key)
    new = _failures(_changed(sample_document, 5, "合计", {key: str(printed + 100)})) - _failures(sample_document)
    assert (5, "table-total", "合计") in new
    assert {(n, c) for n, c, _ in new if c == "same-quantity"} >= {(5, "same-quantity"), (6, "same-quantity")}


def test_the_current_year_totals_may_differ_by_the_carry_overs(sample_document: Document) -> None:
    """Where both sides print a 总计, the 本年 totals are not compared (12-cn: 本年收入合计 +
    上年结转 = 本年支出合计): a 本年收入合计 misread is caught by its own side's sum instead."""
    new = _failures(_changed(sample_document, 1, "本年收入合计", {"income.amount": "49157.92"}))
    new -= _failures(sample_document)
    assert new == {(1, "side-total", "本年收入合计"), (1, "side-total", "收入总计")}


def test_rounding_within_tolerance_is_not_a_failure(sample_document: Document) -> None:
    table = _table(sample_document, 7)
    row = next(r for r in table.rows if squash(r.label) == "行政经费")
    total = next(a.value for a in row.amounts if a.measure_key == "total")
    parts = len(column_sum_rules(table)[0].parts)
    off_by = DEFAULT_TOLERANCE * (parts + 1)  # the largest difference rounding explains
    assert _failures(_changed(sample_document, 7, "行政经费", {"total": str(total + off_by)})) == _failures(
        sample_document
    )
    assert (7, "row-parts", "行政经费") in _failures(
        _changed(sample_document, 7, "行政经费", {"total": str(total + off_by + Decimal("0.01"))})
    )


def test_best_reading_keeps_the_reading_that_balances(sample_document: Document) -> None:
    good = _table(sample_document, 7)
    bad = _table(_changed(sample_document, 7, "行政经费", {"total": "6653.58"}), 7)
    assert best_reading([bad, good]) is good
    assert best_reading([good, bad]) is good
    assert best_reading([good, dataclasses.replace(good)]) is good  # a tie: the first
    unknown = dataclasses.replace(good, kind="unknown", number=0)
    assert best_reading([unknown, bad]) is bad  # a reading that is understood beats one that is not
    with pytest.raises(ValueError):
        best_reading([])


def test_column_sum_rules_are_the_graphs(sample_document: Document) -> None:
    table = _table(sample_document, 3)
    rules = {r.total: r.parts for r in column_sum_rules(table)}
    assert {"basic", "project"} <= set(rules["total"])  # 合计 = 基本支出 + 项目支出 + the other columns
    # the graph emits exactly these rules (one definition, two users)
    builder = GraphBuilder("http://localhost:8000/")
    node = builder.table_iri(sample_document, table)
    from pyoxigraph import NamedNode

    triples = list(builder._sum_rules(table, NamedNode(node)))
    totals = {t.object.value.rsplit("/", 1)[-1] for t in triples if t.predicate.value.endswith("totalColumn")}
    assert len(totals) == len(rules)


def test_a_column_without_a_printed_path_is_no_total(sample_document: Document) -> None:
    """Rotated pages gave columns without a header path: an IndexError in the graph stage once."""
    table = _table(sample_document, 3)
    rows = tuple(
        dataclasses.replace(r, amounts=tuple(dataclasses.replace(a, measure=()) for a in r.amounts[:1]) + r.amounts[1:])
        for r in table.rows
    )
    bare = dataclasses.replace(table, rows=rows)
    column_sum_rules(bare, load_mappings())  # no IndexError
    builder = GraphBuilder("http://localhost:8000/")
    doc = dataclasses.replace(sample_document, tables=(bare,))
    assert builder.document_dataset(doc).triples


def test_not_understood_tables(sample_document: Document) -> None:
    table = _table(sample_document, 7)
    doc = dataclasses.replace(
        sample_document,
        tables=(
            dataclasses.replace(table, kind="unknown", number=0),
            dataclasses.replace(table, rows=()),
            dataclasses.replace(table, rows=tuple(dataclasses.replace(r, amounts=()) for r in table.rows)),
        ),
    )
    reading = check_document(doc)
    # nothing printed outside a cell on its pages: a known table printed empty (a 政府性基金 table)
    assert [t.status for t in reading.tables] == [NOT_UNDERSTOOD, EMPTY, EMPTY]
    assert reading.tables[0].reason == "no table kind fits its title"
    assert reading.tables[1].reason.startswith("printed without figures (no rows read")
    # the same with figures on its page that no cell holds: something was missed, not empty
    missed = UnplacedNumbers(pages=((table.pages[0], ("59.00", "14.60")),))
    reading = check_document(doc, unplaced=missed)
    assert [t.status for t in reading.tables] == [NOT_UNDERSTOOD] * 3
    assert [t.reason for t in reading.tables] == ["no table kind fits its title", "no rows read", "no amounts read"]


def test_a_dropped_cell_is_a_number_in_no_cell(sample_document: Document, sample_pages) -> None:  # noqa: ANN001
    assert unplaced_numbers(sample_document, sample_pages).total == 0
    table = _table(sample_document, 7)
    row = next(r for r in table.rows if squash(r.label) == "行政经费")
    amount: Amount = next(a for a in row.amounts if a.measure_key == "total")
    dropped = dataclasses.replace(row, amounts=tuple(a for a in row.amounts if a is not amount))
    tables = tuple(
        dataclasses.replace(t, rows=tuple(dropped if r is row else r for r in t.rows)) if t is table else t
        for t in sample_document.tables
    )
    found = unplaced_numbers(dataclasses.replace(sample_document, tables=tables), sample_pages)
    assert found.pages == ((row.pages[0], (amount.printed,)),)
    assert check_document(sample_document, unplaced=found).tables[6].unplaced == 1


def test_the_build_writes_reading_json(sample_build: Path) -> None:
    reading = json.loads((sample_build / "reading.json").read_text(encoding="utf-8"))
    manifest = json.loads((sample_build / "build.json").read_text(encoding="utf-8"))
    (doc,) = reading["documents"]
    assert manifest["reading"] == "reading.json"
    assert manifest["documents"][0]["reading"] == doc["summary"]
    assert doc["reading"].startswith("13 tables, 12 balanced, 1 with 6 failing checks") and doc["balanced"] == 12
    table = next(t for t in doc["tables"] if t["number"] == 12)
    assert table["status"] == "failing" and table["pages"][0] == 29
    check = next(c for c in table["failing_checks"] if c["row"] == "广州市政务服务中心" and c["column"] == "总计")
    assert check == {
        "check": "unit-subtotal",
        "row": "广州市政务服务中心",
        "column": "总计",
        "printed": "155.45",
        "expected": "125.35",
        "difference": "-30.10",
        "page": 57,
    }


def test_a_stage_error_names_its_stage_and_page(sample_document: Document) -> None:
    """An exception inside a stage becomes `stage: reason (page N)`: here a row without pages,
    which the graph stage cannot place."""
    table = _table(sample_document, 7)
    broken = dataclasses.replace(table, rows=(dataclasses.replace(table.rows[0], pages=()),))
    doc = dataclasses.replace(sample_document, tables=(broken,))
    with pytest.raises(IndexError) as info:
        GraphBuilder("http://localhost:8000/").document_dataset(doc)
    reason = failure_reason(info.value, "reader")
    assert reason.startswith("graph: IndexError") and f"(page {table.pages[0]})" in reason


def test_improve_reading_keeps_the_alternative_that_balances(sample_document: Document) -> None:
    """A document whose table 7 was misread, and a second reading of it that got the table
    right: the misread table is replaced (noted in the warnings), the others are kept."""
    misread = _changed(sample_document, 7, "行政经费", {"total": "6653.58"})
    reads: list[str] = []

    def read_again(name: str, doc: Document):  # noqa: ANN202
        def read(pages: frozenset[int]) -> Document:
            reads.append(name)
            assert frozenset(_table(sample_document, 12).pages) <= pages  # the pages of the failing tables
            return doc

        return name, read

    improved = improve_reading(misread, [read_again("the same", misread), read_again("other", sample_document)])
    assert reads == ["the same", "other"]
    assert improved.tables == sample_document.tables
    assert improved.warnings[-1] == (
        f"table {_table(misread, 7).title!r} (page {_table(misread, 7).pages[0]}): read again (other): "
        "0 failing checks, 28 figures instead of 1 failing checks, 28 figures"
    )
    reads.clear()
    # the sample's table 12 fails in every reading (its genuine problems): the original is kept
    assert improve_reading(sample_document, [read_again("other", misread)]) == sample_document
    assert improve_reading(sample_document, []) is sample_document


#: (document, page, a figure the page prints as data, tokens that are no data) — looked up on the pages.
NOT_DATA = [
    ("14-cs-xfj-2026", 13, "1,935.36", ["9"]),  # ** ** ** ** 1 2 … 9: the column-number row
    ("15-hz-qxj-2026", 16, None, ["17"]),  # ** 1 2 … 17
    ("13-suz-sjj-2026", 10, None, ["02"]),  # 公开 02 表: the table's label
    ("07-sz-tjj-2026", 18, "5,417.80", ["2", "15"]),  # 表 2, and the page number - 15 -
    ("10-sh-pt-czj-2024-js", 6, None, ["2024"]),  # the year on a line of its own over the title
]


@pytest.mark.parametrize(("name", "page", "data", "tokens"), NOT_DATA)
def test_numbers_that_are_no_data(
    real_docs_dir: Path, name: str, page: int, data: str | None, tokens: list[str]
) -> None:
    from budgetkg.pdf import read_pages

    path = real_docs_dir / f"{name}.pdf"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    found = page_numbers_printed(read_pages(path, [page])[0], (2023, 2024, 2025))
    assert not set(tokens) & set(found), found
    if data is not None:
        assert data in found


def test_figures_in_a_sentence_are_no_data(sample_pages) -> None:  # noqa: ANN001
    page = next(p for p in sample_pages if p.number == 64)  # prose after the last table: 21145.90 万元 …
    assert not {"21145.90", "12,193.49", "110.39"} & set(page_numbers_printed(page))


def _rules_of(paths: list[tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The sum rules of a one-row table printing these column paths (keys: the paths joined)."""
    from budgetkg.model import Row, RowKind

    amounts = tuple(Amount(p, "/".join(p), Decimal(1), "1") for p in paths)
    row = Row(RowKind.TOTAL, "合计", None, "单位", amounts, (1,), 1)
    table = Table("unknown", 0, "表", (1,), "万元", None, (row,), tuple(paths))
    return {rule.total: rule.parts for rule in column_sum_rules(table)}


def test_sum_rules_through_groups_and_of_which_columns() -> None:
    # 08-sh's 三公 table: the group total sums a sub-group through the sub-group's own 小计
    assert _rules_of(
        [("三公", "合计"), ("三公", "出国"), ("三公", "车", "小计"), ("三公", "车", "购置"), ("三公", "接待")]
    ) == {"三公/合计": ("三公/出国", "三公/接待", "三公/车/小计"), "三公/车/小计": ("三公/车/购置",)}
    # 14-cs: 其中 columns after a column are a share of it, after a total they are its parts
    shares = [("三公", "小计"), ("三公", "接待"), ("三公", "车"), ("三公", "其中：购置"), ("三公", "其中：运行")]
    assert _rules_of(shares) == {"三公/小计": ("三公/接待", "三公/车")}
    assert _rules_of([("合计",), ("拨款", "金额"), ("拨款", "其中:经费"), ("事业收入",)]) == {
        "合计": ("事业收入", "拨款/金额")
    }
    assert _rules_of([("支出", "小计"), ("支出", "其中：基本支出"), ("支出", "项目支出")]) == {
        "支出/小计": ("支出/其中：基本支出", "支出/项目支出")
    }


def test_a_reading_cannot_balance_by_losing_figures(sample_document: Document) -> None:
    """A reading that dropped the rows a check fails on balances vacuously: each figure it holds
    fewer than the other counts against it as a failing check."""
    misread = _table(_changed(sample_document, 7, "行政经费", {"total": "6653.58"}), 7)
    lost = dataclasses.replace(misread, rows=tuple(r for r in misread.rows if squash(r.label) != "行政经费"))
    assert failing_checks(lost) == 0 and failing_checks(misread) == 1
    assert best_reading([misread, lost]) is misread


def test_signed_figures_of_a_text_column_are_placed(real_build) -> None:  # noqa: ANN001 - conftest.RealBuild
    """12-cn's 增减(%) columns print “-60.86%”: a text cell holding the signed figure the page prints."""
    assert real_build.reading("12-cn-gjxfj-2026").unplaced.on([10, 11]) == 0
