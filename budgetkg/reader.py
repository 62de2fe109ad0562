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

from budgetkg.codelists import code_list
from budgetkg.kinds import code_scheme, recognise
from budgetkg.layout import LayoutSettings
from budgetkg.mapping import Mappings, TableKind, Vocabulary, load_mappings, squash
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
from budgetkg.tables import AMOUNT, BRACKET_CODE, DASHES, find_tables

if TYPE_CHECKING:
    from budgetkg.ocr import OcrOptions

YEAR_PREFIX = re.compile(r"(?:19|20)\d{2}年度?")
YEAR = re.compile(r"((?:19|20)\d{2})年")
CODE_CELL = re.compile(r"^(\d{3}(?:\d{2}){0,2})(?!\d)")  # a classification code at the start of a cell
SPLIT_CODE_CELL = re.compile(r"^(\d{2,3})(?!\d)")  # one level of split 类/款/项 columns
ANY_CODE_CELL = re.compile(r"^(\d{3}(?:\d{2}){0,2}|\d{2})(?!\d)")
CODE_NAME = re.compile(r"^(\d{3}(?:\d{2}){0,2})\s*[-－—–:：]\s*(\S.*)$|^(\d{3}(?:\d{2}){0,2})\s+(\S.*)$")
COVER_CHARS = 120  # a cover is short; a first page longer than this is a table or prose
COLUMN_NUMBER_MARKS = {"**", "*", "栏次", "行次", "栏号", "甲", "乙", "丙"}
CURRENCY_MULTIPLIER = {"元": 0, "千元": 3, "万元": 4, "亿元": 8}


def read_document(
    path: Path, mappings: Mappings | None = None, engine: str = DEFAULT_ENGINE, ocr: OcrOptions | None = None
) -> Document:
    """PDF file → Document (its pages read by `engine`, see budgetkg.pdf.ENGINES; pages that are
    images without text read by OCR with `ocr`). Raises InputError when the file is no readable
    budget."""
    source, pages = read_pdf(path, engine, ocr)
    return document_from_pages(source, pages, mappings)


def document_from_pages(
    source: SourceFile, pages: list[PageText], mappings: Mappings | None = None, settings: LayoutSettings | None = None
) -> Document:
    """The Document from all its pages in order, however they were read (at once, or in parts
    by several processes), with the geometry `settings` of mappings/layout.toml unless others
    are given (build.alternative_readings: another column strategy). Raises InputError when
    they hold no readable budget, or when the document does not say whose budget it is or for
    which year."""
    mappings = mappings or load_mappings()
    vocabulary = mappings.vocabulary
    raw_tables = find_tables(pages, mappings, settings)
    if not raw_tables:
        raise InputError(source.path, "contains no recognisable budget table")
    prose = read_prose(pages)
    year, department, kind, scope = _identity(pages, raw_tables, vocabulary)
    missing = [what for what, found in (("department", department), ("year", year)) if not found]
    if missing:
        raise InputError(
            source.path,
            f"{' and '.join(missing)} not found (looked on the cover, in the table titles and in the "
            f"{'/'.join(vocabulary.department_labels)} lines)",
        )
    known_units = {squash(department), *(squash(u) for u in prose.subordinate_units)}
    warnings: list[str] = []
    tables: list[Table] = []
    default_currency = next((t.currency_unit for t in raw_tables if t.currency_unit), "万元")
    for raw in raw_tables:
        pages_text = ",".join(str(p) for p in raw.pages)
        roles = _column_roles(raw, vocabulary)
        codes, labels = _row_evidence(raw, roles, vocabulary)
        found = recognise(raw, codes, labels, mappings)
        if found.kind is None:
            closest = f" (closest: {found.runner_up}, score {found.score})" if found.runner_up else ""
            warnings.append(
                f"table {raw.title!r} (page {pages_text}): no table kind fits{closest}; listed as table_no 0"
            )
        try:
            table = interpret(raw, found.kind, mappings, department, known_units, default_currency, found.scheme)
        except (ValueError, IndexError, InvalidOperation) as exc:
            warnings.append(f"table {raw.title!r} (page {pages_text}) could not be read: {exc}")
            continue
        tables.append(table)
        warnings.extend(f"{raw.title}: {w}" for w in raw.warnings)
    if not any(t.rows for t in tables):
        raise InputError(source.path, "contains no recognisable budget table")
    if any(p.extracted_by != TEXT_LAYER for p in pages):  # OCR'd pages (issue 15): provenance, digit guard
        from budgetkg.ocr import attach_provenance, digit_guard
        from budgetkg.validation import DEFAULT_TOLERANCE

        tables = [
            replace(t, ocr_findings=tuple(digit_guard([t], pages, DEFAULT_TOLERANCE)))
            for t in attach_provenance(tables, pages)
        ]
        warnings.extend(f for t in tables for f in t.ocr_findings)
    return Document(
        source=source,
        department=department,
        year=year or 0,
        kind=kind,
        tables=tuple(tables),
        prose=prose,
        warnings=tuple(warnings),
        scope=scope,
    )


