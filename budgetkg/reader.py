"""Stage 3: give tables budget meaning — codes, totals, units, projects, Decimal amounts.

Interprets each RawTable through its mapping (layout, code scheme, column groups) and
assembles the Document with its prose parts. Nothing here looks at coordinates.
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from budgetkg.mapping import Mappings, TableKind, load_mappings, squash
from budgetkg.model import (
    TEXT_LAYER,
    Amount,
    Document,
    InputError,
    PageText,
    RawRow,
    RawTable,
    Row,
    RowKind,
    Side,
    SourceFile,
    Table,
)
from budgetkg.pdf import DEFAULT_ENGINE, read_pdf
from budgetkg.prose import read_prose
from budgetkg.tables import AMOUNT, BRACKET_CODE, CODE, DASHES, find_tables

if TYPE_CHECKING:
    from budgetkg.ocr import OcrOptions

TOTAL = re.compile(r"^(?:.{0,10}(?:合计|总计)|小计|本年收入|本年支出)$")
UNIT_COLUMN = {"预算单位", "单位名称", "预算单位名称", "二级预算单位名称"}
CODE_HEADERS = re.compile(r"编码|^类$|^款$|^项$|^代码$")
ORG_SUFFIX = re.compile(
    r"(?:局|中心|办公室|委员会|委|院|所|站|队|馆|校|学校|园|厅|部|会|社|台|处|室|本级|[（(]本级[)）])$"
)
YEAR_PREFIX = re.compile(r"(?:19|20)\d{2}年度?")
YEAR = re.compile(r"((?:19|20)\d{2})年")
COVER_LABEL = re.compile(r"(?:预算主管部门|主管部门|部门名称|单位名称|编制部门|编制单位)[：:](.+?)(?=单位[：:]|$)")
ITEM_RANKS = (
    re.compile(r"^[一二三四五六七八九十]+[、.．]"),
    re.compile(r"^[(（][一二三四五六七八九十]+[)）]"),
    re.compile(r"^\d+[.．、](?!\d)"),
    re.compile(r"^[(（]\d+[)）]"),
)
PART_OF = re.compile(r"[（(]本级[)）]$")  # the department's own level: the department itself
CURRENCY_MULTIPLIER = {"元": 0, "千元": 3, "万元": 4, "亿元": 8}


def read_document(
    path: Path, mappings: Mappings | None = None, engine: str = DEFAULT_ENGINE, ocr: OcrOptions | None = None
) -> Document:
    """PDF file → Document (its pages read by `engine`, see budgetkg.pdf.ENGINES; pages that are
    images without text read by OCR with `ocr`). Raises InputError when the file is no readable
    budget."""
    source, pages = read_pdf(path, engine, ocr)
    return document_from_pages(source, pages, mappings)


def document_from_pages(source: SourceFile, pages: list[PageText], mappings: Mappings | None = None) -> Document:
    """The Document from all its pages in order, however they were read (at once, or in parts
    by several processes). Raises InputError when they hold no readable budget."""
    mappings = mappings or load_mappings()
    raw_tables = find_tables(pages, mappings)
    prose = read_prose(pages)
    year, department, kind = _identity(pages, raw_tables)
    if not raw_tables:
        raise InputError(source.path, "contains no recognisable budget table")
    known_units = {squash(department), *(squash(u) for u in prose.subordinate_units)}
    warnings: list[str] = []
    tables: list[Table] = []
    default_currency = next((t.currency_unit for t in raw_tables if t.currency_unit), "万元")
    for raw in raw_tables:
        table_kind = mappings.kind_for_title(raw.title)
        try:
            table = interpret(raw, table_kind, mappings, department, known_units, default_currency)
        except (ValueError, IndexError, InvalidOperation) as exc:
            pages_text = ",".join(str(p) for p in raw.pages)
            warnings.append(f"table {raw.title!r} (page {pages_text}) could not be read: {exc}")
            continue
        tables.append(table)
        warnings.extend(f"{raw.title}: {w}" for w in raw.warnings)
    if not any(t.rows for t in tables):
        raise InputError(source.path, "contains no recognisable budget table")
    if not department:
        warnings.append("department name not found on the cover or in any table")
    if any(p.extracted_by != TEXT_LAYER for p in pages):  # OCR'd pages (issue 15): provenance, digit guard
        from budgetkg.ocr import attach_provenance, digit_guard
        from budgetkg.validation import DEFAULT_TOLERANCE

        tables = attach_provenance(tables, pages)
        warnings.extend(digit_guard(tables, pages, DEFAULT_TOLERANCE))
    return Document(
        source=source,
        department=department or "unknown",
        year=year or 0,
        kind=kind,
        tables=tuple(tables),
        prose=prose,
        warnings=tuple(warnings),
    )


def _identity(pages: list[PageText], tables: list[RawTable]) -> tuple[int | None, str, str]:
    """Year, department and 预算/决算 from the cover (a 主管部门 label, or the title line with the
    year and 部门预算 removed), confirmed by the 单位名称 printed over the tables."""
    cover = squash(pages[0].plain_text)
    if len(cover) < 6 and len(pages) > 1:
        cover += squash(pages[1].plain_text)
    flat = squash(" ".join(p.plain_text for p in pages[:2]))
    kind = "决算" if "决算" in cover else "预算" if "预算" in cover else "决算" if "决算" in flat[:400] else "预算"
    found = YEAR.search(cover) or re.search(r"(?<!\d)((?:19|20)\d{2})(?!\d)", cover) or YEAR.search(flat)
    year = int(found.group(1)) if found else None
    department = ""
    label = next((m for ln in pages[0].plain_text.splitlines() if (m := COVER_LABEL.search(squash(ln)))), None)
    if label:
        department = label.group(1)
    else:
        rest = re.sub(r"(?:19|20)\d{2}年?度?|(?:部门|单位)?(?:预算|决算)|区级|市级|省级|县级|年度", "", cover)
        if ORG_SUFFIX.search(rest) and len(rest) <= 40:
            department = rest
    names = [t.unit_name for t in tables if t.unit_name]
    if names:
        most = max(set(names), key=names.count)
        if not department or (most in department or department in most):
            department = most
    return year, PART_OF.sub("", department), kind


def parse_amount(text: str) -> tuple[Decimal, bool] | None:
    """Printed amount → (Decimal, blank). Blank cells and dashes read as zero."""
    t = text.replace(" ", "").replace("−", "-")
    if not t or t in DASHES:
        return Decimal(0), True
    if not AMOUNT.match(t):
        return None
    return Decimal(t.replace(",", "")), False


def interpret(
    raw: RawTable,
    kind: TableKind | None,
    mappings: Mappings,
    department: str,
    known_units: set[str],
    default_currency: str,
) -> Table:
    roles = _column_roles(raw)
    layout = kind.layout if kind else _guess_layout(raw, roles)
    currency = raw.currency_unit or default_currency
    rows: list[Row] = []
    if layout == "two-sided":
        rows = _two_sided(raw, roles, mappings, department)
    else:
        for pane in _panes(raw):
            pane_roles = _column_roles(pane)
            if layout == "by-unit":
                found = _by_unit(pane, pane_roles, mappings, department, known_units, kind)
            else:
                found = _listed(pane, pane_roles, mappings, department, known_units, kind)
            base = len(rows)
            rows.extend(replace(r, index=base + i) for i, r in enumerate(_single_unit_total(found), start=1))
    code_scheme = kind.code_scheme if kind else _guess_scheme(rows)
    warnings: list[str] = [
        f"page {r.pages[0]}, row “{r.label}”: {problem} (not read)" for r in rows for problem in r.problems
    ]
    if not any(r.kind is RowKind.TOTAL for r in rows) and layout in {"coded", "by-unit"}:
        warnings.append(f"no total row found (pages {','.join(map(str, raw.pages))})")
    return Table(
        kind=kind.kind if kind else "unknown",
        number=kind.number if kind else 0,
        title=raw.title,
        pages=raw.pages,
        currency_unit=currency,
        code_scheme=code_scheme,
        rows=tuple(rows),
        columns=raw.header,
        warnings=tuple(warnings),
    )


def _column_roles(raw: RawTable) -> list[str]:
    """'code' | 'label' | 'amount' | 'text' | 'unit' per column, from header and contents."""
    roles: list[str] = []
    for i, path in enumerate(raw.header):
        leaf = path[-1] if path else ""
        cells = [r.cells[i] for r in raw.rows if i < len(r.cells) and r.cells[i]]
        numeric = [c for c in cells if parse_amount(c) is not None]
        if leaf in UNIT_COLUMN:
            roles.append("unit")
        elif CODE_HEADERS.search(leaf) and all(CODE.match(squash(c)) or squash(c).isdigit() for c in cells):
            roles.append("code")
        elif cells and _mostly_amounts(len(numeric), len(cells)) or not cells and _amount_header(leaf):
            roles.append("amount")
        else:
            roles.append("text")
    if "label" not in roles:
        for i, r in enumerate(roles):
            if r == "text":
                roles[i] = "label"
                break
    return roles


def _mostly_amounts(numeric: int, cells: int) -> bool:
    """An amount column may hold a misprinted cell; that cell is then reported, not the column lost."""
    return numeric == cells or (cells >= 4 and numeric >= 0.9 * cells)


def _amount_header(leaf: str) -> bool:
    return leaf not in {"", "项目", "绩效目标", "科目名称"} and "名称" not in leaf


def _guess_layout(raw: RawTable, roles: list[str]) -> str:
    sides = {p[0] for p in raw.header if p}
    if {"收入", "支出"} <= sides:
        return "two-sided"
    if "code" in roles or any(BRACKET_CODE.match(r.cells[0]) for r in raw.rows if r.cells):
        return "coded"
    return "items"


def _guess_scheme(rows: list[Row]) -> str | None:
    codes = [r.code for r in rows if r.code]
    if not codes:
        return None
    return "economic" if all(c[0] in "35" for c in codes) else "functional"


def _measure(path: tuple[str, ...], mappings: Mappings) -> str:
    parts = []
    for label in path:
        plain = YEAR_PREFIX.sub("", squash(label)) or squash(label)  # 2026年预算数 → 预算数: year-free keys
        col = mappings.column(plain)
        parts.append(col.key if col else plain)
    return ".".join(parts) or "value"


def _amounts(
    raw_cells: tuple[str, ...], columns: list[int], header: tuple[tuple[str, ...], ...], mappings: Mappings
) -> list[Amount]:
    """The row's amounts; a cell that is no amount is left out here and reported by _unreadable."""
    out = []
    for i in columns:
        cell = raw_cells[i] if i < len(raw_cells) else ""
        parsed = parse_amount(cell)
        if parsed is None:
            continue
        value, blank = parsed
        out.append(Amount(header[i], _measure(header[i], mappings), value, cell.replace(" ", ""), blank))
    return out


