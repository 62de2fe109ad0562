"""Which printed row a row adds up into: the aggregation tree of a table, read from the rows.

A budget table prints its aggregates beside their parts — the 合计 row, the 类 and 款 rows
above their 款 and 项, a unit's row above its categories or projects, 一、财政拨款 above
1.一般公共预算 — so summing a column counts the same money two or three times. The graph
links each amount to the amount it is part of (``bk:partOf``) and marks printed aggregates
(``bk:isAggregate``), so that the leaves sum to every printed total. The tree is derived from
what every layout prints, never from a table kind:

- **code prefix** (every coded table): a code's parent is the longest shorter code printed
  above it in the same unit's section (2010301 → 20103, or 201 when no 款 is printed);
- **named parent** (by-unit tables, sub-items of the 收支总表): the reader's ``parent_label``
  names the row above (a unit row, or 一、财政拨款 for 1.一般公共预算拨款);
- **unit codes** (收入总表 by 部门代码, 13-suz-sjj-2026 p.10): a row named by a unit code is part
  of the row above named by the code it extends (024 苏州市审计局 / 024001 苏州市审计局);
- **ordinal nesting** (the 三公 table, sub-items the reader did not attach): 一、 > （一） >
  1. > （1）; a row opened by 其中 is part of the row printed just above it (“三公”经费 /
  其中：（一）因公出国（境）支出 … （二）公务用车购置及运行费 / 1.公务用车购置 …);
- **column nesting** (政府采购表, 11-js-swbgt-2019 p.12, 13-suz-sjj-2026 p.22): where rows name
  themselves in different text columns (采购品目大类 | 专项名称 | 经济科目 | 采购物品名称), a row is
  part of the nearest row above whose named cells all stand left of its first named cell;
  the unit's own name printed under a category (货物 / 苏州市审计局 / 定额 办公费 复印纸 …)
  counts as half a column deeper than the category;
- **totals**: a 合计 printed first sums every top-level row after it (coded and by-unit tables);
  a total printed right after it opens leading subtotals (the department's row 杭州市气象局
  under 合计, 15-hz-qxj-2026 p.16; 小计 above each group of 11-js-swbgt-2019 p.2), each part of
  the 合计 and summing the rows up to the next; a total printed after its rows sums the
  top-level rows since the previous total, and that total too (本年收入合计 = 一 + 二 + 三;
  收入总计 = 本年收入合计 + 上年结转 …).

Two-sided tables (收支总表) are read side by side, each side on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from budgetkg.mapping import squash
from budgetkg.model import Row, RowKind, Table

_LEVELS = (
    (1, re.compile(r"^[一二三四五六七八九十]+、")),
    (2, re.compile(r"^[（(][一二三四五六七八九十]+[)）]")),
    (3, re.compile(r"^\d+[.、．]")),
    (4, re.compile(r"^[（(]\d+[)）]")),
)
_OPENER = re.compile(r"^其中[：:]?")
_DEEPEST = 9  # a 其中 row without an ordinal
_UNIT_CODE = re.compile(r"^\d{3,}$")  # 部门代码 024, 单位代码 024001 printed as the row's name


def ordinal_level(label: str) -> int:
    """1 for 一、, 2 for （一）, 3 for 1., 4 for （1）; 0 when the name has no ordinal."""
    text = _OPENER.sub("", squash(label))
    for level, pattern in _LEVELS:
        if pattern.match(text):
            return level
    return 0


def row_parents(table: Table, codes: Sequence[str | None] | None = None) -> tuple[int | None, ...]:
    """For every row of the table (by position), the position of the row it is a part of,
    or None for a top-level row that no printed total sums. ``codes`` (by position) are the
    rows' codes where known otherwise than printed (a name resolved through the code list)."""
    parents: list[int | None] = [None] * len(table.rows)
    row_codes = list(codes) if codes is not None else [r.code for r in table.rows]
    spans = column_spans(table)
    sides: dict[object, list[int]] = {}
    for i, row in enumerate(table.rows):
        sides.setdefault(row.side, []).append(i)
    for positions in sides.values():
        _side_parents(table.rows, row_codes, spans, positions, parents)
    return tuple(parents)


def column_spans(table: Table) -> list[tuple[float, float] | None]:
    """For every row, the first and last text column (by position) it prints a name in, or None.

    The label column is the text column no row prints as one of its other texts (its cells
    are the rows' labels); the unit's own name in the label column under another row counts
    half a column deeper (13-suz-sjj-2026 p.22 indents it under 货物). Column nesting in
    :func:`_side_parents` compares these spans."""
    measures = {a.measure for r in table.rows for a in r.amounts}
    text_columns = [i for i, path in enumerate(table.columns) if path and path not in measures]
    keys = {k for r in table.rows for k, _ in r.texts}
    label_at = next((i for i in text_columns if table.columns[i][-1] not in keys), None)
    position: dict[str, int] = {}
    for i in text_columns:
        position.setdefault(table.columns[i][-1], i)
    spans: list[tuple[float, float] | None] = []
    previous: tuple[float, float] | None = None
    for row in table.rows:
        at = [float(position[k]) for k, _ in row.texts if k in position]
        if row.label.strip() and label_at is not None:
            deeper = 0.5 if previous is not None and squash(row.label) == squash(row.unit) else 0.0
            at.append(label_at + deeper)
        span = (min(at), max(at)) if at else None
        spans.append(span)
        previous = None if row.kind is RowKind.TOTAL else span
    return spans


