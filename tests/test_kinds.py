"""Table kinds by evidence declared in mappings/, the strict mapping loader, a layout added by
TOML alone, codes never read as amounts, and whose budget a document is — on real pages."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import SAMPLE_PDF

from budgetkg.mapping import MAPPINGS_DIR, MappingError, load_mappings, squash
from budgetkg.model import Document, InputError, PageText, RowKind
from budgetkg.pdf import read_pages, read_pdf, source_file
from budgetkg.reader import document_from_pages

# Only the documents this file needs, read once each (see test_real_layouts for all of them).
NEEDED = (
    "08-sh-tjdsj-2026",
    "11-js-swbgt-2019",
    "12-cn-gjxfj-2026",
    "13-suz-sjj-2026",
    "14-cs-xfj-2026",
    "15-hz-qxj-2026",
)


@pytest.fixture(scope="module")
def real_dir(real_docs_dir: Path) -> Path:
    """The session's folder of real documents (tests/conftest.py), or skip if these are absent."""
    if not all((real_docs_dir / f"{name}.pdf").exists() for name in NEEDED):
        pytest.skip(f"real documents {', '.join(NEEDED)} not found in {real_docs_dir}: set $BUDGETKG_REAL_DOCS")
    return real_docs_dir


@pytest.fixture(scope="module")
def real_pages(real_dir: Path) -> dict[str, tuple]:
    return {name: read_pdf(real_dir / f"{name}.pdf") for name in NEEDED}


@pytest.fixture(scope="module")
def real(real_pages: dict[str, tuple]) -> dict[str, Document]:
    return {name: document_from_pages(source, pages) for name, (source, pages) in real_pages.items()}


@pytest.fixture(scope="module")
def sample_pages() -> tuple:
    return read_pdf(SAMPLE_PDF)


def _numbers(doc: Document) -> dict[str, int]:
    return {t.title: t.number for t in doc.tables}


def _copy_mappings(tmp_path: Path, name: str = "mappings") -> Path:
    """A copy of the project's mappings (a new folder each time: loaded mappings are cached)."""
    target = tmp_path / name
    shutil.copytree(MAPPINGS_DIR, target)
    return target


# --- kinds ---------------------------------------------------------------------------------


def test_titles_with_owner_prefixes_are_the_standard_kinds(real: dict[str, Document]) -> None:
    # Shanghai 单位预算: every title begins 2026年预算单位… / 2026年单位…
    assert list(_numbers(real["08-sh-tjdsj-2026"]).values()) == [1, 2, 3, 4, 5, 8, 9, 6, 7]
    # Hangzhou: 表N：2026年市级部门… and no codes at all
    hz = real["15-hz-qxj-2026"]
    assert [n for n in _numbers(hz).values() if n] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 20]
    # a table no kind fits (here, depending on the geometry, the heading 四、…预算公开表) is warned of
    for table in (t for n in NEEDED for t in real[n].tables if t.number == 0):
        doc = next(d for d in real.values() if table in d.tables)
        page = f"page {table.pages[0]}"
        assert any(table.title in w and "no table kind fits" in w and page in w for w in doc.warnings)


def test_one_title_two_kinds_told_apart_by_the_codes(real: dict[str, Document]) -> None:
    # 一般公共预算支出表 says neither 功能 nor 经济: the codes of its rows (2xx) decide
    cn = _numbers(real["12-cn-gjxfj-2026"])
    assert cn["一般公共预算支出表"] == 5 and cn["一般公共预算基本支出表"] == 6
    assert cn["财政拨款预算“三公”经费支出表"] == 7 and cn["信访业务培训绩效目标表"] == 20


def test_kinds_beyond_the_twelve(real: dict[str, Document]) -> None:
    js = _numbers(real["11-js-swbgt-2019"])
    assert js["财政拨款支出预算表（功能科目）"] == 15 and js["财政拨款基本支出预算表（经济科目）"] == 16
    assert js["“三公”经费、会议费、培训费支出预算表"] == 17 and js["一般公共预算机关运行经费支出预算表"] == 18
    assert js["2019年政府采购预算表"] == 19
    suz = _numbers(real["13-suz-sjj-2026"])
    assert suz["政府采购支出表"] == 19 and suz["国有资本经营预算支出预算表"] == 9
    cs = _numbers(real["14-cs-xfj-2026"])
    assert cs["2026年项目支出绩效目标表"] == 20 and cs["2026年部门整体支出绩效目标表"] == 21
    assert all(0 not in _numbers(real[n]).values() for n in NEEDED if n != "15-hz-qxj-2026")


# --- codes ---------------------------------------------------------------------------------