def _unreadable(raw_cells: tuple[str, ...], columns: list[int], header: tuple[tuple[str, ...], ...]) -> list[str]:
    """Cells of amount columns that hold no amount: reported, never guessed."""
    out = []
    for i in columns:
        cell = raw_cells[i] if i < len(raw_cells) else ""
        if parse_amount(cell) is None:
            out.append(f"column “{' / '.join(header[i])}” prints {cell!r}, which is not an amount")
    return out


def _split_code(label: str) -> tuple[str | None, str]:
    m = BRACKET_CODE.match(label)
    if m:
        return m.group(1), label[m.end() :].strip()
    m = re.match(r"^(\d{3}(?:\d{2}){0,2})\s+(\S.*)$", label)
    if m:
        return m.group(1), m.group(2)
    return None, label


def _panes(raw: RawTable) -> list[RawTable]:
    """Two-pane tables (人员经费 | 公用经费 side by side on the same rows) as one table per pane:
    the leaf labels of the columns repeat. Panes whose header does not tell them apart are
    named by their total row (人员经费合计 → 人员经费)."""
    leaves = [p[-1] if p else "" for p in raw.header]
    n = len(leaves)
    for k in (2, 3, 4):
        width = n // k
        if n % k or width < 2:
            continue
        chunks = [leaves[j * width : (j + 1) * width] for j in range(k)]
        labelled = any(not _amount_header(leaf) or CODE_HEADERS.search(leaf) for leaf in chunks[0])
        if not labelled or not all(c == chunks[0] for c in chunks):
            continue  # each pane has its own name (or code) column
        panes = []
        for j in range(k):
            cols = range(j * width, (j + 1) * width)
            header = tuple(raw.header[i] for i in cols)
            rows = tuple(RawRow(tuple(r.cells[i] if i < len(r.cells) else "" for i in cols), r.pages) for r in raw.rows)
            panes.append(replace(raw, header=header, rows=tuple(r for r in rows if any(c.strip() for c in r.cells))))
        if len({p.header for p in panes}) < k:
            panes = [_name_pane(p) for p in panes]
        return panes
    return [raw]


