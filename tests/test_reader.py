"""The reader against the published text: every amount, every project, prose, bad input."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE_PDF, SAMPLE_TXT
from truth import TruthLine, counter, parse_truth

from budgetkg.lines import HEADER, document_lines
from budgetkg.mapping import squash
from budgetkg.model import RowKind


def _got(doc) -> list[TruthLine]:
    return [
        TruthLine(int(r[1]), r[2], r[5], squash(r[6]), squash(r[7].replace(" / ", "")), r[8])
        for r in document_lines(doc)
    ]


def assert_matches_truth(doc) -> None:
    truth, projects = parse_truth(SAMPLE_TXT.read_text(encoding="utf-8"))
    expected, got = counter(truth), counter(_got(doc))
    assert sum(expected.values()) > 1000
    assert expected - got == {}, f"missing: {list((expected - got).items())[:10]}"
    assert got - expected == {}, f"extra: {list((got - expected).items())[:10]}"
    targets: dict[str, list[str]] = {}
    for table in doc.tables:
        for row in table.rows:
            for key, text in row.texts:
                if key == "绩效目标":
                    targets.setdefault(squash(row.label), []).append(squash(text))
    assert len(projects) >= 60
    for p in projects:
        assert p.target in targets.get(p.name, []), p.name


def test_every_amount_and_project_of_the_sample(sample_document) -> None:
    assert_matches_truth(sample_document)


def test_document_identity_and_tables(sample_document) -> None:
    doc = sample_document
    assert (doc.department, doc.year, doc.kind) == ("广州市政务服务数据管理局", 2023, "预算")
    assert [t.number for t in doc.tables] == list(range(1, 14))
    assert all(t.currency_unit == "万元" for t in doc.tables)
    assert len(doc.source.sha256) == 64 and doc.source.page_count == 65


def test_codes_levels_totals_units_and_sides(sample_document) -> None:
    tables = {t.number: t for t in sample_document.tables}
    t5 = tables[5]
    codes = {r.code for r in t5.rows if r.code}
    assert {"201", "20103", "2010301"} <= codes  # bracketed codes
    assert {"2010301", "2210203"} <= {r.code for r in tables[3].rows if r.code}  # own column
    assert t5.rows[0].kind is RowKind.TOTAL
    t1 = tables[1]
    sides = {r.side.value for r in t1.rows}
    assert sides == {"income", "expenditure"}
    assert any(r.kind is RowKind.TOTAL and squash(r.label) == "收入总计" for r in t1.rows)
    t11 = tables[11]
    units = [r.label for r in t11.rows if r.kind is RowKind.UNIT]
    assert units == [
        "广州市政务服务数据管理局",
        "广州市数字政府运营中心",
        "广州市政务服务中心",
        "广州市市长专线电话受理中心",
    ]
    cats = [r for r in t11.rows if r.kind is RowKind.CATEGORY]
    assert cats[0].label == "工资福利支出" and cats[0].unit == "广州市政务服务数据管理局"
    projects = [r for r in tables[12].rows if r.kind is RowKind.PROJECT]
    assert len(projects) == 60
    cut = next(r for r in projects if "穗智管”城市运行管理中枢" in r.label)
    assert cut.label.endswith("项目") and cut.pages == (29, 30)  # re-joined across the page break
    amounts = {a.measure: a.printed for a in cut.amounts}
    assert amounts[("财政拨款", "一般公共预算")] == "1088.57"


def test_prose(sample_document) -> None:
    prose = sample_document.prose
    assert len(prose.duties) == 10 and prose.duties[0].startswith("(一)")
    assert "政策法规处（公共资源交易管理处）" in prose.divisions and len(prose.divisions) == 9
    assert prose.subordinate_units == ("广州市市长专线电话受理中心", "广州市数字政府运营中心", "广州市政务服务中心")
    assert len(prose.explanations) == 6
    terms = [g.term for g in prose.glossary]
    assert terms[:2] == ["财政拨款收入", "事业收入"] and len(terms) == 10


def test_lines_csv(sample_build: Path) -> None:
    with (sample_build / "lines.csv").open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == HEADER
    assert len(rows) == 1 + 1113
    first = dict(zip(HEADER, rows[1], strict=True))
    assert first["table_no"] == "1" and first["amount"] == "49057.92" and first["currency_unit"] == "万元"
    assert any(r[5] == "2010301" and r[7] == "一般公共预算支出 / 小计" and r[8] == "3822.44" for r in rows)


# --- bad input -----------------------------------------------------------------------------


def _make_pdf(path: Path, *, encrypt: bool = False, text: str | None = None) -> Path:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), encrypt="secret" if encrypt else None, invariant=1)
    if text:
        c.drawString(72, 720, text)
    else:
        c.rect(72, 72, 300, 300, fill=1)  # an image-like page: no text layer
    c.showPage()
    c.save()
    return path


@pytest.fixture()
def bad_inputs(tmp_path: Path) -> dict[str, Path]:
    not_pdf = tmp_path / "notes.pdf"
    not_pdf.write_text("just text", encoding="utf-8")
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(SAMPLE_PDF.read_bytes()[:20000])
    return {
        "not a PDF": not_pdf,
        "encrypted": _make_pdf(tmp_path / "locked.pdf", encrypt=True, text="Budget 2023"),
        "damaged": damaged,
        "no text layer": _make_pdf(tmp_path / "scan.pdf"),
        "no recognisable budget table": _make_pdf(tmp_path / "letter.pdf", text="Dear reader, no tables here."),
    }


REASONS = {
    "not a PDF": "not a PDF",
    "encrypted": "encrypted",
    "damaged": "damaged",
    "no text layer": "no text layer",
    "no recognisable budget table": "no recognisable budget table",
}


def test_bad_inputs_are_one_clear_line_each_and_others_still_build(bad_inputs, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [str(p) for p in bad_inputs.values()] + [str(SAMPLE_PDF)]
    proc = subprocess.run(
        [sys.executable, "-m", "budgetkg.cli", "build", *args, "--out", str(out), "-q", "--no-validate"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    failed = [ln for ln in proc.stderr.splitlines() if ln.startswith("failed:")]
    assert len(failed) == len(bad_inputs)
    for case, path in bad_inputs.items():
        line = next(ln for ln in failed if path.name in ln)
        assert REASONS[case] in line, line
    with (out / "lines.csv").open(encoding="utf-8") as fh:
        assert sum(1 for _ in fh) == 1114  # the good document is still built


def test_failed_build_keeps_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "lines.csv").write_text("previous", encoding="utf-8")
    missing = tmp_path / "missing.pdf"
    proc = subprocess.run(
        [sys.executable, "-m", "budgetkg.cli", "build", str(missing), "--out", str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "missing.pdf" in proc.stderr


def test_a_misprinted_cell_is_a_warning_naming_page_and_row(tmp_path: Path) -> None:
    from test_render import rb

    from budgetkg.reader import read_document

    text = SAMPLE_TXT.read_text(encoding="utf-8").replace("[30201]办公费\t42.60", "[30201]办公费\t42.6O", 1)
    pdf = tmp_path / "misprint.pdf"
    rb.render(text, pdf)
    doc = read_document(pdf)
    table = next(t for t in doc.tables if t.number == 6)
    assert any("办公费" in w and "42.6O" in w and "page 18" in w for w in table.warnings), table.warnings
    assert len([r for r in table.rows if r.amounts]) == len(table.rows) - 1  # the rest is read
    assert next(r for r in table.rows if r.code == "30202").amounts[0].printed == "12.90"
