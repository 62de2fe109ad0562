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
- **ordinal nesting** (the 三公 table, sub-items the reader did not attach): 一、 > （一） >
  1. > （1）; a row opened by 其中 is part of the row printed just above it (“三公”经费 /
  其中：（一）因公出国（境）支出 … （二）公务用车购置及运行费 / 1.公务用车购置 …);
- **totals**: a 合计 printed first sums every top-level row after it (coded and by-unit tables);
  one printed after its rows sums the top-level rows since the previous total, and that
  total too (本年收入合计 = 一 + 二 + 三; 收入总计 = 本年收入合计 + 上年结转 …).

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
    sides: dict[object, list[int]] = {}
    for i, row in enumerate(table.rows):
        sides.setdefault(row.side, []).append(i)
    for positions in sides.values():
        _side_parents(table.rows, row_codes, positions, parents)
    return tuple(parents)


def _side_parents(
    rows: tuple[Row, ...], row_codes: list[str | None], positions: list[int], parents: list[int | None]
) -> None:
    unit_at: int | None = None
    codes: dict[str, int] = {}
    stack: list[tuple[int, int, bool]] = []  # (ordinal level, position, may take marked parts)
    previous: int | None = None
    section: dict[int, int] = {}  # row → the unit row whose section it is in
    for i in positions:
        row = rows[i]
        if unit_at is not None and row.kind is not RowKind.UNIT:
            section[i] = unit_at
        if row.kind is RowKind.TOTAL:
            stack, previous = [], None
            continue
        if row.kind is RowKind.UNIT:
            unit_at, codes, stack, previous = i, {}, [], i
            continue
        code = row_codes[i]
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
    leading: int | None = None
    pending: list[int] = []
    for n, i in enumerate(positions):
        if rows[i].kind is RowKind.TOTAL:
            if n == 0:
                leading = i
                continue
            if leading is None:
                for p in pending:
                    parents[p] = i
                pending = [i]
            continue
        if parents[i] is None:
            if leading is not None:
                parents[i] = leading
            else:
                pending.append(i)