def _name_pane(pane: RawTable) -> RawTable:
    totals = [squash(c) for r in pane.rows for c in r.cells if TOTAL.match(squash(c))]
    name = re.sub(r"(?:合计|总计)$", "", totals[-1]) if totals else ""
    if not name:
        return pane
    header = tuple(
        (name, *p) if p and _amount_header(p[-1]) and not CODE_HEADERS.search(p[-1]) else p for p in pane.header
    )
    return replace(pane, header=header)


def _single_unit_total(rows: list[Row]) -> list[Row]:
    """A table of one unit without a 合计 row prints that unit's row as its total."""
    units = [r for r in rows if r.kind is RowKind.UNIT]
    if len(units) != 1 or any(r.kind is RowKind.TOTAL for r in rows) or rows[0] is not units[0]:
        return rows
    return [replace(r, kind=RowKind.TOTAL) if r is units[0] else r for r in rows]


def _listed(
    raw: RawTable,
    roles: list[str],
    mappings: Mappings,
    department: str,
    known_units: set[str],
    kind: TableKind | None,
) -> list[Row]:
    """Coded and item tables: one row per line, codes from their own, split or bracketed
    columns; a 预算单位 column names the unit, and a row printing only a unit is its subtotal."""
    amount_cols = [i for i, r in enumerate(roles) if r == "amount"]
    code_cols = [i for i, r in enumerate(roles) if r == "code"]
    label_col = roles.index("label") if "label" in roles else None
    unit_col = roles.index("unit") if "unit" in roles else None
    text_cols = [i for i, r in enumerate(roles) if r == "text"]
    project_rows = kind is not None and kind.child_kind == "project"
    rows: list[Row] = []
    printed: list[str] = []  # split 类/款/项 columns: the last value printed in each
    unit = department
    for index, raw_row in enumerate(raw.rows, start=1):
        cells = raw_row.cells
        label = cells[label_col].strip() if label_col is not None and label_col < len(cells) else ""
        code = _code_from_columns([cells[i] for i in code_cols], printed) if code_cols else None
        if code is None:
            code, label = _split_code(label)
        unit_row = False
        unit_cell = squash(cells[unit_col]) if unit_col is not None and unit_col < len(cells) else ""
        if unit_cell and not TOTAL.match(unit_cell):
            unit = unit_cell
            unit_row = code is None and (not label or squash(label) == unit_cell)
        elif code_cols and not code and squash(label) in known_units:
            unit_row, unit = True, squash(label)  # a coded table listing units without a unit column
        if unit_cell and (not label or unit_row):
            label = cells[unit_col].strip() if unit_col is not None else label
        if not label and code is None and not any(cells[i] for i in amount_cols):
            continue
        if TOTAL.match(squash(label)) or (not label and code is None and unit_col is None and index == 1):
            row_kind = RowKind.TOTAL
        elif unit_row:
            row_kind = RowKind.UNIT
        elif code:
            row_kind = RowKind.CLASS
        elif project_rows:
            row_kind = RowKind.PROJECT
        else:
            row_kind = RowKind.ITEM
        rows.append(
            Row(
                kind=row_kind,
                label=label,
                code=code,
                unit=unit,
                amounts=tuple(_amounts(cells, amount_cols, raw.header, mappings)),
                problems=tuple(_unreadable(cells, amount_cols, raw.header)),
                pages=raw_row.pages,
                index=index,
                texts=_texts(raw, cells, text_cols),
            )
        )
    return rows


