"""Stage 3: give tables budget meaning — codes, totals, units, projects, Decimal amounts.

Interprets each RawTable through its mapping (layout, code scheme, column groups) and
assembles the Document with its prose parts. Nothing here looks at coordinates.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from budgetkg.mapping import Mappings, TableKind, load_mappings, squash
from budgetkg.model import (
    Amount,
    Document,
    InputError,
    PageText,
    RawTable,
    Row,
    RowKind,
    Side,
    Table,
)
from budgetkg.pdf import read_pdf
from budgetkg.prose import read_prose
from budgetkg.tables import AMOUNT, BRACKET_CODE, CODE, DASHES, find_tables

TOTAL = re.compile(r"^(?:合计|总计|小计|本年收入合计|本年支出合计|收入总计|支出总计|本年收入|本年支出)$")
UNIT_COLUMN = {"预算单位", "单位名称", "预算单位名称", "二级预算单位名称"}
CODE_HEADERS = re.compile(r"编码|^类$|^款$|^项$|^代码$")
ORG_SUFFIX = re.compile(
    r"(?:局|中心|办公室|委员会|委|院|所|站|队|馆|校|学校|园|厅|部|会|社|台|处|室|本级|[（(]本级[)）])$"
)
COVER = re.compile(r"(20\d{2})\s*年度?\s*(.{2,60}?)\s*(?:部门|单位)?\s*(预算|决算)")
CURRENCY_MULTIPLIER = {"元": 0, "千元": 3, "万元": 4, "亿元": 8}


def read_document(path: Path, mappings: Mappings | None = None) -> Document:
    """PDF file → Document. Raises InputError when the file is no readable budget."""
    mappings = mappings or load_mappings()
    source, pages = read_pdf(path)
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
    head = "\n".join(p.plain_text for p in pages[:2])
    flat = re.sub(r"\s+", " ", head)
    year = None
    department = ""
    kind = "决算" if "决算" in flat[:400] else "预算"
    match = COVER.search(flat)
    if match:
        year = int(match.group(1))
        department = squash(match.group(2))
        department = re.sub(r"^(?:年度?)", "", department)
        department = re.sub(r"(?:部门|单位|年度)$", "", department)
    if year is None:
        ymatch = re.search(r"(20\d{2})\s*年", flat)
        year = int(ymatch.group(1)) if ymatch else None
    names = [t.unit_name for t in tables if t.unit_name]
    if names:
        most = max(set(names), key=names.count)
        if not department or (most in department or department in most):
            department = most
    if not department:
        m = re.search(r"预算主管部门[：:]\s*(\S+)", flat)
        if m:
            department = m.group(1)
    return year, department, kind


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
    if layout == "two-sided":
        rows = _two_sided(raw, roles, mappings, department)
    elif layout == "by-unit":
        rows = _by_unit(raw, roles, mappings, department, known_units, kind)
    else:
        rows = _listed(raw, roles, mappings, department, kind)
    code_scheme = kind.code_scheme if kind else _guess_scheme(rows)
    warnings: list[str] = []
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
        elif cells and len(numeric) == len(cells) or not cells and _amount_header(leaf):
            roles.append("amount")
        else:
            roles.append("text")
    if "label" not in roles:
        for i, r in enumerate(roles):
            if r == "text":
                roles[i] = "label"
                break
    return roles


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
        col = mappings.column(label)
        parts.append(col.key if col else squash(label))
    return ".".join(parts) or "value"


def _amounts(
    raw_cells: tuple[str, ...], columns: list[int], header: tuple[tuple[str, ...], ...], mappings: Mappings
) -> list[Amount]:
    out = []
    for i in columns:
        cell = raw_cells[i] if i < len(raw_cells) else ""
        parsed = parse_amount(cell)
        if parsed is None:
            raise ValueError(f"cell {cell!r} in column {'/'.join(header[i])} is not an amount")
        value, blank = parsed
        out.append(Amount(header[i], _measure(header[i], mappings), value, cell.replace(" ", ""), blank))
    return out


def _split_code(label: str) -> tuple[str | None, str]:
    m = BRACKET_CODE.match(label)
    if m:
        return m.group(1), label[m.end() :].strip()
    m = re.match(r"^(\d{3}(?:\d{2}){0,2})\s+(\S.*)$", label)
    if m:
        return m.group(1), m.group(2)
    return None, label


def _listed(raw: RawTable, roles: list[str], mappings: Mappings, department: str, kind: TableKind | None) -> list[Row]:
    amount_cols = [i for i, r in enumerate(roles) if r == "amount"]
    code_cols = [i for i, r in enumerate(roles) if r == "code"]
    label_col = roles.index("label") if "label" in roles else None
    unit_col = roles.index("unit") if "unit" in roles else None
    text_cols = [i for i, r in enumerate(roles) if r == "text"]
    project_rows = kind is not None and kind.child_kind == "project"
    rows: list[Row] = []
    parents: list[str] = []  # split 类/款/项 columns: last printed 类, 款
    unit = department
    for index, raw_row in enumerate(raw.rows, start=1):
        cells = raw_row.cells
        label = cells[label_col] if label_col is not None and label_col < len(cells) else ""
        if unit_col is not None and cells[unit_col]:
            unit = squash(cells[unit_col])
        code = _code_from_columns([cells[i] for i in code_cols], parents) if code_cols else None
        if code is None:
            code, label = _split_code(label)
        if not label and code is None and not any(cells[i] for i in amount_cols):
            continue
        if TOTAL.match(squash(label)):
            row_kind = RowKind.TOTAL
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
                pages=raw_row.pages,
                index=index,
                texts=tuple((raw.header[i][-1] if raw.header[i] else "", cells[i]) for i in text_cols if cells[i]),
            )
        )
    return rows


def _code_from_columns(values: list[str], parents: list[str]) -> str | None:
    """A code printed in one column, or split over 类/款/项 columns (a 款 row may print only
    its own two digits, the 类 being the last one printed above it)."""
    values = [squash(v) for v in values]
    if len(values) == 1:
        return values[0] or None
    parts = [v for v in values if v]
    if not parts:
        return None
    if len(parts[0]) == 3:
        code = "".join(parts)
    elif parents:
        # continue from the last printed higher level
        base = parents[-1][: 3 if len(parts) == 2 or len(parts[0]) == 2 and len(parts) == 1 else 5]
        code = base + "".join(parts)
    else:
        code = "".join(parts)
    parents.append(code)
    return code


def _two_sided(raw: RawTable, roles: list[str], mappings: Mappings, department: str) -> list[Row]:
    """收入 | 支出 side by side: read as two lists of label/amount rows."""
    sides: list[tuple[Side, int, list[int]]] = []
    for i, path in enumerate(raw.header):
        top = path[0] if path else ""
        side = Side.INCOME if top.startswith("收入") else Side.EXPENDITURE if top.startswith("支出") else None
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
        for raw_row in raw.rows:
            label = raw_row.cells[label_col] if 0 <= label_col < len(raw_row.cells) else ""
            if not label:
                continue
            index += 1
            rows.append(
                Row(
                    kind=RowKind.TOTAL if TOTAL.match(squash(label)) else RowKind.ITEM,
                    label=label,
                    code=None,
                    unit=department,
                    amounts=tuple(_amounts(raw_row.cells, amount_cols, raw.header, mappings)),
                    pages=raw_row.pages,
                    index=index,
                    side=side,
                )
            )
    return rows


def _by_unit(
    raw: RawTable,
    roles: list[str],
    mappings: Mappings,
    department: str,
    known_units: set[str],
    kind: TableKind | None,
) -> list[Row]:
    """合计, then per unit a subtotal row followed by its categories or projects."""
    amount_cols = [i for i, r in enumerate(roles) if r == "amount"]
    label_col = roles.index("label") if "label" in roles else 0
    text_cols = [i for i, r in enumerate(roles) if r == "text"]
    child = RowKind.PROJECT if kind is not None and kind.child_kind == "project" else RowKind.CATEGORY
    rows: list[Row] = []
    unit = department
    for index, raw_row in enumerate(raw.rows, start=1):
        cells = raw_row.cells
        label = cells[label_col]
        if not label:
            continue
        texts = tuple((raw.header[i][-1], cells[i]) for i in text_cols if cells[i])
        name = squash(label)
        if TOTAL.match(name):
            row_kind, parent = RowKind.TOTAL, None
        elif _is_unit(name, known_units, bool(texts), child):
            row_kind, parent, unit = RowKind.UNIT, None, name
        else:
            row_kind, parent = child, unit
        rows.append(
            Row(
                kind=row_kind,
                label=label,
                code=None,
                unit=unit if row_kind is not RowKind.TOTAL else department,
                amounts=tuple(_amounts(cells, amount_cols, raw.header, mappings)),
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