def _identity(
    pages: list[PageText], tables: list[RawTable], vocabulary: Vocabulary
) -> tuple[int | None, str, str, str]:
    """Year, department, 预算/决算 and 部门/单位 from the document itself, never its file name."""
    cover = squash(pages[0].plain_text)
    if len(cover) < 6 and len(pages) > 1:
        cover += squash(pages[1].plain_text)
    flat = squash(" ".join(p.plain_text for p in pages[:2]))
    titles = " ".join(squash(t.title) for t in tables)
    kind = "决算" if "决算" in cover else "预算" if "预算" in cover else "决算" if "决算" in flat[:400] else "预算"
    scope = "单位" if re.search(r"单位(?:预算|决算)", cover) and not re.search(r"部门(?:预算|决算)", cover) else "部门"
    return _year(cover, flat, titles, pages), _department(pages, tables, cover, vocabulary), kind, scope


def _year(cover: str, flat: str, titles: str, pages: list[PageText]) -> int | None:
    """The budget's year: on the cover (2026年, or a year printed alone on a short cover — not
    on a table page serving as cover, whose amounts may look like years: 年度部门决算 / 2024),
    else in the first pages, else the year most table titles carry (Jiangsu prints no cover:
    2019年政府采购预算表), else the year of most 20xx年度 / 20xx年…预算 phrases of the text."""
    alone = re.search(r"(?<!\d)((?:19|20)\d{2})(?!\d)", cover) if len(cover) <= COVER_CHARS else None
    found = YEAR.search(cover) or alone or YEAR.search(flat)
    if found:
        return int(found.group(1))
    years = YEAR.findall(titles)
    if not years:
        text = squash(" ".join(p.plain_text for p in pages))
        years = re.findall(r"((?:19|20)\d{2})年(?:度|(?:部门|单位)?(?:预算|决算))", text)
    return int(max(sorted(set(years)), key=years.count)) if years else None


