"""Stage 2: find tables by their titles and header texts, and rebuild their grid.

A table is found by its title (or, for a continuation page, by following the table it
continues) and rebuilt from words and rules: columns come from vertical rules when the table
has them and from text alignment when it has none (the gutters no body text crosses; header
labels as cells, a label centred over a run of columns being their merged parent); rows from
horizontal rules or, without them, from lines that carry amounts, with wrapped text attached
to the row it is centred on. A row cut by a page break is re-joined to the row it belongs to.
Indented names keep their indentation as leading spaces of the cell (a hierarchy without codes).

One module per step, data flowing one way: ``locate`` (titles, segments, running heads) →
``header`` (header and body lines, column-number lines, header paths) → ``columns`` (rules or
gutters) → ``rows`` (rows, cells, indentation, bold); ``geometry`` and ``patterns`` are shared.
Every tolerance is a setting of mappings/layout.toml (budgetkg/layout.py); every decision is
recorded in RawTable.trace, and ``budgetkg debug-layout`` draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from budgetkg.layout import LayoutSettings, load_layout
from budgetkg.mapping import Mappings, squash
from budgetkg.model import PageText, RawRow, RawTable, TextLine
from budgetkg.tables.columns import _drop_empty_edges, _ruled_columns, _text_layout
from budgetkg.tables.geometry import _Column, _short, join_text
from budgetkg.tables.header import (
    _apply_groups,
    _bodies_by_width,
    _drop_column_numbers,
    _header_paths,
    _lift_labels,
    _split_header,
    column_number_line,
)
from budgetkg.tables.locate import _Found, _locate, running_lines
from budgetkg.tables.patterns import AMOUNT, BRACKET_CODE, CODE, DASHES, HEADER_CURRENCY, is_amount, is_number_like
from budgetkg.tables.rows import _append_row, _continues, _indent, _rows

__all__ = [
    "AMOUNT",
    "BRACKET_CODE",
    "CODE",
    "DASHES",
    "SegmentGeometry",
    "column_number_line",
    "find_tables",
    "find_tables_with_geometry",
    "is_amount",
    "is_number_like",
    "join_text",
    "running_lines",
]


def find_tables(
    pages: Sequence[PageText], mappings: Mappings, settings: LayoutSettings | None = None
) -> list[RawTable]:
    """Locate every table in reading order and rebuild it, with the geometry settings of
    mappings/layout.toml unless others are given (another column strategy, say)."""
    return [table for table, _ in find_tables_with_geometry(pages, mappings, settings)]


@dataclass(frozen=True)
class SegmentGeometry:
    """What the geometry made of one page of a table (drawn by debug-layout): the lines read,
    the header lines, the column bounds and body ink extents (x0, x1, ink0, ink1), the header
    path of each column, the rows' vertical extents, and lines dropped as column numbers."""

    page: int
    lines: tuple[TextLine, ...]
    header: tuple[TextLine, ...]
    columns: tuple[tuple[float, float, float | None, float | None], ...]
    paths: tuple[tuple[str, ...], ...]
    rows: tuple[tuple[float, float], ...]
    dropped: tuple[TextLine, ...]


def find_tables_with_geometry(
    pages: Sequence[PageText], mappings: Mappings, settings: LayoutSettings | None = None
) -> list[tuple[RawTable, tuple[SegmentGeometry, ...]]]:
    """find_tables, each table with the geometry of its pages (for debug-layout)."""
    settings = settings or load_layout()
    found = _locate(pages, mappings, settings)
    out: list[tuple[RawTable, tuple[SegmentGeometry, ...]]] = []
    for item in found:
        table = _rebuild(item, settings)
        if _is_prose(table, settings.page_prose_length):
            continue
        if table.rows or table.currency_unit or table.unit_name:  # else a title in the contents
            geometry = tuple(
                SegmentGeometry(
                    seg.page.number,
                    tuple(seg.lines),
                    tuple(seg.head),
                    tuple(seg.columns),
                    tuple(seg.paths),
                    tuple(seg.rows),
                    tuple(seg.dropped),
                )
                for seg in item.segments
            )
            out.append((table, geometry))
    return out