def _codes(doc: Document, number: int) -> list[str]:
    return [r.code for t in doc.tables if t.number == number for r in t.rows if r.code]


def test_code_columns_are_never_amounts(real: dict[str, Document]) -> None:
    # Changsha p.17: split 类/款/项 columns under 科目编码, a 款 row printing only its own digits
    cs = real["14-cs-xfj-2026"]
    assert _codes(cs, 5) == ["201", "20140", "2014001", "2014004"]
    t5 = next(t for t in cs.tables if t.number == 5)
    measures = {"".join(a.measure) for r in t5.rows for a in r.amounts}
    assert not any(m.endswith(("类", "款", "项")) or "编码" in m for m in measures)
    # Jiangsu p.5: the code column's header took the total row's 合计 (功能科目编码 / 合计)
    js = real["11-js-swbgt-2019"]
    assert _codes(js, 15)[:4] == ["201", "20131", "2013101", "2013102"]
    # Suzhou p.14: the page footer merged into the last code cell (2210203 苏州市审计局)
    suz = real["13-suz-sjj-2026"]
    assert _codes(suz, 15)[-1] == "2210203"
    coded = {n: sum(1 for t in real[n].tables for r in t.rows if r.code) for n in NEEDED}
    assert coded["11-js-swbgt-2019"] >= 104 and coded["13-suz-sjj-2026"] >= 115 and coded["14-cs-xfj-2026"] >= 41


def test_unit_codes_are_identifiers_not_classification_codes(real: dict[str, Document]) -> None:
    # Changsha p.30: 单位编码 126001 is the unit's number, neither an amount nor a 功能 code
    cs = next(t for t in real["14-cs-xfj-2026"].tables if t.number == 21)
    assert not any(r.code == "126001" for r in cs.rows)
    assert not any("单位编码" in a.measure for r in cs.rows for a in r.amounts)


# --- identity ------------------------------------------------------------------------------


def test_department_and_year_from_the_document(real: dict[str, Document]) -> None:
    found = {n: (d.department, d.year, d.kind, d.scope) for n, d in real.items()}
    assert found["11-js-swbgt-2019"] == ("中共江苏省委办公厅", 2019, "预算", "部门")  # no cover: 部门：… lines
    assert found["12-cn-gjxfj-2026"] == ("国家信访局", 2026, "预算", "部门")  # cover 国家信访局 2026 年度部门预算
    assert found["13-suz-sjj-2026"] == ("苏州市审计局", 2026, "预算", "部门")
    assert found["14-cs-xfj-2026"][:2] == ("长沙市信访局", 2026)
    assert found["08-sh-tjdsj-2026"][1:] == (2026, "预算", "单位")  # 上海市2026年市级单位预算


def test_a_document_naming_no_department_fails_clearly(real_pages: dict[str, tuple]) -> None:
    source, pages = real_pages["11-js-swbgt-2019"]

    def anonymous(page: PageText) -> PageText:
        lines = tuple(ln for ln in page.lines if "部门：" not in ln.text.replace(" ", ""))
        text = "\n".join(ln for ln in page.plain_text.splitlines() if "部门：" not in ln.replace(" ", ""))
        return replace(page, lines=lines, plain_text=text)

    with pytest.raises(InputError) as failure:
        document_from_pages(source, [anonymous(p) for p in pages])
    assert "department" in failure.value.reason and "not found" in failure.value.reason
    assert "\n" not in str(failure.value)


# --- mappings --------------------------------------------------------------------------------