def _side_parents(
    rows: tuple[Row, ...],
    row_codes: list[str | None],
    spans: list[tuple[float, float] | None],
    positions: list[int],
    parents: list[int | None],
) -> None:
    unit_at: int | None = None
    codes: dict[str, int] = {}
    unit_codes: dict[str, int] = {}  # a unit code printed as a row's name → that row
    named: list[int] = []  # rows since the last total or unit row (for column nesting)
    stack: list[tuple[int, int, bool]] = []  # (ordinal level, position, may take marked parts)
    previous: int | None = None
    section: dict[int, int] = {}  # row → the unit row whose section it is in
    for i in positions:
        row = rows[i]
        if unit_at is not None and row.kind is not RowKind.UNIT:
            section[i] = unit_at
        if row.kind is RowKind.TOTAL:
            stack, previous, named = [], None, []
            continue
        if row.kind is RowKind.UNIT:
            unit_at, codes, stack, previous, named = i, {}, [], i, []
            continue
        code = row_codes[i]
        label = squash(row.label)
        if not code and _UNIT_CODE.match(label):
            above = next((unit_codes[label[:n]] for n in range(len(label) - 1, 2, -1) if label[:n] in unit_codes), None)
            unit_codes.setdefault(label, i)
            if above is not None:
                parents[i] = above
                previous = i
                continue
        named.append(i)
        if code:
            parents[i] = _code_parent(code, codes)
            if parents[i] is None and row.parent_label:
                parents[i] = _named(rows, positions, i, row.parent_label, unit_at)
            codes.setdefault(code, i)
            previous = i
            continue
        if row.parent_label:
            parents[i] = _named(rows, positions, i, row.parent_label, unit_at)
            previous = i
            continue
        level = ordinal_level(row.label)
        opens = bool(_OPENER.match(squash(row.label)))
        if level == 0 and not opens and (column := _column_parent(i, named, spans)) is not None:
            parents[i] = column
            previous = i
            continue
        if opens and previous is not None and stack and stack[-1][1] == previous:
            top_level, top, _ = stack[-1]
            stack[-1] = (top_level, top, True)
            level = max(level or _DEEPEST, top_level + 1)
        if level == 0:
            stack = [(0, i, False)]
        else:
            while stack and stack[-1][0] >= level:
                stack.pop()
            if stack and stack[-1][2]:
                parents[i] = stack[-1][1]
            stack.append((level, i, True))
        previous = i
    for i, unit in section.items():
        if parents[i] is None and rows[i].kind is not RowKind.TOTAL:
            parents[i] = unit  # a top-level row of a unit's section is part of the unit's row
    _total_parents(rows, positions, parents)


def _column_parent(i: int, named: list[int], spans: list[tuple[float, float] | None]) -> int | None:
    """Column nesting: the nearest row above whose printed names all stand left of this row's first."""
    span = spans[i]
    if span is None:
        return None
    for j in reversed(named):
        above = spans[j]
        if j < i and above is not None and above[1] < span[0]:
            return j
    return None


def _code_parent(code: str, codes: dict[str, int]) -> int | None:
    """The longest shorter code printed above in the section (类/款 rows may be skipped)."""
    for n in range(len(code) - 2, 2, -2):
        if code[:n] in codes:
            return codes[code[:n]]
    return None


def _named(rows: tuple[Row, ...], positions: list[int], i: int, name: str, unit_at: int | None) -> int | None:
    """The nearest row above on the same side printed with that name; else the unit row."""
    wanted = squash(name)
    for j in reversed([p for p in positions if p < i]):
        if squash(rows[j].label) == wanted:
            return j
    return unit_at


def _total_parents(rows: tuple[Row, ...], positions: list[int], parents: list[int | None]) -> None:
    """Totals: a leading 合计 sums the top-level rows after it; a total printed right after it
    opens leading subtotals, each summing the rows after it up to the next (11-js-swbgt-2019
    p.2: 收入总计 / 小计 一般公共预算资金 … / 小计 财政专户管理资金 …; 15-hz-qxj-2026 p.16: 合计 /
    杭州市气象局 / its units); a trailing total sums the rows since the previous one, and it.

    A leading total numbered like a line (一、本年支出合计, 15-hz-qxj-2026 p.18) is a line: it sums
    the rows after it up to the next line of its level (二、年终结转结余), and both are parts of
    the trailing total (支出总计).

    Lines numbered from 一、 again after the side's last total are a second breakdown printed
    beside the first (支出用途 beside 功能分类, 11-js-swbgt-2019 p.1: 一、基本支出 … read after
    支出合计): they are parts of the first trailing total, which the first breakdown sums too."""
    leading: int | None = None
    closing: int | None = None  # the first trailing total that summed rows
    first: int | None = None  # the leading 合计 of the side
    subtotals = False  # leading subtotals under it
    pending: list[int] = []
    for n, i in enumerate(positions):
        if rows[i].kind is RowKind.TOTAL:
            if n == 0:
                leading = first = i
                continue
            if first is not None and parents[i] is None and (subtotals or positions[n - 1] == first):
                parents[i], leading, subtotals = first, i, True
                continue
            if leading is None:
                for p in pending:
                    parents[p] = i
                if closing is None and pending:
                    closing = i
                pending = [i]
            continue
        if parents[i] is None:
            if leading is not None and first is not None and _closes(rows[first], rows[i]):
                pending.append(first)
                leading = None
            if leading is not None:
                parents[i] = leading
            else:
                pending.append(i)
    beside = [p for p in pending if rows[p].kind is not RowKind.TOTAL]
    if closing is not None and beside and squash(rows[beside[0]].label).startswith("一、"):
        for p in beside:
            parents[p] = closing


def _closes(total: Row, row: Row) -> bool:
    """A line numbered at the level of a numbered leading total, or above (二、 after 一、本年支出合计)."""
    level = ordinal_level(total.label)
    return 0 < ordinal_level(row.label) <= level