def _department(pages: list[PageText], tables: list[RawTable], cover: str, vocabulary: Vocabulary) -> str:
    """The issuer: a department label on the cover (预算主管部门：…); else the cover's title
    line without its year and 部门预算 words (国家信访局2026年度部门预算 → 国家信访局), if
    what is left is an organisation's name; confirmed (or, if the cover names none, found) by
    the name most labels over the tables print (单位名称：… / 部门：… in Jiangsu)."""
    label = re.compile(rf"(?:{'|'.join(map(re.escape, vocabulary.department_labels))})[：:](.+?)(?=单位[：:]|$)")
    department = ""
    cover_lines = [squash(ln) for p in pages[:2] for ln in p.plain_text.splitlines()]
    named = next((m.group(1) for ln in cover_lines[:8] if (m := label.search(ln))), None)
    if named:
        department = named
    else:
        rest = vocabulary.cover_words.sub("", cover)
        if vocabulary.is_org_name(vocabulary.own(rest)) and len(rest) <= vocabulary.max_name:
            department = rest
    names = [t.unit_name for t in tables if t.unit_name]
    if not names:
        table_pages = {n for t in tables for n in t.pages}
        names = [
            m.group(1)
            for p in pages
            if p.number in table_pages
            for ln in p.plain_text.splitlines()[:6]
            if (m := label.search(squash(ln)))
        ]
    if names:
        most = max(sorted(set(names)), key=names.count)
        if not department or (most in department or department in most):
            department = most
    return vocabulary.own(department)


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
    scheme: str | None = None,
) -> Table:
    """A RawTable read as the kind recognised for it (or, for none, by its own layout)."""
    vocabulary = mappings.vocabulary
    roles = _column_roles(raw, vocabulary)
    layout = kind.layout if kind else _guess_layout(raw, roles)
    currency = raw.currency_unit or default_currency
    rows: list[Row] = []
    if layout == "two-sided":
        rows = _two_sided(raw, roles, mappings, department)
    else:
        for pane in _panes(raw, vocabulary):
            pane_roles = _column_roles(pane, vocabulary)
            if layout == "by-unit" and "unit" not in pane_roles:
                found = _by_unit(pane, pane_roles, mappings, department, known_units, kind)
            else:  # a 单位名称 column names each row's unit (Hangzhou's 项目支出预算表)
                found = _listed(pane, pane_roles, mappings, department, known_units, kind)
            base = len(rows)
            rows.extend(replace(r, index=base + i) for i, r in enumerate(_single_unit_total(found), start=1))
    code_scheme = kind.code_scheme if kind else scheme
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


def _column_roles(raw: RawTable, vocabulary: Vocabulary) -> list[str]:
    """'code' | 'label' | 'amount' | 'text' | 'unit' per column, from header and contents.

    Named heuristic *code columns are never amounts*: a column whose header path names a
    code (科目编码, 功能科目编码 over a stray 合计, split 类/款/项 under 科目编码 / **) is a code
    column when most of its cells read as codes ([scoring] code_share: a footer merged into
    the last cell must not turn it into amounts, Suzhou p.14), and else text (单位编码 126001
    is an identifier, not a classification, Changsha p.22); a column without such a header
    is a code column when every cell is a notation of the national code list (Jiangsu, Suzhou
    print codes with no 编码 label over them). Amount columns are what is left and reads as
    amounts; a header of names or text (项目, 科目名称, 绩效目标) is never one, even when empty."""
    roles: list[str] = []
    share = vocabulary.scoring.code_share
    for i, path in enumerate(raw.header):
        leaf = squash(path[-1]) if path else ""
        cells = [squash(r.cells[i]) for r in raw.rows if i < len(r.cells) and r.cells[i].strip()]
        numeric = [c for c in cells if parse_amount(c) is not None]
        split = any(squash(p) in vocabulary.code_labels for p in path)
        pattern = SPLIT_CODE_CELL if split else CODE_CELL
        codes = [c for c in cells if pattern.match(c) and not _decimal(c)]
        if leaf in vocabulary.unit_columns or any(squash(p) in vocabulary.unit_columns for p in path[:-1]):
            roles.append("unit")
        elif vocabulary.is_code_header(path):
            coded = cells and len(codes) >= share * len(cells) and any(split or code_scheme(c) for c in codes)
            roles.append("code" if coded or not cells else "text")
        elif len(cells) >= 3 and all(_is_notation(c) for c in cells):
            roles.append("code")
        elif cells and _mostly_amounts(len(numeric), len(cells)) or not cells and not vocabulary.is_text_header(leaf):
            roles.append("amount")
        else:
            roles.append("text")
    if "label" not in roles:
        texts = [i for i, r in enumerate(roles) if r == "text"]
        if texts:  # the leftmost text column naming many rows (an empty margin column names none)
            filled = {i: sum(1 for r in raw.rows if i < len(r.cells) and r.cells[i].strip()) for i in texts}
            best = max(filled.values())
            roles[next(i for i in texts if filled[i] >= best / 2)] = "label"
    return roles