def test_unknown_keys_are_rejected_naming_file_and_key(tmp_path: Path) -> None:
    mappings = _copy_mappings(tmp_path)
    kind_file = mappings / "tables" / "07-admin-and-three-public.toml"
    kind_file.write_text('layuot = "items"\n' + kind_file.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(MappingError, match=r"07-admin-and-three-public\.toml: unknown key 'layuot'"):
        load_mappings(mappings)
    mappings = _copy_mappings(tmp_path, "second")
    vocabulary = mappings / "vocabulary.toml"
    vocabulary.write_text(vocabulary.read_text(encoding="utf-8").replace("min_score =", "min_scor ="), encoding="utf-8")
    with pytest.raises(MappingError, match=r"vocabulary\.toml: \[scoring\] unknown key 'min_scor'"):
        load_mappings(mappings)


MADE_UP_KIND = """
kind = "three-public-variant"
number = 99
title = "“三公”经费情况表（试）"
title_en = "A made-up kind, declared by TOML alone"
titles = ["财政拨款安排的行政经费及[“\\"]?三公[”\\"]?经费预算表"]
layout = "items"

[evidence]
title_all = ["三公"]
header_any = ["公务接待费"]
"""


def test_a_layout_added_by_mapping_alone(tmp_path: Path, sample_pages: tuple) -> None:
    """Without the 三公 kind the sample's table 7 is listed as not recognised; a new kind file
    (nothing else) makes it a kind again, read row by row."""
    source, pages = sample_pages
    mappings = _copy_mappings(tmp_path)
    (mappings / "tables" / "07-admin-and-three-public.toml").unlink()
    without = document_from_pages(source, pages, load_mappings(mappings))
    unread = [t for t in without.tables if t.number == 0]
    assert len(unread) == 1 and "三公" in unread[0].title
    assert any("三公" in w and "no table kind fits" in w for w in without.warnings)

    mappings = _copy_mappings(tmp_path, "with-kind")
    (mappings / "tables" / "07-admin-and-three-public.toml").unlink()
    (mappings / "tables" / "99-three-public-variant.toml").write_text(MADE_UP_KIND, encoding="utf-8")
    with_kind = document_from_pages(source, pages, load_mappings(mappings))
    table = next(t for t in with_kind.tables if t.number == 99)
    assert table.kind == "three-public-variant" and table.title == unread[0].title
    assert [r.label for r in table.rows] == [r.label for r in unread[0].rows] and table.rows
    assert any(r.kind is RowKind.TOTAL or r.amounts for r in table.rows)
    assert not any("no table kind fits" in w for w in with_kind.warnings)


# --- structure -------------------------------------------------------------------------------


def _rows(doc: Document, number: int):
    return [r for t in doc.tables if t.number == number for r in t.rows]


def test_three_panes_of_a_two_sided_summary(real: dict[str, Document]) -> None:
    # Jiangsu p.1: 收入 | 支出 by 功能分类 | 支出 by 支出用途, each pane its names and amounts
    rows = {(r.side.value, r.label): r for r in _rows(real["11-js-swbgt-2019"], 1)}
    printed = {k: r.amounts[0].printed for k, r in rows.items() if r.amounts}
    assert printed["expenditure", "一、一般公共服务支出"] == "22,395.50"  # not 一、基本支出's 11,700.63
    assert printed["expenditure", "十八、住房保障支出"] == "3,894.09"
    assert printed["expenditure", "一、基本支出"] == "11,700.63"
    assert printed["expenditure", "二、项目支出"] == "13,025.38"
    # the side's total printed across both expenditure panes is read once
    assert [k for k in rows if k[1] == "支出合计"] == [("expenditure", "支出合计")]
    assert printed["expenditure", "支出合计"] == "27,664.22" and printed["income", "收入合计"] == "27,664.22"


def test_column_number_rows_are_never_data(real: dict[str, Document]) -> None:
    # Changsha and Hangzhou print 1 2 3 … (under ** or 栏次) below the header
    for name in ("14-cs-xfj-2026", "15-hz-qxj-2026", "13-suz-sjj-2026"):
        for table in real[name].tables:
            for row in table.rows:
                assert squash(row.label) not in {"**", "栏次"}, (name, table.title, row.label)
                assert not (row.amounts and [a.printed for a in row.amounts][:3] == ["1", "2", "3"]), (name, row)


def test_a_department_over_its_indented_units_restates_the_total(real: dict[str, Document]) -> None:
    # Hangzhou p.16: 合计, 杭州市气象局 (= 合计), then its units indented, itself among them
    rows = _rows(real["15-hz-qxj-2026"], 2)
    assert [(r.kind, r.label) for r in rows] == [
        (RowKind.TOTAL, "合计"),
        (RowKind.TOTAL, "杭州市气象局"),
        (RowKind.UNIT, "杭州市气象局"),
        (RowKind.UNIT, "杭州市气象服务中心（杭州市预警信息发布中心）"),
    ]


def test_unit_rows_by_indentation_not_by_name_or_wrapped_text(real_dir: Path) -> None:
    """Guangzhou 卫生健康委 p.40–45: hospitals are unit rows although 绩效目标 text wraps beside
    them; the repeated header (支出项目类别（资金使用单位）) over each page is no row."""
    path = real_dir / "06-gz-wjw-2026.pdf"
    if not path.exists():
        pytest.skip(f"{path} not found")
    pages = read_pages(path, [1, 31, *range(40, 46)])  # the cover, the table's title page, hospitals
    doc = document_from_pages(source_file(path, pages), pages)
    rows = _rows(doc, 12)
    kinds = {r.label: r.kind for r in rows}
    for hospital in ("广州血液中心", "广州市第一人民医院"):
        assert kinds[hospital] is RowKind.UNIT
    assert kinds["机构运行辅助经费"] is RowKind.PROJECT
    assert not any(r.label.startswith("支出项目类别") for r in rows)
    units = {r.label: r.unit for r in rows if r.kind is RowKind.PROJECT}
    assert units["医疗业务用房办公家具及设备购置"] == "广州市第一人民医院"
    assert {r.unit for r in rows if r.label == "医疗业务支出"} == {"广州市胸科医院"}


def test_code_name_cells_and_two_classifications_on_one_row() -> None:
    """Layouts not among the fifteen but printed elsewhere: a code joined to its name by a dash
    (2010801-行政运行), and a 功能 and an 经济 code column on one row — each code kept in its
    own classification, none read as an amount."""
    from budgetkg.model import RawRow, RawTable
    from budgetkg.reader import interpret

    mappings = load_mappings()
    dash = RawTable(
        title="一般公共预算支出表",
        header=(("科目",), ("合计",)),
        rows=tuple(
            RawRow(c, (1,))
            for c in (("合计", "10.00"), ("201-一般公共服务支出", "10.00"), ("2010801-行政运行", "10.00"))
        ),
        pages=(1,),
        currency_unit="万元",
        unit_name=None,
    )
    table = interpret(dash, mappings.by_kind("general-budget-functional"), mappings, "某局", {"某局"}, "万元")
    assert [(r.code, r.label) for r in table.rows] == [
        (None, "合计"),
        ("201", "一般公共服务支出"),
        ("2010801", "行政运行"),
    ]
    both = RawTable(
        title="项目支出表",
        header=(("功能科目编码",), ("经济科目编码",), ("项目名称",), ("金额",)),
        rows=(
            RawRow(("", "", "合计", "5.00"), (1,)),
            RawRow(("2010801", "30201", "办公经费", "5.00"), (1,)),
        ),
        pages=(1,),
        currency_unit="万元",
        unit_name=None,
    )
    table = interpret(both, mappings.by_kind("general-budget-functional"), mappings, "某局", {"某局"}, "万元")
    row = table.rows[1]
    assert row.code == "2010801" and ("经济科目编码", "30201") in row.texts
    assert [a.measure for a in row.amounts] == [("金额",)]


def test_the_units_level_takes_units_whatever_their_name(real_dir: Path) -> None:
    """Guangzhou 宣传部 p.18: 中共广州市委讲师团 (no organisation ending) is a unit among units,
    so 工资福利支出 below it is its category, not an item of 广州市国防教育中心."""
    path = real_dir / "03-gz-swxcb-2026.pdf"
    if not path.exists():
        pytest.skip(f"{path} not found")
    pages = read_pages(path, [1, 18])
    doc = document_from_pages(source_file(path, pages), pages)
    rows = _rows(doc, 11)
    units = [r.label for r in rows if r.kind is RowKind.UNIT]
    assert "中共广州市委讲师团" in units and len(units) == 4
    assert not any(r.kind is RowKind.ITEM for r in rows)


def test_a_project_carries_money(real: dict[str, Document]) -> None:
    # central government p.30–32: one 绩效目标表 per project; its 产出指标 lines are no projects
    rows = _rows(real["12-cn-gjxfj-2026"], 20)
    assert rows and not any(r.kind is RowKind.PROJECT and not any(not a.blank for a in r.amounts) for r in rows)
    assert not any(r.kind is RowKind.PROJECT and "指标" in r.label for r in rows)


TITLE_VARIANTS = {
    # wordings of other provinces' templates (numbering, owners, 预算/明细 suffixes), by title alone
    "附表1 2025年区级部门收支预算总表": 1,
    "表一 部门收入预算表": 2,
    "预算03表 部门支出预算表": 3,
    "财政拨款收支预算表": 4,
    "一般公共预算拨款支出预算表": 5,
    "一般公共预算基本支出经济分类表": 6,
    "2025年一般公共预算“三公”经费支出预算表": 7,
    "政府性基金预算支出预算表": 8,
    "国有资本经营预算支出表": 9,
    "一般公共预算财政拨款项目支出表": 10,
    "基本支出预算明细表": 11,
    "项目支出预算明细表": 12,
    "部门项目支出绩效目标表": 20,
    "部门整体绩效目标表": 21,
    "政府采购预算明细表": 19,
    "机关运行经费预算表": 18,
    "市本级部门预算公开目录": 0,
}


def test_title_variants_by_their_words() -> None:
    from budgetkg.kinds import recognise
    from budgetkg.model import RawTable

    mappings = load_mappings()
    found = {}
    for title in TITLE_VARIANTS:
        kind = recognise(RawTable(title, (), (), (1,), None, None), [], [], mappings).kind
        found[title] = kind.number if kind else 0
    assert found == TITLE_VARIANTS
    assert mappings.vocabulary.normalise("附表1 2025年区级部门收支预算总表") == "区级部门收支预算总表"