def _rebuild(found: _Found, settings: LayoutSettings) -> RawTable:
    """One table's header paths and rows from its page segments (header repeated or not)."""
    warnings: list[str] = []
    first_head: list[TextLine] | None = None
    first_width = 0.0
    columns: list[_Column] | None = None
    header_paths: list[tuple[str, ...]] = []
    rows: list[tuple[list[str], set[int]]] = []
    starts: list[list[tuple[float, float, float] | None]] = []
    bolds: list[list[bool]] = []
    trace = found.trace
    for seg in found.segments:
        seg.lines = _drop_column_numbers(seg, found, settings)
    all_bodies = _bodies_by_width(found, settings)
    for seg in found.segments:
        number = seg.page.number
        head, body = _split_header(seg.lines, first_head, seg.page, first_width, settings)
        if first_head is None:
            first_head, first_width = head, seg.page.width
        trace.append(
            f"page {number}: header {len(head)} line(s) {_short(' / '.join(ln.text for ln in head))}; "
            f"body {len(body)} line(s)"
        )
        strategy = settings.column_strategy
        ruled = _ruled_columns(seg.page, head, body, settings) if strategy != "gutters" else None
        paths: list[tuple[str, ...]] | None = None
        if ruled is not None:
            seg_columns: list[_Column] | None = ruled
            ruled = _drop_empty_edges(ruled, head + body, trace, number)
            seg_columns = ruled
            paths = _header_paths(ruled, head, seg.page.rules, found.kind)
            trace.append(f"page {number}: {len(ruled)} columns from vertical rules (strategy {strategy})")
        elif strategy == "rules":
            seg_columns = None
            trace.append(f"page {number}: no vertical rules cross the body and strategy is 'rules'")
        elif columns is not None and not head and columns[0].ink0 is not None and columns[0].width == seg.page.width:
            seg_columns = columns  # a page without a repeated header continues the same columns
            trace.append(f"page {number}: no header repeated; the previous page's {len(columns)} columns continue")
        else:
            layout = _text_layout(head, all_bodies.get(seg.page.width, body), seg.page)
            seg_columns, paths = layout if layout is not None else (None, None)
            if seg_columns is not None:
                for col in seg_columns:
                    col.width = seg.page.width
                if found.kind is not None and found.kind.groups and paths is not None:
                    paths = _apply_groups(paths, found.kind.groups)
                trace.append(
                    f"page {number}: {len(seg_columns)} columns from the gutters of the text "
                    f"(strategy {strategy}; fewer than 3 vertical rules cross the body)"
                )
        if seg_columns is None:
            warnings.append(f"page {seg.page.number}: no columns could be found")
            continue
        seg.columns = [(c.x0, c.x1, c.ink0, c.ink1) for c in seg_columns]
        seg.head = list(head)
        if paths is not None and (head or columns is None):
            if not header_paths:
                header_paths = paths
            elif len(paths) != len(header_paths):
                warnings.append(
                    f"page {seg.page.number}: {len(paths)} columns where the table has "
                    f"{len(header_paths)}; columns matched by position"
                )
        columns = seg_columns
        seg_rows = _rows(seg.page, body, columns, settings, ruled=ruled is not None)
        seg.rows = [r.box for r in seg_rows if r.box is not None]
        for i, row in enumerate(seg_rows):
            cells = (row.cells + [""] * len(header_paths))[: max(len(header_paths), len(row.cells))]
            if i == 0 and rows and not row.present and _continues(rows[-1][0], cells):
                _append_row(rows[-1][0], cells)
                rows[-1][1].add(seg.page.number)
                trace.append(f"page {number}: first row continues the last row of the page before")
                continue
            rows.append((cells, {seg.page.number}))
            starts.append([(seg.page.width, *s) if s else None for s in row.starts])
            bolds.append(row.bold)
        seg.paths = list(paths) if paths is not None else list(header_paths)
    if rows and header_paths:
        _lift_labels(rows[0][0], [r[0] for r in rows[1:]], header_paths)
    indents = _indent(rows, starts, settings.row_indent_step)
    raw_rows = tuple(
        RawRow(
            tuple(c.rstrip() for c in cells),
            tuple(sorted(pages)),
            indents=tuple((ind + [0] * len(cells))[: len(cells)]),
            bold=tuple((b + [False] * len(cells))[: len(cells)]),
        )
        for (cells, pages), ind, b in zip(rows, indents, bolds, strict=True)
    )
    pages = tuple(sorted({s.page.number for s in found.segments}))
    currency = found.currency_unit
    if currency is None and first_head:  # 预算数（万元） in a header cell
        currency = next((m.group(1) for ln in first_head if (m := HEADER_CURRENCY.search(squash(ln.text)))), None)
    return RawTable(
        title=found.title,
        header=tuple(header_paths),
        rows=raw_rows,
        pages=pages,
        currency_unit=currency,
        unit_name=found.unit_name,
        label=found.label,
        warnings=tuple(warnings),
        column_numbers=found.column_numbers,
        trace=tuple(trace),
    )


def _is_prose(table: RawTable, length: int) -> bool:
    """Running text under a heading that looks like a title (15-hz-qxj: 四、2026年杭州市气象局预算
    公开表 heads eleven pages of prose): no cell is an amount, and a cell or header label is a
    paragraph (page.prose_length characters or more)."""
    texts = [c for r in table.rows for c in r.cells] + ["".join(p) for p in table.header]
    return not any(is_amount(c) for c in texts) and any(len(t) >= length for t in texts)
