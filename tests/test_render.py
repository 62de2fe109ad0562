"""The synthetic-PDF tooling: scripts/render_budget_pdf.py and scripts/make_corpus.py.

Renders the seed text in every ruling style and checks what a parser will rely on (titles,
rules or their absence, every printed amount, orientation, determinism); then generates a small
corpus and checks its ground truth adds up and is reproducible byte for byte.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import load_script

pytest.importorskip("reportlab")
pdfplumber = pytest.importorskip("pdfplumber")

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "gz-zwfwsjglj-2023-budget.txt"



rb = load_script("render_budget_pdf")
mc = load_script("make_corpus")

if not any(Path(f).exists() for f in (rb.WQY_ZENHEI, rb.AR_PL_UMING)):
    pytest.skip("no CJK TrueType font (apt-get install fonts-wqy-zenhei)", allow_module_level=True)

TEXT = FIXTURE.read_text(encoding="utf-8")
ELEMENTS = rb.parse(TEXT)
TABLES = [e for e in ELEMENTS if isinstance(e, rb.Table)]


@dataclass
class Extracted:
    """What pdfplumber sees, read once per rendered file."""

    path: Path
    info: Any  # render_budget_pdf.RenderInfo (module loaded by path)
    texts: list[str]
    sizes: list[tuple[float, float]]
    vertical: int
    horizontal: int
    other_graphics: int  # rects + curves


def _extract(path: Path, info: Any) -> Extracted:
    texts, sizes = [], []
    vertical = horizontal = other = 0
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            texts.append(page.extract_text() or "")
            sizes.append((float(page.width), float(page.height)))
            for ln in page.lines:
                if abs(ln["x0"] - ln["x1"]) < 0.01:
                    vertical += 1
                else:
                    horizontal += 1
            other += len(page.rects) + len(page.curves)
    return Extracted(path, info, texts, sizes, vertical, horizontal, other)


STYLES = {
    "grid": {"rules": "grid"},
    "hrules": {"rules": "hrules", "font": rb.AR_PL_UMING},
    "none": {"rules": "none", "orientation": "landscape"},
    "booktabs-portrait-reflow": {
        "rules": "booktabs",
        "orientation": "portrait",
        "paginate": "reflow",
    },
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Extracted]:
    out = tmp_path_factory.mktemp("render")
    result = {}
    for name, opts in STYLES.items():
        path = out / f"{name}.pdf"
        info = rb.render(TEXT, path, **opts)
        result[name] = _extract(path, info)
    return result


def test_parse_finds_the_twelve_tables_and_their_pages() -> None:
    titles = [rb.squash(t.title) for t in TABLES]
    assert titles == [rb.squash(t) for t in mc.TABLE_TITLES]
    by_title = {rb.squash(t.title): t for t in TABLES}
    assert len(by_title["部门预算项目支出及其他支出预算表"].chunks) == 34
    assert by_title["收入总体情况表"].header_n == 2
    assert TABLES[0].label == "表 1"
    inline = [e for e in ELEMENTS if isinstance(e, rb.InlineTable)]
    assert len(inline) == 1 and len(inline[0].rows) == 6  # the split row was re-joined
    assert inline[0].rows[2][2].endswith("保障系统安全稳定运行。")


def test_header_spans_follow_the_tab_layout() -> None:
    header = [
        ["支出项目类别(资金使用单位)", "总 计", "财政拨款", "", "", "", "财政专户拨款", "其他资金"],
        ["", "", "合计", "一般公共预算", "政府性基金预算", "国有资本经营预算", "", ""],
    ]
    spans, _ = rb.header_spans(header)
    got = {s.text: (s.r0, s.r1, s.c0, s.c1) for s in spans}
    assert got["财政拨款"] == (0, 0, 2, 5)  # parent over its four children
    assert got["支出项目类别(资金使用单位)"] == (0, 1, 0, 0)  # spans both header rows
    assert got["其他资金"] == (0, 1, 7, 7)


@pytest.mark.parametrize("style", list(STYLES))
def test_pdf_has_every_table_title_on_its_pages(rendered: dict[str, Extracted], style: str) -> None:
    ex = rendered[style]
    assert ex.texts, "no pages"
    for t in TABLES:
        title = rb.squash(t.title)
        pages = sum(1 for text in ex.texts if title in [rb.squash(x) for x in text.splitlines()])
        assert pages == ex.info.table_pages[title]
        if style.endswith("reflow"):
            assert pages >= 1
        else:  # every source page keeps its own page (more if a page overflowed)
            assert pages >= len(t.chunks), title
    assert sum(ex.info.table_pages.values()) >= 12


def test_rules_per_style(rendered: dict[str, Extracted]) -> None:
    grid, hrules = rendered["grid"], rendered["hrules"]
    assert grid.vertical > 100 and grid.horizontal > 100
    assert hrules.vertical == 0 and hrules.horizontal > 100
    assert rendered["booktabs-portrait-reflow"].vertical == 0
    none = rendered["none"]
    assert none.vertical == none.horizontal == none.other_graphics == 0
    assert grid.other_graphics == hrules.other_graphics == 0  # rules are plain line segments


@pytest.mark.parametrize("style", list(STYLES))
def test_every_amount_of_the_text_is_printed(rendered: dict[str, Extracted], style: str) -> None:
    amounts = {
        cell
        for line in TEXT.splitlines()
        if "\t" in line
        for cell in (c.strip() for c in line.split("\t"))
        if rb.is_amount(cell)
    }
    assert len(amounts) > 150
    tokens = {tok for text in rendered[style].texts for tok in text.split()}
    missing = sorted(amounts - tokens)
    assert not missing, missing[:10]


def _first_page(ex: Extracted, title: str) -> int:
    return next(
        i for i, text in enumerate(ex.texts) if title in [rb.squash(x) for x in text.splitlines()]
    )


def test_orientation(rendered: dict[str, Extracted]) -> None:
    auto = rendered["grid"]
    w, h = auto.sizes[_first_page(auto, "收入总体情况表")]
    assert w > h  # 14 columns: landscape, like the published document
    w, h = auto.sizes[_first_page(auto, "收支总体情况表")]
    assert w < h
    assert all(w < h for w, h in rendered["booktabs-portrait-reflow"].sizes)
    landscape = rendered["none"]
    for t in TABLES:
        w, h = landscape.sizes[_first_page(landscape, rb.squash(t.title))]
        assert w > h
    assert landscape.sizes[0][0] < landscape.sizes[0][1]  # prose pages stay portrait


def test_page_footer_and_cover(rendered: dict[str, Extracted]) -> None:
    texts = rendered["grid"].texts
    assert "- " not in texts[0]  # the cover has no page number
    for n, text in enumerate(texts[1:], start=2):
        assert text.splitlines()[-1].strip() == f"- {n} -"


def test_same_input_gives_identical_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    rb.render(TEXT, a, rules="hrules", orientation="portrait")
    rb.render(TEXT, b, rules="hrules", orientation="portrait")
    assert a.read_bytes() == b.read_bytes()


def test_a_tall_row_continues_on_the_next_page(tmp_path: Path) -> None:
    goal = "".join(f"第{i}项绩效目标按期完成并通过验收。" for i in range(1, 160)) + "终点标记"
    text = "\n\n".join(
        [
            "部门预算项目支出及其他支出预算表",
            "单位名称：测试局",
            "单位：万元",
            "支出项目类别\t总 计\t绩效目标\n合 计\t12.34\t\n测试项目\t12.34\t" + goal,
        ]
    )
    path = tmp_path / "tall.pdf"
    info = rb.render(text, path, rules="grid", orientation="portrait")
    assert info.pages >= 2
    with pdfplumber.open(path) as pdf:
        first, last = pdf.pages[0].extract_text(), pdf.pages[-1].extract_text()
    assert "第1项" in first and "12.34" in first
    assert "终点标记" in rb.squash(last) and "12.34" not in last  # only the rest of the cell
    assert "测试局" in last and "绩效目标" in last  # title block and header repeated


def test_cff_font_falls_back_with_a_warning(tmp_path: Path) -> None:
    if not Path(rb.NOTO_SANS_CJK).exists() or not Path(rb.AR_PL_UMING).exists():
        pytest.skip("needs fonts-noto-cjk and fonts-arphic-uming")
    with pytest.warns(UserWarning, match="postscript outlines"):
        info = rb.render(
            "表题\n\n单位名称：x\n\n单位：万元\n\n项目\t预算\n合计\t1.00\n",
            tmp_path / "x.pdf",
            font=rb.NOTO_SANS_CJK,
        )
    assert info.font == rb.AR_PL_UMING


# --- corpus -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict]]:
    a, b = tmp_path_factory.mktemp("corpus-a"), tmp_path_factory.mktemp("corpus-b")
    summaries = mc.generate_corpus(a, departments=3, years=[2024], seed=11, inject_rate=0.01)
    mc.generate_corpus(b, departments=3, years=[2024], seed=11, inject_rate=0.01)
    return a, b, summaries


def test_corpus_is_byte_identical_across_runs(corpus: tuple[Path, Path, list[dict]]) -> None:
    a, b, summaries = corpus
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert len([n for n in names if n.endswith(".pdf")]) == len(summaries) == 3
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), n


def test_corpus_styles_cycle(corpus: tuple[Path, Path, list[dict]]) -> None:
    _, _, summaries = corpus
    assert sorted(s["rules"] for s in summaries) == ["grid", "hrules", "none"]


def test_corpus_truth_adds_up(corpus: tuple[Path, Path, list[dict]]) -> None:
    a, _, _ = corpus
    injected = 0
    for path in sorted(a.glob("*.truth.json")):
        truth = json.loads(path.read_text(encoding="utf-8"))
        assert truth["department"] and truth["year"] == 2024
        lines = truth["lines"]
        assert {ln["table_no"] for ln in lines} == set(range(1, 14))
        assert all(re.fullmatch(r"\d+(\.\d\d)?", ln["amount"]) for ln in lines)
        clean = mc.revert_errors(lines, truth["errors"])
        assert mc.arithmetic_errors(clean) == [], path.name
        if truth["errors"]:
            injected += len(truth["errors"])
            assert mc.arithmetic_errors(lines), "injected errors went unnoticed"
            assert sum(1 for ln in lines if ln.get("injected")) == len(truth["errors"])
        # every expected amount is printed in the document text
        text = (a / path.name.replace(".truth.json", ".txt")).read_text(encoding="utf-8")
        cells = {c for row in text.splitlines() if "\t" in row for c in row.split("\t")}
        assert {ln["amount"] for ln in lines} <= cells
    assert injected > 0


def test_corpus_text_renders_every_amount(corpus: tuple[Path, Path, list[dict]]) -> None:
    a, _, _ = corpus
    path = sorted(a.glob("*.truth.json"))[0]
    truth = json.loads(path.read_text(encoding="utf-8"))
    with pdfplumber.open(a / path.name.replace(".truth.json", ".pdf")) as pdf:
        tokens = {tok for page in pdf.pages for tok in (page.extract_text() or "").split()}
    missing = {ln["amount"] for ln in truth["lines"]} - tokens
    assert not missing, sorted(missing)[:10]


def test_corpus_truth_agrees_with_the_text_truth_reader(
    corpus: tuple[Path, Path, list[dict]],
) -> None:
    """tests/truth.py reads expected lines from a budget text on its own; on generated texts it
    must find exactly the lines the generator recorded (same code/item/measure/amount keys)."""
    try:
        from truth import counter, parse_truth
    except ImportError as exc:  # the reader's mappings are not importable in this checkout
        pytest.skip(f"tests/truth.py unavailable: {exc}")
    a, _, _ = corpus
    for path in sorted(a.glob("*.truth.json")):
        truth = json.loads(path.read_text(encoding="utf-8"))
        text = (a / path.name.replace(".truth.json", ".txt")).read_text(encoding="utf-8")
        expected = Counter(
            (ln["table_no"], ln["code"], ln["item"], ln["measure"], ln["amount"])
            for ln in truth["lines"]
        )
        assert counter(parse_truth(text)[0]) == expected, path.name
