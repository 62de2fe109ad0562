"""Which printed row adds up into which (budgetkg/hierarchy.py), on the sample's own tables."""

from __future__ import annotations

import dataclasses

from budgetkg.codelists import nesting_codes, row_code
from budgetkg.hierarchy import ordinal_level, row_parents
from budgetkg.mapping import squash
from budgetkg.model import Document, Row, RowKind, Side, Table


def _tree(table: Table) -> dict[str, str | None]:
    codes = [(c[1] if (c := row_code(r, table)) else None) for r in table.rows]
    parents = row_parents(table, nesting_codes(table, codes))
    return {
        f"{r.side.value[0] if r.side else ''}{squash(r.label)}": (
            squash(table.rows[p].label) if p is not None else None
        )
        for r, p in zip(table.rows, parents, strict=True)
    }


def _table(doc: Document, number: int) -> Table:
    return next(t for t in doc.tables if t.number == number)


def test_ordinal_levels() -> None:
    assert [
        ordinal_level(x)
        for x in ("一、预算拨款", "（二）公务用车", "1. 公务用车购置", "（1）x", "其中：（一）因公", "行政经费")
    ] == [
        1,
        2,
        3,
        4,
        2,
        0,
    ]


def test_summary_table_totals_after_their_lines(sample_document: Document) -> None:
    tree = _tree(_table(sample_document, 1))
    assert tree["i一、预算拨款"] == "本年收入合计" and tree["i本年收入合计"] == "收入总计"
    assert tree["i四、上级补助收入"] == "收入总计" and tree["i收入总计"] is None
    assert tree["e二十八、结转下年"] == "支出总计" and tree["e一、一般公共服务支出"] == "本年支出合计"


def test_three_public_table_nests_by_ordinals(sample_document: Document) -> None:
    tree = _tree(_table(sample_document, 7))
    assert tree["行政经费"] is None and tree["“三公”经费"] is None
    assert tree["其中：（一）因公出国（境）支出"] == "“三公”经费"
    assert tree["1.公务用车购置"] == "（二）公务用车购置及运行维护支出"
    assert tree["（三）公务接待费支出"] == "“三公”经费"


def test_codes_nest_by_prefix_under_the_leading_total(sample_document: Document) -> None:
    tree = _tree(_table(sample_document, 3))
    assert tree["一般公共服务支出"] == "合计" and tree["行政运行"] == "政府办公厅（室）及相关机构事务"


def test_by_unit_tables_nest_under_unit_rows(sample_document: Document) -> None:
    tree = _tree(_table(sample_document, 11))
    assert tree["广州市数字政府运营中心"] == "合计"
    rows = _table(sample_document, 11).rows
    parents = row_parents(_table(sample_document, 11))
    categories = [rows[p].label for r, p in zip(rows, parents, strict=True) if r.kind is RowKind.CATEGORY]
    assert set(categories) == {r.label for r in rows if r.kind is RowKind.UNIT}


def test_names_without_codes_nest_through_the_code_list(sample_document: Document) -> None:
    """深圳市统计局 2026 prints 款 and 项 names under 一、一般公共服务支出 without codes or ordinals."""
    table = _table(sample_document, 4)
    first = next(i for i, r in enumerate(table.rows) if squash(r.label) == "一、一般公共服务支出")
    above = table.rows[first]

    def sub(label: str) -> Row:
        return dataclasses.replace(
            above, kind=RowKind.ITEM, label=label, parent_label=above.label, side=Side.EXPENDITURE
        )

    rows = (
        *table.rows[: first + 1],
        sub("政府办公厅（室）及相关机构事务"),
        sub("行政运行"),
        sub("事业运行"),
        *table.rows[first + 1 :],
    )
    tree = _tree(dataclasses.replace(table, rows=rows))
    assert tree["e政府办公厅（室）及相关机构事务"] == "一、一般公共服务支出"
    assert (
        tree["e行政运行"] == "政府办公厅（室）及相关机构事务" and tree["e事业运行"] == "政府办公厅（室）及相关机构事务"
    )


# --- on the real published documents (tests/conftest.py real_build) ----------------------------


def _parents(table: Table) -> list[tuple[str, str | None]]:
    """(row, the row it is part of) by position; a row is its label, or its first text cell."""
    codes = [(c[1] if (c := row_code(r, table)) else None) for r in table.rows]
    parents = row_parents(table, nesting_codes(table, codes))

    def name(r: Row) -> str:
        return squash(r.label) or (squash(r.texts[0][1]) if r.texts else "")

    return [(name(r), name(table.rows[p]) if p is not None else None) for r, p in zip(table.rows, parents, strict=True)]


def _real_table(real_build, name: str, kind: str) -> Table:  # noqa: ANN001 - conftest.RealBuild
    return next(t for t in real_build.document(name).tables if t.kind == kind)


def test_unit_codes_nest_by_prefix(real_build) -> None:  # noqa: ANN001
    """13-suz-sjj-2026 p.10 prints 024 苏州市审计局 (the department) above 024001 (its unit)."""
    assert _parents(_real_table(real_build, "13-suz-sjj-2026", "income-summary")) == [
        ("合计", None),
        ("024", "合计"),
        ("024001", "024"),
    ]


def test_procurement_rows_nest_by_the_column_they_name(real_build) -> None:  # noqa: ANN001
    """政府采购表: 采购品目大类 > 专项名称 / 经济科目 > 采购物品名称, each in its own column."""
    suz = _parents(_real_table(real_build, "13-suz-sjj-2026", "government-procurement"))  # p.22
    unit = "苏州市审计局"  # printed indented under each category
    assert suz[1:5] == [("货物", "合计"), (unit, "货物"), ("定额", unit), ("设备购置", unit)]
    js = _parents(_real_table(real_build, "11-js-swbgt-2019", "government-procurement"))  # p.12
    assert js[1:4] == [
        ("一、货物A", "合计"),
        ("机要及电子政务业务费", "一、货物A"),
        ("PC服务器", "机要及电子政务业务费"),
    ]
    training = [p for name, p in js if name == "培训费"]  # 经济科目 only: under 三、服务C, not the 会议费 row
    assert training == ["三、服务C", "三、服务C"]


def test_leading_subtotals_and_numbered_totals(real_build) -> None:  # noqa: ANN001
    js = _parents(_real_table(real_build, "11-js-swbgt-2019", "income-summary"))  # p.2: 小计 above its group
    total, sub = "收入总计", "小计"  # each 小计 sums the rows below it up to the next 小计
    assert [p for _, p in js] == [None, total, sub, sub, total, total, sub, sub, total, sub, sub, sub, total, sub]
    hz = dict(_parents(_real_table(real_build, "15-hz-qxj-2026", "income-summary")))  # p.16
    assert hz["杭州市气象服务中心（杭州市预警信息发布中心）"] == "杭州市气象局"
    summary = _parents(_real_table(real_build, "15-hz-qxj-2026", "appropriation-summary"))  # p.18
    assert ("一、本年支出合计", "支出总计") in summary and ("二、年终结转结余", "支出总计") in summary
    beside = dict(_parents(_real_table(real_build, "11-js-swbgt-2019", "income-expenditure-summary")))  # p.1
    assert beside["一、基本支出"] == beside["三、单位预留机动经费"] == "当年支出小计"