def _texts(raw: RawTable, cells: tuple[str, ...], columns: list[int]) -> tuple[tuple[str, str], ...]:
    """Non-amount cells of a row (绩效目标 …) by their column's leaf label."""
    return tuple((raw.header[i][-1] if raw.header[i] else "", cells[i].strip()) for i in columns if cells[i].strip())


def _code_from_columns(values: list[str], printed: list[str]) -> str | None:
    """A code printed in one column, or split over 类/款/项 columns by position: a level left
    blank before a printed one is the last value printed in that column above (a 款 row may
    print only its own two digits); a full code in any column stands for itself."""
    values = [squash(v) for v in values]
    if len(values) == 1:
        return values[0] or None
    full = [v for v in values if len(v) >= 5]
    if full:
        return max(full, key=len)
    deepest = max((i for i, v in enumerate(values) if v), default=-1)
    if deepest < 0:
        return None
    printed.extend([""] * (len(values) - len(printed)))
    parts = []
    for i in range(deepest + 1):
        part = values[i] or printed[i]
        if not part:
            return None
        parts.append(part)
        printed[i] = part
    for i in range(deepest + 1, len(values)):
        printed[i] = ""
    return "".join(parts)


def _two_sided(raw: RawTable, roles: list[str], mappings: Mappings, department: str) -> list[Row]:
    """收入 | 支出 side by side: read as two lists of label/amount rows. A line that breaks down
    the one above it (1.一般公共预算拨款 under 一、财政拨款; an indented 款 under its 类) is a
    sub-item: its parent_label names that line."""
    sides: list[tuple[Side, int, list[int]]] = []
    for i, path in enumerate(raw.header):
        top = path[0] if path else ""
        side = Side.INCOME if "收入" in top else Side.EXPENDITURE if "支出" in top else None
        if side is None:
            continue
        entry = next((s for s in sides if s[0] is side), None)
        if roles[i] == "amount":
            if entry is None:
                entry = (side, -1, [])
                sides.append(entry)
            entry[2].append(i)
        elif entry is None:
            sides.append((side, i, []))
    if not sides:  # no 收入/支出 parents: split the columns in half
        half = len(raw.header) // 2
        sides = [
            (Side.INCOME, 0, [i for i in range(1, half) if roles[i] == "amount"]),
            (Side.EXPENDITURE, half, [i for i in range(half + 1, len(roles)) if roles[i] == "amount"]),
        ]
    rows: list[Row] = []
    index = 0
    for side, label_col, amount_cols in sides:
        listed = [r for r in raw.rows if 0 <= label_col < len(r.cells) and r.cells[label_col].strip()]
        parents = _parents([r.cells[label_col] for r in listed])
        for raw_row, parent in zip(listed, parents, strict=True):
            label = raw_row.cells[label_col].strip()
            index += 1
            rows.append(
                Row(
                    kind=RowKind.TOTAL if TOTAL.match(squash(label)) else RowKind.ITEM,
                    label=label,
                    code=None,
                    unit=department,
                    amounts=tuple(_amounts(raw_row.cells, amount_cols, raw.header, mappings)),
                    problems=tuple(_unreadable(raw_row.cells, amount_cols, raw.header)),
                    pages=raw_row.pages,
                    index=index,
                    side=side,
                    parent_label=parent,
                )
            )
    return rows