def _decimal(cell: str) -> bool:
    return "." in cell or "," in cell


def _is_notation(cell: str) -> bool:
    """A cell holding exactly a code of the national code list (no amount looks like one:
    amounts of 3, 5 or 7 digits are rarely all codes of one list)."""
    return bool(CODE_CELL.fullmatch(cell)) and any(cell in code_list(s) for s in ("functional", "economic"))


def _row_evidence(raw: RawTable, roles: list[str], vocabulary: Vocabulary) -> tuple[list[str], list[str]]:
    """The codes and the row labels of a table, for recognising its kind before it is read."""
    groups = _code_groups(raw, [i for i, r in enumerate(roles) if r == "code"], vocabulary, None)
    code_cols = groups[0] if groups else []
    label_cols = [i for i, r in enumerate(roles) if r in {"label", "text"}]
    codes: list[str] = []
    labels: list[str] = []
    printed: list[str] = []
    for row in raw.rows:
        cells = row.cells
        code = _code_from_columns([cells[i] for i in code_cols if i < len(cells)], printed) if code_cols else None
        label = next((cells[i].strip() for i in label_cols if i < len(cells) and cells[i].strip()), "")
        if code is None:
            code, label = _split_code(label)
        if code:
            codes.append(code)
        if label:
            labels.append(label)
    return codes, labels


def _mostly_amounts(numeric: int, cells: int) -> bool:
    """An amount column may hold a misprinted cell; that cell is then reported, not the column lost."""
    return numeric == cells or (cells >= 4 and numeric >= 0.9 * cells)


def _guess_layout(raw: RawTable, roles: list[str]) -> str:
    sides = {p[0] for p in raw.header if p}
    if {"收入", "支出"} <= sides:
        return "two-sided"
    if "code" in roles or any(BRACKET_CODE.match(r.cells[0]) for r in raw.rows if r.cells):
        return "coded"
    return "items"


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
    """A code printed in the name's own cell: bracketed ([2010301]行政运行, Shanghai), or
    before the name with a space or a dash (2010801-行政运行)."""
    m = BRACKET_CODE.match(label)
    if m:
        return m.group(1), label[m.end() :].strip()
    m = CODE_NAME.match(label.strip())
    if m:
        code, name = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        return code, name.strip()
    return None, label


def _panes(raw: RawTable, vocabulary: Vocabulary) -> list[RawTable]:
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
        labelled = any(vocabulary.is_text_header(leaf) or vocabulary.is_code_header((leaf,)) for leaf in chunks[0])
        if not labelled or not all(c == chunks[0] for c in chunks):
            continue  # each pane has its own name (or code) column
        panes = []
        for j in range(k):
            cols = range(j * width, (j + 1) * width)
            header = tuple(raw.header[i] for i in cols)
            rows = tuple(RawRow(tuple(r.cells[i] if i < len(r.cells) else "" for i in cols), r.pages) for r in raw.rows)
            panes.append(replace(raw, header=header, rows=tuple(r for r in rows if any(c.strip() for c in r.cells))))
        if len({p.header for p in panes}) < k:
            panes = [_name_pane(p, vocabulary) for p in panes]
        return panes
    return [raw]


