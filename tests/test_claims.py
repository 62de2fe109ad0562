"""The disclosure audit (budgetkg/claims.py, issue 14): claims of the 情况说明, completeness
against the template, coherence of year and unit.

Real parts only: the sample PDF (its session build), PDFs rendered from the sample's text with
falsified prose or a broken structure (scripts/render_budget_pdf.py), the shared real documents.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest
from conftest import BASE, SAMPLE_TXT, load_script

from budgetkg import claims
from budgetkg.build import BuildOptions, build
from budgetkg.model import Document
from budgetkg.reader import read_document

REAL = Path(os.environ.get("BUDGETKG_REAL_DOCS", Path(__file__).resolve().parents[2] / "shared" / "samples" / "real"))

#: Falsified figures of the 情况说明: (original, falsified). A rate, an amount, a part, a unit.
FALSIFIED = [
    ("增长11.4%", "增长13.4%"),  # the 三公 rate: 6.04 / (59 − 6.04) is 11.4 %
    ("收入预算49,057.92万元", "收入预算49,957.92万元"),  # the income: the table says 49057.92
    ("公务接待费 14.60 万元", "公务接待费 16.60 万元"),  # a part of 三公 (table 14.60)
    ("公务用车运行维护费 20.40 万元", "公务用车运行维护费 20.40 元"),  # a 万元/元 slip
]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _part_three(text: str) -> str:
    body = text[text.rindex("第三部分") :]
    return body[: body.index("第四部分")]


def _build_text(text: str, directory: Path) -> Path:
    rb = load_script("render_budget_pdf")
    pdf = directory / "gz-zwfwsjglj-2023-budget.pdf"
    rb.render(text, pdf)
    out = directory / "build"
    result = build([pdf], BuildOptions(out=out, base_uri=BASE, progress=False, jobs=1), echo=lambda m: None)
    assert not result.failures
    return out


@pytest.fixture(scope="module")
def falsified_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = SAMPLE_TXT.read_text(encoding="utf-8")
    for original, false in FALSIFIED:
        assert text.count(original) == 1, original
        text = text.replace(original, false)
    return _build_text(text, tmp_path_factory.mktemp("falsified"))


def _broken_text() -> str:
    """The sample with 支出总体情况表 removed (the contents still list it), the 三公 table
    emptied (its 注：无。 kept), 2022 in a part heading, the assets reported at the end of 2023 and
    another unit in a part heading."""
    text = SAMPLE_TXT.read_text(encoding="utf-8")
    body_at = text.index("第二部分 2023年部门预算表")
    start = text.index("\n支出总体情况表\n", body_at)
    end = text.index("\n财政拨款收支总体情况表\n", start)
    text = text[:start] + text[end:]
    start = text.index("\n财政拨款安排的行政经费及“三公”经费预算表\n", body_at)
    end = text.index("\n政府性基金预算支出情况表\n", start)
    text = text[:start] + re.sub(r"\d+\.\d\d", "0.00", text[start:end]) + text[end:]
    text = text.replace("第二部分 2023年部门预算表", "第二部分 2022年部门预算表")
    text = text.replace("截至 2022 年 12 月 31 日", "截至 2023 年 12 月 31 日")  # a 2023 budget reports end 2022
    return text.replace("第一部分 广州市政务服务数据管理局概况", "第一部分 广州市信访局概况")


@pytest.fixture(scope="module")
def broken_document(tmp_path_factory: pytest.TempPathFactory) -> Document:
    rb = load_script("render_budget_pdf")
    pdf = tmp_path_factory.mktemp("broken") / "gz-zwfwsjglj-2023-budget.pdf"
    rb.render(_broken_text(), pdf)
    return read_document(pdf)


# --- the sample ---------------------------------------------------------------------------


def test_every_figure_of_part_three_is_in_claims_csv_and_none_is_inconsistent(sample_build: Path) -> None:
    rows = [r for r in _rows(sample_build / "claims.csv") if r["document"] == "gz-zwfwsjglj-2023-budget.pdf"]
    assert rows and set(rows[0]) == set(claims.CLAIMS_CSV_COLUMNS)
    printed = [r["printed"] for r in rows]
    part_three = _part_three(SAMPLE_TXT.read_text(encoding="utf-8"))
    figures = [m.group(1) + m.group(2) for m in claims.FIGURE.finditer(part_three)]
    assert len(figures) >= 30
    missing = [f for f in figures if not any(p.endswith(f) for p in printed)]
    assert not missing, missing
    assert not [r for r in rows if r["status"] == "inconsistent"]
    consistent = {(r["subject"], r["kind"]) for r in rows if r["status"] == "consistent"}
    assert {("“三公”经费", "amount"), ("“三公”经费", "rate"), ("“三公”经费", "parts"), ("机关运行经费", "amount"),
            ("政府采购", "parts"), ("收入预算", "amount"), ("公务接待费", "rate")} <= consistent


def test_the_sample_has_no_audit_finding(sample_document: Document, sample_build: Path) -> None:
    assert claims.audit_issues(sample_document) == []
    report = (sample_build / "validation" / "report.ttl").read_text(encoding="utf-8")
    assert not re.search(r"ClaimAgrees|DisclosureComplete|DisclosureCoherent", report)


def test_empty_tables_with_their_note_carry_it_in_the_graph(sample_build: Path) -> None:
    dump = (sample_build / "dumps" / "budgetkg.nt.gz").read_bytes()
    import gzip

    lines = [ln for ln in gzip.decompress(dump).decode().splitlines() if "emptyTableNote> \"" in ln]
    assert len(lines) == 2 and all("本表本年无发生额" in ln for ln in lines)


def test_an_empty_table_with_its_note_needs_no_total_row(sample_document: Document) -> None:
    import dataclasses

    from budgetkg.graph import GraphBuilder
    from budgetkg.validation import validate_datasets

    tables = tuple(
        dataclasses.replace(t, rows=tuple(r for r in t.rows if r.kind.value != "total")) if t.number == 8 else t
        for t in sample_document.tables
    )
    doc = dataclasses.replace(sample_document, tables=tables)
    assert claims.empty_table_note(doc, tables[7]) == "注：本表本年无发生额。"
    builder = GraphBuilder(BASE)
    findings = validate_datasets(builder.build([doc]), builder).findings
    assert not [f for f in findings if f.shape.endswith("TableHasTotal") and "政府性基金" in f.message]


# --- falsified prose ----------------------------------------------------------------------


def test_falsified_prose_reports_exactly_the_falsified_figures(falsified_build: Path) -> None:
    rows = _rows(falsified_build / "claims.csv")
    bad = [r for r in rows if r["status"] == "inconsistent"]
    falsified = [re.sub(r"\s|[^\d.,%]", "", f) for _, f in FALSIFIED]  # 13.4%, 49,957.92, 16.60, 20.40
    for row in bad:  # every alarm names a falsified figure, as printed or in what it was compared with
        said = re.sub(r"\s", "", row["printed"] + row["compared_with"])
        assert any(f.rstrip("%") in said for f in falsified), row
    for f in falsified:  # and every falsified figure is reported
        assert any(re.sub(r"[^\d.,%]", "", r["printed"]) == f or f in r["compared_with"] for r in bad), f
    assert {(r["subject"], r["kind"]) for r in bad} == {
        ("“三公”经费", "rate"),
        ("收入预算", "amount"),
        ("公务接待费", "amount"),
        ("公务接待费", "rate"),
        ("“三公”经费", "parts"),
        ("公务用车运行维护费", "unit"),
    }
    report = (falsified_build / "validation" / "report.ttl").read_text(encoding="utf-8")
    assert len(re.findall(r"shapes#ClaimAgrees>|bks:ClaimAgrees\b", report)) == len(bad)


# --- completeness and coherence -----------------------------------------------------------


def test_a_broken_structure_reports_each_of_the_four(broken_document: Document) -> None:
    issues = claims.audit_issues(broken_document)
    by_kind = {i.kind: i.message for i in issues}
    assert set(by_kind) == {"missing-table", "listed-not-printed", "empty-without-note", "year", "unit-name"}, issues
    assert "支出总表" in by_kind["missing-table"]
    assert "支出总体情况表" in by_kind["listed-not-printed"]
    assert "三公" in by_kind["empty-without-note"]
    years = [i.message for i in issues if i.kind == "year"]
    assert len(years) == 2 and "2022" in years[0] and "截至2023年12月31日" in years[1]
    assert "广州市信访局" in by_kind["unit-name"]
    assert len(issues) == 6
    # the prose still says 59万元 for the emptied 三公 table: an amount that disagrees, not a 万元/元 slip
    bad = {(c.subject, c.kind) for c in claims.check_claims(broken_document) if c.status == "inconsistent"}
    assert ("“三公”经费", "amount") in bad and not [k for _, k in bad if k == "unit"]


def test_a_template_placeholder_is_reported(sample_document: Document) -> None:
    import dataclasses

    from budgetkg.model import PageLine

    heading = PageLine(3, "第一部分 XX局概况")
    prose = dataclasses.replace(sample_document.prose, headings=(*sample_document.prose.headings, heading))
    issues = claims.coherence(dataclasses.replace(sample_document, prose=prose))
    assert [i.kind for i in issues] == ["placeholder"] and "XX" in issues[0].message


def test_a_budget_reports_the_assets_at_the_end_of_the_year_before(sample_document: Document) -> None:
    """截至 2022年12月31日 is right in a 2023 budget; a 决算 names its own year."""
    assert claims.template_for(sample_document).as_of_offset == -1
    assert claims.load_templates().kinds["部门决算"].as_of_offset == 0


def test_claims_parse_brackets_changes_and_rates() -> None:
    from budgetkg.model import PageLine

    text = (
        "公务用车购置及运行费 20.40 万元（公务用车购置费 0 万元，比上年增加 0 万元；"
        "公务用车运行维护费 20.40 万元）比上年减少 1.5 万元，下降 6.8%"
    )
    parsed = claims.parse_claims([PageLine(3, text)])
    outer = parsed[0]
    assert outer.subject is not None and outer.subject.key == "vehicles"
    assert outer.change is not None and outer.change.value == -1.5
    assert outer.rate is not None and str(outer.rate.value) == "-6.8"
    assert [c.subject.key for c in parsed if c.subject] == ["vehicles", "vehicle-purchase", "vehicle-operation"]


# --- real documents -----------------------------------------------------------------------


def _real(name: str) -> Path:
    path = REAL / name
    if not path.exists():
        pytest.skip(f"real documents not found ({REAL}; set BUDGETKG_REAL_DOCS)")
    return path


#: Findings on the real documents, each confirmed on its page.
CONFIRMED = {
    # pages 15 and 16 print the empty 政府性基金 / 国有资本经营 tables with no 说明 at all
    "08-sh-tjdsj-2026.pdf": [("empty-without-note", 15), ("empty-without-note", 16)],
}


@pytest.mark.parametrize(
    "name",
    [
        "02-gz-xfj-2026.pdf",
        "07-sz-tjj-2026.pdf",
        "08-sh-tjdsj-2026.pdf",
        "10-sh-pt-czj-2024-js.pdf",
        "13-suz-sjj-2026.pdf",
        "15-hz-qxj-2026.pdf",
    ],
)
def test_real_documents_raise_no_false_alarm(name: str) -> None:
    """02: a Guangzhou budget whose prose agrees with its tables; 07: Shenzhen, whose 三公 table
    prints 2025年 beside 2026年 (the stated change is checked against it); 08: a Shanghai 单位预算
    (三公 by column); 10: a Shanghai 决算 whose empty 政府性基金 / 国有资本经营 tables carry their 说明 (no
    finding, the note is recognised); 13: Suzhou, whose prose states each 类; 15: Hangzhou, whose
    contents list the group of tables as “2026 年杭州市气象局预算公开表”."""
    doc = read_document(_real(name))
    checks = claims.check_claims(doc)
    assert [c for c in checks if c.status == "inconsistent"] == []
    assert [(i.kind, i.page) for i in claims.audit_issues(doc)] == CONFIRMED.get(name, [])
    consistent = {(c.subject, c.kind) for c in checks if c.status == "consistent"}
    if name.startswith("10"):
        empty = [t for t in doc.tables if t.kind in ("government-fund", "state-capital")]
        assert len(empty) == 2 and all(claims.empty_table_note(doc, t) for t in empty)
    elif name.startswith("02"):
        assert len(consistent) >= 12
    elif name.startswith("07"):
        assert {("“三公”经费", "amount"), ("“三公”经费", "change"), ("公务用车运行维护费", "change")} <= consistent
    elif name.startswith("08"):
        assert {("“三公”经费", "amount"), ("公务用车购置费", "amount"), ("“三公”经费", "parts")} <= consistent
    elif name.startswith("13"):
        assert {("一般公共服务支出（类）", "amount"), ("住房保障支出（类）", "amount")} <= consistent
    else:
        assert {("“三公”经费", "amount"), ("公务接待费", "amount")} <= consistent


# --- against the previous year's document ---------------------------------------------------


def _previous_year_text() -> str:
    """The sample as the 2022 budget it compares itself with: the figures the 2023 prose implies
    (三公 59 − 6.04, 接待 14.60 − 6.04, 机关运行 6553.58 + 3124.11, 收入/支出总计 49057.92 − 1392.35),
    except 因公出国（境）费, printed 20.00 where the 2023 prose says “比上年增加0万元” (24 − 20 = 4)."""
    text = SAMPLE_TXT.read_text(encoding="utf-8").replace("2023", "2022")
    for label, old, new in [
        ("“三公”经费", "59.00", "52.96"),
        ("其中：（一）因公出国（境）支出", "24.00", "20.00"),
        ("（三）公务接待费支出", "14.60", "8.56"),
        ("行政经费", "6553.58", "9677.69"),
        ("收入总计", "49057.92", "47665.57"),
    ]:
        line = re.compile(rf"^{re.escape(label)}\t.*$", re.M)
        assert line.search(text), label
        text = line.sub(lambda m, old=old, new=new: m.group(0).replace(old, new), text)
    return text


def test_changes_are_checked_against_the_previous_years_document(
    sample_document: Document, tmp_path: Path
) -> None:
    from budgetkg.mapping import load_mappings

    rb = load_script("render_budget_pdf")
    pdf = tmp_path / "gz-zwfwsjglj-2022-budget.pdf"
    rb.render(_previous_year_text(), pdf)
    previous = read_document(pdf)
    assert previous.year == 2022 and previous.department == sample_document.department
    org_key = load_mappings().org_key
    assert claims.previous_documents([sample_document, previous], org_key) == {id(sample_document): previous}
    out = tmp_path / "claims.csv"
    claims.write_claims_csv([previous, sample_document], out, org_key)
    changes = [r for r in _rows(out) if r["document"] == sample_document.source.name and r["kind"] == "change"]
    by_status: dict[str, set[str]] = {}
    for r in changes:
        by_status.setdefault(r["status"], set()).add(r["subject"])
    assert by_status["inconsistent"] == {"因公出国（境）费"}
    expected = {"“三公”经费", "公务接待费", "机关运行经费", "收入预算", "支出预算", "公务用车购置及运行费"}
    assert expected <= by_status["consistent"]
    bad = next(r for r in changes if r["status"] == "inconsistent")
    assert (bad["printed"], bad["expected"]) == ("增加0万元", "4.00万元")
    assert "gz-zwfwsjglj-2022" in bad["compared_with"]
    yoy = tmp_path / "year-over-year.csv"
    assert claims.write_year_over_year_csv([previous, sample_document], yoy, org_key) > 10
    view = {r["item"]: r for r in _rows(yoy)}
    assert set(view) >= {"一般公共服务支出（类）", "住房保障支出（类）", "“三公”经费", "公务接待费", "机关运行经费"}
    assert all(r["document"] == sample_document.source.name for r in view.values())
    three = view["“三公”经费"]
    assert (three["this_year"], three["last_year"], three["change"]) == ("59.00", "52.96", "6.04")
    assert (three["stated_change"], three["status"]) == ("增加6.04万元", "consistent")
    assert (view["因公出国（境）费"]["change"], view["因公出国（境）费"]["status"]) == ("4.00", "inconsistent")
    assert view["一般公共服务支出（类）"]["change"] == "0.00" and view["一般公共服务支出（类）"]["stated_change"] == ""


def test_the_budget_page_marks_the_figures_of_the_prose(sample_build: Path, sample_server) -> None:  # noqa: ANN001
    import json
    from urllib.parse import quote

    budget = json.loads((sample_build / "build.json").read_text(encoding="utf-8"))["documents"][0]["budget"]
    path = "/" + quote(budget.removeprefix(BASE), safe="/:~%")
    reply = sample_server.request("GET", path, headers={"Accept": "text/html"})
    assert reply.status == 200
    assert '<mark class="claim-consistent"' in reply.text and "claim-inconsistent" not in reply.text
    assert "11.4</mark>" in reply.text and "6,553.58</mark>" in reply.text


def test_cover_and_table_titles_must_name_the_department(sample_document: Document) -> None:
    import dataclasses

    from budgetkg.model import PageLine

    extra = (PageLine(1, "广州市信访局 部门预算"), PageLine(6, "广州市信访局收支总体情况表"))
    prose = dataclasses.replace(sample_document.prose, headings=(*sample_document.prose.headings, *extra))
    issues = claims.coherence(dataclasses.replace(sample_document, prose=prose))
    assert [(i.kind, i.page) for i in issues] == [("unit-name", 1), ("unit-name", 6)]
    assert all("广州市信访局" in i.message for i in issues)


def test_a_final_accounts_completion_rate_is_recomputed(sample_document: Document) -> None:
    """完成预算的 Z% = 决算 / 预算 × 100 within rounding; a rate against a zero budget is wrong."""
    import dataclasses

    from budgetkg.model import PageLine

    sentences = (
        PageLine(20, "“三公”经费财政拨款支出年初预算为 20.50 万元，支出决算为 18.30 万元，完成年初预算的 89.3%。"),
        PageLine(21, "行政运行（项）。年初预算为 1,560.05 万元，支出决算为 1,511.89 万元，完成预算的 98.9%。"),
        PageLine(22, "年初预算为0万元，支出决算为307.82万元，完成年初预算的95.89%。"),
    )
    doc = dataclasses.replace(sample_document, prose=dataclasses.replace(sample_document.prose, sentences=sentences))
    done = [c for c in claims.check_claims(doc) if c.kind == "completion"]
    assert [(c.page, c.subject, c.status) for c in done] == [
        (20, "“三公”经费", "consistent"),
        (21, "", "inconsistent"),  # 1511.89 / 1560.05 is 96.9 %
        (22, "", "inconsistent"),
    ]
    assert done[1].expected == "96.91%"