def _rank(label: str) -> int:
    """Level of an item number: 一、 1, （一） 2, 1. 3, （1） 4; none 0."""
    text = squash(label)
    for rank, pattern in enumerate(ITEM_RANKS, start=1):
        if pattern.match(text):
            return rank
    return 0


def _indent(label: str) -> int:
    return len(label) - len(label.lstrip(" "))


def _parents(labels: list[str]) -> list[str | None]:
    """For each line of a list, the line it is a sub-item of (or None): a deeper item number
    than the list's first line (any number under an unnumbered first line, as 一、… under
    年初结转和结余), or more indentation than its top lines. A total line starts a new list
    (the lines after 本年收入合计 are top lines again)."""
    out: list[str | None] = [None] * len(labels)
    start = 0
    while start < len(labels):
        end = next((i for i in range(start, len(labels)) if TOTAL.match(squash(labels[i]))), len(labels))
        block = range(start, end)
        ranks = {i: _rank(labels[i]) for i in block}
        top_rank = ranks[start] if start < end else 0  # an unnumbered first line heads numbered ones
        least = min((_indent(labels[i]) for i in block if ranks[i] == top_rank), default=0)
        parent: str | None = None
        for i in block:
            if top_rank == 0:
                deeper = ranks[i] > 0 or _indent(labels[i]) > least
            else:
                deeper = ranks[i] > top_rank if ranks[i] else _indent(labels[i]) > least
            if deeper and parent is not None:
                out[i] = parent
            else:
                parent = labels[i].strip()
        start = end + 1
    return out


