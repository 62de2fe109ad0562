"""The geometry stage (pdf.py words, tables/ columns and rows, mappings/layout.toml) on real
pages: each heuristic on the page of the document that needed it (issue 11).

Only the pages needed are read (read_pages with page numbers), so the file runs in seconds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from budgetkg.cli import main
from budgetkg.layout import LayoutError, load_layout, parse_layout
from budgetkg.mapping import load_mappings
from budgetkg.model import RawTable
from budgetkg.pdf import read_pages
from budgetkg.tables import find_tables


def tables_of(folder: Path, name: str, pages: list[int], **settings: object) -> list[RawTable]:
    layout = dataclasses.replace(load_layout(), **settings) if settings else load_layout()
    return find_tables(read_pages(folder / f"{name}.pdf", pages), load_mappings(), layout)


def only(tables: list[RawTable], title_part: str) -> RawTable:
    found = [t for t in tables if title_part in t.title]
    assert len(found) == 1, [t.title for t in tables]
    return found[0]


# --- settings ------------------------------------------------------------------------------


def test_layout_settings_load_and_reject_unknown_keys() -> None:
    settings = load_layout()
    assert settings.column_strategy == "auto"
    assert "栏次" in settings.row_column_number_markers
    data = {"words": {"x_tolerance": 2.0}, "columns": {"strategy": "auto"}}
    with pytest.raises(LayoutError, match="missing setting"):
        parse_layout(data)
    full = tomllib_text()
    full["columns"]["stratgey"] = "rules"
    with pytest.raises(LayoutError, match=r"unknown setting columns\.stratgey"):
        parse_layout(full)
    full = tomllib_text()
    full["rows"]["wrap_gap"] = "wide"
    with pytest.raises(LayoutError, match=r"rows\.wrap_gap: 'wide' is not a float"):
        parse_layout(full)
    full = tomllib_text()
    full["columns"]["strategy"] = "guess"
    with pytest.raises(LayoutError, match="is not one of auto, rules, gutters"):
        parse_layout(full)


def tomllib_text() -> dict:
    import tomllib

    from budgetkg.layout import LAYOUT_FILE

    return tomllib.loads(LAYOUT_FILE.read_text(encoding="utf-8"))


# --- words from characters -----------------------------------------------------------------


def test_amount_against_a_rule_is_its_own_word(real_docs_dir: Path) -> None:
    """12-cn-gjxfj p.5: `16,474.82一、一般公共服务支出` was one word across the cell border."""
    table = only(tables_of(real_docs_dir, "12-cn-gjxfj-2026", [5]), "收支总表")
    first = table.rows[0].cells
    assert first == ("一、一般公共预算拨款收入", "16,474.82", "一、一般公共服务支出", "47,179.30")
    assert not any("16,474.82一" in c for r in table.rows for c in r.cells)


def test_other_funds_beside_wrapped_performance_text(real_docs_dir: Path) -> None:
    """01-gz-zwfwsjglj p.21: 其他资金 `0.00` touched the wrapped 绩效目标 text and was lost."""
    table = only(tables_of(real_docs_dir, "01-gz-zwfwsjglj-2026", [21]), "项目")
    other = next(i for i, path in enumerate(table.header) if path[-1] == "其他资金")
    rows = [r for r in table.rows if r.cells[1]]
    assert rows and all(r.cells[other] == "0.00" for r in rows)
    assert not any("0.00" in r.cells[-1] for r in rows)  # nor in the performance text


def test_rotated_pages_read_as_upright(real_docs_dir: Path, tmp_path: Path) -> None:
    """Any /Rotate (and sideways text) is turned back: the tables read the same."""
    import pypdfium2

    source = real_docs_dir / "02-gz-xfj-2026.pdf"
    pages = [5, 6, 7, 8]
    upright = find_tables(read_pages(source, pages), load_mappings())
    for turn in (90, 180, 270):
        pdf = pypdfium2.PdfDocument(str(source))
        for n in pages:
            pdf[n - 1].set_rotation((pdf[n - 1].get_rotation() + turn) % 360)
        target = tmp_path / f"turned-{turn}.pdf"
        pdf.save(str(target))
        pdf.close()
        read = read_pages(target, pages)
        assert all(p.rotation for p in read)
        turned = find_tables(read, load_mappings())
        assert [(t.title, t.header, [r.cells for r in t.rows]) for t in turned] == [
            (t.title, t.header, [r.cells for r in t.rows]) for t in upright
        ]


def test_bold_cells(real_docs_dir: Path) -> None:
    """13-suz-sjj p.9 sets the totals of its 收支总表 in FangSong,Bold, the items in FangSong."""
    table = only(tables_of(real_docs_dir, "13-suz-sjj-2026", [9]), "收支总表")
    bold = {r.cells[0].strip() for r in table.rows if r.bold and r.bold[0]}
    assert "收入总计" in bold and "本年收入合计" in bold
    assert all(len(r.bold) == len(r.cells) == len(r.indents) for r in table.rows)


# --- header and rows -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "page", "title"), [("14-cs-xfj-2026", 13, "收入"), ("15-hz-qxj-2026", 16, "收入")])
def test_column_number_line_is_no_row(real_docs_dir: Path, name: str, page: int, title: str) -> None:
    """14-cs-xfj and 15-hz-qxj number their columns (`** 1 2 3 …`) under the header."""
    table = only(tables_of(real_docs_dir, name, [page]), title)
    assert table.column_numbers[-3:] == ("7", "8", "9") or table.column_numbers[-1].isdigit()
    assert all("**" not in "".join(path) for path in table.header)
    assert squash_first(table) in {"合计", "总计"}
    assert any("column-number line" in t for t in table.trace)


def squash_first(table: RawTable) -> str:
    return next(c.strip() for c in table.rows[0].cells if c.strip())


def test_repeated_header_wrapped_otherwise(real_docs_dir: Path) -> None:
    """06-gz-wjw p.113 repeats the header of p.31 with 支出项目类别（资金使用单位） wrapped elsewhere."""
    table = only(tables_of(real_docs_dir, "06-gz-wjw-2026", [31, 113]), "项目支出")
    assert not any("支出项目类别" in c for r in table.rows for c in r.cells)
    assert [r for r in table.rows if 113 in r.pages]


def test_merged_total_cell_goes_to_the_name_column(real_docs_dir: Path) -> None:
    """11-js-swbgt p.5: 合计 centred over code and name (no rule between them on its row), and
    a frame round the page that added an empty column on each side."""
    table = only(tables_of(real_docs_dir, "11-js-swbgt-2019", [5]), "功能科目")
    assert table.header == (("功能科目编码",), ("功能科目名称",), ("金额",))
    assert table.rows[0].cells == ("", "合计", "27,664.22")
    assert table.rows[1].cells == ("201", "一般公共服务支出", "22,395.50")


def test_column_strategy_setting(real_docs_dir: Path) -> None:
    """"rules" reads no columns where a table has no vertical rules (12-cn-gjxfj p.14, an empty
    政府性基金 table drawn without them); "gutters" reads a ruled table (14-cs-xfj p.13) from
    text alignment alone: the same rows (two adjacent columns printing the same figures run
    together there, which is why a reading that does not balance tries the other strategy)."""
    unruled = only(tables_of(real_docs_dir, "12-cn-gjxfj-2026", [14], column_strategy="rules"), "政府性基金")
    assert unruled.warnings == ("page 14: no columns could be found",)
    by_rules = only(tables_of(real_docs_dir, "14-cs-xfj-2026", [13], column_strategy="rules"), "收入")
    by_gutters = only(tables_of(real_docs_dir, "14-cs-xfj-2026", [13], column_strategy="gutters"), "收入")
    assert any("from the gutters" in t for t in by_gutters.trace)
    assert any("from vertical rules" in t for t in by_rules.trace)
    assert [squash_first(t) for t in (by_rules, by_gutters)] == ["合计", "合计"]
    assert len(by_gutters.rows) == len(by_rules.rows)


def test_debug_layout_draws_and_explains(real_docs_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "p13.png"
    result = CliRunner().invoke(
        main, ["debug-layout", str(real_docs_dir / "14-cs-xfj-2026.pdf"), "--page", "13", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "columns from vertical rules" in result.output
    assert "column-number line" in result.output
    assert "本级财政拨款 / 金额" in result.output
    bad = CliRunner().invoke(main, ["debug-layout", str(real_docs_dir / "14-cs-xfj-2026.pdf"), "--page", "999"])
    assert bad.exit_code == 1 and "no page 999" in bad.output


def test_running_head_is_no_content(real_docs_dir: Path) -> None:
    """13-suz-sjj heads every page, prose and tables, with 苏州市审计局 2026年度部门预算公开."""
    tables = tables_of(real_docs_dir, "13-suz-sjj-2026", [3, 4, 10, 11, 12])
    assert not any("年度部门预算公开" in c for t in tables for r in t.rows for c in r.cells)
    spending = only(tables, "支出总表")
    row = next(r for r in spending.rows if r.cells[0] == "2210203")
    assert row.cells[:3] == ("2210203", "购房补贴", "401.97")


def test_prose_under_a_title_like_heading_is_no_table(real_docs_dir: Path) -> None:
    """15-hz-qxj p.3: the heading 四、2026年杭州市气象局预算公开表 is followed by prose, not a table."""
    tables = tables_of(real_docs_dir, "15-hz-qxj-2026", [3, 4, 15])
    assert [t.title for t in tables] == ["表1：2026年市级部门收支预算总表"]


def test_amounts_in_yuan_or_wan_with_0_to_6_decimals() -> None:
    """08-sh-tjdsj prints whole 元 (26,159,863); the others 万元 with two decimals; the format
    allows 0–6 decimals with or without thousands separators, and a minus sign."""
    from budgetkg.tables import is_amount

    for printed in ("26,159,863", "26159863", "0", "5,876.67", "5876.67", "0.5", "1.234567", "-12.30", "1 234.56"):
        assert is_amount(printed), printed
    for text in ("2026年", "1,23", "12,3456.00", "一、", "**", "1.2.3"):
        assert not is_amount(text), text