def _name_pane(pane: RawTable, vocabulary: Vocabulary) -> RawTable:
    totals = [squash(c) for r in pane.rows for c in r.cells if vocabulary.is_total(c)]
    name = re.sub(r"(?:合计|总计)$", "", totals[-1]) if totals else ""
    if not name:
        return pane
    header = tuple(
        (name, *p) if p and not vocabulary.is_text_header(p[-1]) and not vocabulary.is_code_header(p) else p
        for p in pane.header
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
    columns; a 预算单位 column names the unit, and a row printing only a unit is its subtotal.
    A row printing only a code (its name and amounts on the next line, wrapped) lends the
    code to the next row that has a name but no code of its own."""
    vocabulary = mappings.vocabulary
    amount_cols = [i for i, r in enumerate(roles) if r == "amount"]
    code_cols = [i for i, r in enumerate(roles) if r == "code"]
    label_col = roles.index("label") if "label" in roles else None
    unit_col = roles.index("unit") if "unit" in roles else None
    text_cols = [i for i, r in enumerate(roles) if r == "text"]
    project_rows = kind is not None and kind.child_kind == "project"
    groups = _code_groups(raw, code_cols, vocabulary, kind.scheme if kind else None)
    code_cols = groups[0] if groups else []
    others = [(raw.header[g[0]][-1] if raw.header[g[0]] else "", g, []) for g in groups[1:]]
    rows: list[Row] = []
    printed: list[str] = []  # split 类/款/项 columns: the last value printed in each
    unit = department
    pending: str | None = None  # a code printed on a line of its own
    heads = _heads_units(raw, unit_col)
    kept = 0
    for index, raw_row in enumerate(raw.rows, start=1):
        cells = raw_row.cells
        if _column_numbers(cells) or _repeated_header(raw, raw_row):
            continue
        kept += 1
        label = cells[label_col].strip() if label_col is not None and label_col < len(cells) else ""
        code = _code_from_columns([cells[i] for i in code_cols if i < len(cells)], printed) if code_cols else None
        if code is None:
            code, label = _split_code(label)
        if code and not label and not any(i < len(cells) and cells[i].strip() for i in amount_cols):
            pending = code
            continue
        if pending and code is None and label:
            code = pending
        pending = None
        second = tuple(
            (name, other)
            for name, group, seen in others
            if (other := _code_from_columns([cells[i] for i in group if i < len(cells)], seen))
        )
        unit_row = False
        unit_cell = squash(cells[unit_col]) if unit_col is not None and unit_col < len(cells) else ""
        if unit_cell and not vocabulary.is_total(unit_cell):
            unit = unit_cell
            unit_row = code is None and (not label or squash(label) == unit_cell)
        elif code_cols and not code and squash(label) in known_units:
            unit_row, unit = True, squash(label)  # a coded table listing units without a unit column
        if unit_cell and (not label or unit_row):
            label = cells[unit_col].strip() if unit_col is not None else label
        if not label and code is None and not any(i < len(cells) and cells[i] for i in amount_cols):
            continue
        if vocabulary.is_total(label) or (not label and code is None and unit_col is None and kept == 1):
            row_kind = RowKind.TOTAL
        elif unit_row and index in heads:
            row_kind = RowKind.TOTAL  # the department over its indented units restates the total
        elif unit_row:
            row_kind = RowKind.UNIT
        elif code:
            row_kind = RowKind.CLASS
        elif project_rows and any(_printed(cells, i) for i in amount_cols):
            row_kind = RowKind.PROJECT  # a project carries money: a 绩效指标 line (产出指标) does not
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
                texts=second + _texts(raw, cells, text_cols),
            )
        )
    return rows


def _code_groups(raw: RawTable, code_cols: list[int], vocabulary: Vocabulary, scheme: str | None) -> list[list[int]]:
    """The classifications a table codes its rows in: adjacent split 类/款/项 columns are one,
    any other code column one of its own (功能科目编码 and 经济科目编码 on one row). The first
    is the row's code — or the first in the table kind's scheme; the others become texts of
    the row under their column's label, so no code is lost or mixed into another scheme."""
    groups: list[list[int]] = []
    for i in code_cols:
        split = any(squash(p) in vocabulary.code_labels for p in raw.header[i])
        previous = groups[-1] if groups else None
        if (
            split
            and previous
            and previous[-1] == i - 1
            and any(squash(p) in vocabulary.code_labels for p in raw.header[previous[-1]])
        ):
            previous.append(i)
        else:
            groups.append([i])
    if scheme and len(groups) > 1:
        groups.sort(key=lambda group: not _in_scheme(raw, group, scheme))
    return groups


def _in_scheme(raw: RawTable, group: list[int], scheme: str) -> bool:
    """The codes of these columns are of `scheme` (those whose scheme is known)."""
    codes = [_code_from_columns([r.cells[i] for i in group if i < len(r.cells)], []) for r in raw.rows]
    schemes = {code_scheme(c) for c in codes if c} - {None}
    return schemes == {scheme}


def _heads_units(raw: RawTable, unit_col: int | None) -> set[int]:
    """Rows (1-based) whose unit cell heads the indented unit cells after it: Hangzhou prints
    its department (杭州市气象局) over its units, itself again among them, indented (p.16)."""
    if unit_col is None:
        return set()
    named = [(i, r.cells[unit_col]) for i, r in enumerate(raw.rows, start=1) if unit_col < len(r.cells)]
    named = [(i, c) for i, c in named if c.strip() and not _column_numbers(raw.rows[i - 1].cells)]
    return {i for (i, c), (_, d) in zip(named, named[1:], strict=False) if _indent(d) > _indent(c)}


def _column_numbers(cells: tuple[str, ...]) -> bool:
    """A row of column numbers under the header (栏次 / ** / 1 2 3 …, Changsha, Hangzhou): its
    figures are 1, 2, 3 … in order, everything else a marker. Never data."""
    figures = [squash(c) for c in cells if squash(c) and squash(c) not in COLUMN_NUMBER_MARKS]
    markers = [c for c in cells if squash(c) in COLUMN_NUMBER_MARKS]
    if len(figures) < 3 and not (figures and markers):
        return False
    return (
        all(f.isdigit() for f in figures)
        and [int(f) for f in figures] == list(range(int(figures[0]), int(figures[0]) + len(figures)))
        and int(figures[0]) <= 1 + len(markers)
    )


def _filled(cells: tuple[str, ...], i: int) -> bool:
    return i < len(cells) and bool(cells[i].strip())


def _printed(cells: tuple[str, ...], i: int) -> bool:
    """The cell prints an amount (not blank, not a dash)."""
    parsed = parse_amount(cells[i]) if i < len(cells) else None
    return parsed is not None and not parsed[1]


def _texts(raw: RawTable, cells: tuple[str, ...], columns: list[int]) -> tuple[tuple[str, str], ...]:
    """Non-amount cells of a row (绩效目标 …) by their column's leaf label."""
    return tuple((raw.header[i][-1] if raw.header[i] else "", cells[i].strip()) for i in columns if cells[i].strip())


def _code_from_columns(values: list[str], printed: list[str]) -> str | None:
    """A code printed in one column, or split over 类/款/项 columns by position: a level left
    blank before a printed one is the last value printed in that column above (a 款 row may
    print only its own two digits); a full code in any column stands for itself."""
    values = [m.group(1) if (m := ANY_CODE_CELL.match(squash(v))) else "" for v in values]
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
    """收入 | 支出 side by side: read as lists of label/amount rows, one per pane. A line that
    breaks down the one above it (1.一般公共预算拨款 under 一、财政拨款; an indented 款 under
    its 类) is a sub-item: its parent_label names that line.

    Named heuristic *panes of a side*: a side may print several breakdowns side by side
    (Jiangsu p.1: 支出 by 功能分类 and by 支出用途, each with its 项目名称 and 金额): every name
    column of a side starts a pane of its own, read with the amount columns after it. A side's
    total printed across its panes (当年支出小计 … 支出合计, its label in the first pane's amount
    column, or in its name column with its amounts in the last pane's) is read once, with the
    amounts printed on its line."""
    vocabulary = mappings.vocabulary
    panes: list[tuple[Side, int, list[int]]] = []
    for i, path in enumerate(raw.header):
        top = path[0] if path else ""
        side = Side.INCOME if "收入" in top else Side.EXPENDITURE if "支出" in top else None
        if side is None:
            continue
        leaf = path[-1] if path else ""
        current = panes[-1] if panes and panes[-1][0] is side else None
        names = roles[i] != "amount" and (vocabulary.is_text_header(leaf) or current is None)
        if names and (current is None or current[2] or current[1] < 0):
            panes.append((side, i, []))
        elif current is None:
            panes.append((side, -1, [i]))
        elif roles[i] == "amount" or not vocabulary.is_text_header(leaf):
            current[2].append(i)
    if not panes:  # no 收入/支出 parents: split the columns in half
        half = len(raw.header) // 2
        panes = [
            (Side.INCOME, 0, [i for i in range(1, half) if roles[i] == "amount"]),
            (Side.EXPENDITURE, half, [i for i in range(half + 1, len(roles)) if roles[i] == "amount"]),
        ]
    rows: list[Row] = []
    index = 0
    for number, (side, label_col, amount_cols) in enumerate(panes):
        later = [c for s, _, cols in panes[number + 1 :] if s is side for c in cols]
        later_names = [n for s, n, _ in panes[number + 1 :] if s is side and n >= 0]
        listed: list[tuple[RawRow, str, list[int]]] = []
        for r in raw.rows:
            if _column_numbers(r.cells):
                continue
            label = r.cells[label_col] if 0 <= label_col < len(r.cells) else ""
            if label.strip():
                spans = (
                    later
                    and not any(_filled(r.cells, i) for i in amount_cols)
                    and not any(_filled(r.cells, i) for i in later_names)
                    and any(_filled(r.cells, i) for i in later)
                )  # its name in this pane, its amounts in the side's last: a line across the panes
                listed.append((r, label, later if spans else amount_cols))
                continue
            spanning = [r.cells[i] for i in amount_cols if i < len(r.cells) and r.cells[i].strip()]
            if later and len(spanning) == 1 and parse_amount(spanning[0]) is None:
                listed.append((r, spanning[0], later))
        parents = _parents([label for _, label, _ in listed], vocabulary)  # indentation counts
        for (raw_row, printed, cols), parent in zip(listed, parents, strict=True):
            label = printed.strip()
            index += 1
            rows.append(
                Row(
                    kind=RowKind.TOTAL if vocabulary.is_total(label) else RowKind.ITEM,
                    label=label,
                    code=None,
                    unit=department,
                    amounts=tuple(_amounts(raw_row.cells, cols, raw.header, mappings)),
                    problems=tuple(_unreadable(raw_row.cells, cols, raw.header)),
                    pages=raw_row.pages,
                    index=index,
                    side=side,
                    parent_label=parent,
                )
            )
    return rows


def _indent(label: str) -> int:
    return len(label) - len(label.lstrip(" "))


def _parents(labels: list[str], vocabulary: Vocabulary) -> list[str | None]:
    """For each line of a list, the line it is a sub-item of (or None): a deeper item number
    than the list's first line (any number under an unnumbered first line, as 一、… under
    年初结转和结余), or more indentation than its top lines. A total line starts a new list
    (the lines after 本年收入合计 are top lines again).

    Named heuristic *a numbered total printed before its parts*: Hangzhou opens its 支出 side
    with 一、本年支出合计 and lists the classes after it, unnumbered, until 二、年终结转结余
    (p.18): the lines up to the next item of the total's own number are its sub-items, and
    that next item is a top line again."""
    out: list[str | None] = [None] * len(labels)
    claimed: set[int] = set()
    for i, label in enumerate(labels):
        rank = vocabulary.rank(label)
        if not (rank and vocabulary.is_total(label)) or i + 1 >= len(labels) or vocabulary.rank(labels[i + 1]):
            continue
        end = next((k for k in range(i + 1, len(labels)) if vocabulary.rank(labels[k]) == rank), None)
        if end is None:
            continue
        for k in range(i + 1, end):
            out[k] = label.strip()
            claimed.add(k)
    start = 0
    while start < len(labels):
        end = next((i for i in range(start, len(labels)) if vocabulary.is_total(labels[i])), len(labels))
        block = [i for i in range(start, end) if i not in claimed]
        ranks = {i: vocabulary.rank(labels[i]) for i in block}
        top_rank = ranks[block[0]] if block else 0  # an unnumbered first line heads numbered ones
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
    indented under a category (基本工资 under 工资福利支出) are items of it, not categories.

    Named heuristic *unit rows by indentation*: where the rows are indented, a row at the
    outermost indentation whose next row is indented deeper heads a unit when its name is an
    organisation's (or a known unit's) — even when text wraps beside it (Guangzhou 卫生健康委's
    hospitals, whose 绩效目标 column carries their projects' wrapped text, p.40–111); once one
    such row is a unit, the outermost level is the units' level and every row heading deeper
    rows there is a unit, whatever its name (中共广州市委讲师团 among 宣传部's units, p.18);
    a deeper row is never a unit."""
    vocabulary = mappings.vocabulary
    amount_cols = [i for i, r in enumerate(roles) if r == "amount"]
    label_col = roles.index("label") if "label" in roles else 0
    text_cols = [i for i, r in enumerate(roles) if r == "text"]
    child = RowKind.PROJECT if kind is not None and kind.child_kind == "project" else RowKind.CATEGORY
    rows: list[Row] = []
    unit = department
    child_indent: int | None = None
    category: str | None = None
    listed = [
        (index, raw_row)
        for index, raw_row in enumerate(raw.rows, start=1)
        if label_col < len(raw_row.cells)
        and raw_row.cells[label_col].strip()
        and not _repeated_header(raw, raw_row)
        and not _column_numbers(raw_row.cells)
    ]
    indents = [_indent(r.cells[label_col]) for _, r in listed if not vocabulary.is_total(r.cells[label_col])]
    outer = min(indents, default=0)
    indented = any(i > outer for i in indents)
    heading = [
        indented
        and _indent(r.cells[label_col]) == outer
        and position + 1 < len(listed)
        and _indent(listed[position + 1][1].cells[label_col]) > outer
        and not vocabulary.is_total(r.cells[label_col])
        for position, (_, r) in enumerate(listed)
    ]
    names = [squash(r.cells[label_col]) for _, r in listed]
    unit_level = any(h and (n in known_units or vocabulary.is_org_name(n)) for h, n in zip(heading, names, strict=True))
    for position, (index, raw_row) in enumerate(listed):
        cells = raw_row.cells
        label = cells[label_col].strip()
        heads = heading[position]
        texts = _texts(raw, cells, text_cols)
        name = squash(label)
        row_kind: RowKind = child
        parent: str | None = unit
        if mappings.vocabulary.is_total(name):
            row_kind, parent = RowKind.TOTAL, None
        elif (
            heads
            and (unit_level or name in known_units or vocabulary.is_org_name(name))
            or not (indented and _indent(cells[label_col]) > outer)
            and _is_unit(name, known_units, bool(texts), child, vocabulary)
        ):
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


def _repeated_header(raw: RawTable, row: RawRow) -> bool:
    """A header printed again over a continuation page and read as a row (支出项目类别（资金
    使用单位） | 总计 …, Guangzhou 卫生健康委 p.41–113): most of its cells are its columns' labels."""
    cells = [(squash(c), raw.header[i]) for i, c in enumerate(row.cells) if c.strip() and i < len(raw.header)]
    same = sum(1 for c, path in cells if c in {squash(p) for p in path})
    return len(cells) >= 2 and same >= 0.5 * len(cells)


def _is_unit(name: str, known: set[str], has_text: bool, child: RowKind, vocabulary: Vocabulary) -> bool:
    if name in known or vocabulary.own(name) in known:
        return True
    if child is RowKind.PROJECT and has_text:
        return False
    return vocabulary.is_org_name(name)