def _by_unit(
    raw: RawTable,
    roles: list[str],
    mappings: Mappings,
    department: str,
    known_units: set[str],
    kind: TableKind | None,
) -> list[Row]:
    """合计, then per unit a subtotal row followed by its categories or projects; lines
    indented under a category (基本工资 under 工资福利支出) are items of it, not categories."""
    amount_cols = [i for i, r in enumerate(roles) if r == "amount"]
    label_col = roles.index("label") if "label" in roles else 0
    text_cols = [i for i, r in enumerate(roles) if r == "text"]
    child = RowKind.PROJECT if kind is not None and kind.child_kind == "project" else RowKind.CATEGORY
    rows: list[Row] = []
    unit = department
    child_indent: int | None = None
    category: str | None = None
    for index, raw_row in enumerate(raw.rows, start=1):
        cells = raw_row.cells
        label = cells[label_col].strip()
        if not label:
            continue
        texts = _texts(raw, cells, text_cols)
        name = squash(label)
        row_kind: RowKind = child
        parent: str | None = unit
        if TOTAL.match(name):
            row_kind, parent = RowKind.TOTAL, None
        elif _is_unit(name, known_units, bool(texts), child):
            row_kind, parent, unit, child_indent = RowKind.UNIT, None, name, None
        elif child_indent is None or _indent(cells[label_col]) <= child_indent:
            child_indent, category = _indent(cells[label_col]), label
        else:
            row_kind, parent = RowKind.ITEM, category
        rows.append(
            Row(
                kind=row_kind,
                label=label,
                code=None,
                unit=unit if row_kind is not RowKind.TOTAL else department,
                amounts=tuple(_amounts(cells, amount_cols, raw.header, mappings)),
                problems=tuple(_unreadable(cells, amount_cols, raw.header)),
                pages=raw_row.pages,
                index=index,
                texts=texts,
                parent_label=parent,
            )
        )
    return rows


def _is_unit(name: str, known: set[str], has_text: bool, child: RowKind) -> bool:
    if name in known:
        return True
    if child is RowKind.PROJECT and has_text:
        return False
    return bool(ORG_SUFFIX.search(name)) and not name.endswith(("项目", "经费", "支出", "费"))
