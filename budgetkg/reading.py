"""Stage 3½: the reader checks what it read, before any graph is built.

A budget document is full of redundancy: a parent code is the sum of its children, a row's
total column the sum of its part columns, a table's total row the sum of its top-level rows, a
unit's subtotal the sum of the rows under it, each side of the summary table the sum of its
lines and the two sides equal, and the same quantity is printed in several tables. The
published documents balance, so a check that fails on a table is, until the page shows
otherwise, a *misreading*. This module runs those checks on `model.Document` alone (no RDF,
no SHACL: milliseconds per document) and gives every table a reading status:

- ``balanced``: read, and every check that applies holds (up to the rounding tolerance);
- ``failing``: read, and N checks fail — each with its row, column, printed and expected
  figure and page;
- ``empty``: a table of a known kind printed without a figure — no row or no amount read, and
  no number on its pages left outside a cell (12-cn's and 14-cs's 政府性基金 tables: a header,
  a blank 合计 or none, and a 说明); whether it carries its 空表说明 is the audit's question
  (claims.completeness), not the reader's;
- ``not-understood``: no table kind, or no amounts or no rows while its pages print numbers
  that landed in no cell (nothing to check, and something was missed).

It also counts the numbers printed on a table's pages that landed in no cell of any table
(`unplaced_numbers`), from the pdf stage's `PageText`: a number that the reader dropped is
a misreading no arithmetic can reveal when the whole row is missing.

`best_reading` keeps, of several candidate readings of one table (column boundaries from
rules vs from gutters, a header assigned differently …), the one with the fewest failing
checks; it only compares readings, it never changes a printed figure. `improve_reading` applies
it to every table of a document that does not balance, given other ways to read the document.

The SHACL shapes in shapes/arithmetic.ttl check the same arithmetic on the graph; the
tolerance is the one of validation.py (`DEFAULT_TOLERANCE`, `--tolerance`): one printed figure
may be off by the tolerance, so a comparison of one figure with the sum of n others allows
tolerance × (n + 1). The column sum rules (which column is the total of which) are derived
here once, from the header paths and mappings/columns.toml, and the graph stage emits them
as `bk:ColumnSumRule` for the SHACL check.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from budgetkg.codelists import parent_code
from budgetkg.mapping import Mappings, load_mappings, squash
from budgetkg.model import Document, InputError, PageText, Row, RowKind, Side, Table

#: Status of one table's reading, as written to reading.json.
BALANCED, FAILING, EMPTY, NOT_UNDERSTOOD = "balanced", "failing", "empty", "not-understood"


class Check(StrEnum):
    """The arithmetic a table's reading must satisfy (names as written to reading.json)."""

    PARENT_CHILDREN = "parent-children"  # 类 = Σ款, 款 = Σ项 (per unit and column)
    ROW_PARTS = "row-parts"  # a row's total column = Σ its part columns (column sum rules)
    TABLE_TOTAL = "table-total"  # the total row = Σ top-level rows (类 rows, or unit rows)
    UNIT_SUBTOTAL = "unit-subtotal"  # a unit's row = Σ the categories / projects under it
    SIDE_TOTAL = "side-total"  # two-sided tables: a side's total = Σ its lines since the last total
    INCOME_EXPENDITURE = "income-expenditure"  # 本年收入合计 = 本年支出合计, 收入总计 = 支出总计
    SAME_QUANTITY = "same-quantity"  # the same quantity printed in several tables agrees
    OCR_DIGIT_GUARD = "ocr-digit-guard"  # budgetkg/ocr.py's guard: an OCR'd figure the arithmetic doubts (issue 15)


@dataclass(frozen=True, slots=True)
class Failure:
    """One failing check of a table: what was printed where, and what the other figures imply."""

    check: str
    row: str  # the row's label as printed
    column: str  # the column path, " / "-joined
    printed: Decimal
    expected: Decimal
    page: int
    detail: str = ""  # e.g. the other table of a same-quantity check

    @property
    def difference(self) -> Decimal:
        return self.expected - self.printed

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "check": self.check,
            "row": self.row,
            "column": self.column,
            "printed": str(self.printed),
            "expected": str(self.expected),
            "difference": str(self.difference),
            "page": self.page,
        }
        if self.detail:
            out["detail"] = self.detail
        return out

    def text(self) -> str:
        if self.check == Check.OCR_DIGIT_GUARD:  # the guard's finding says it all: figure, page, box, candidate
            return f"{self.check}: {self.detail}"
        extra = f"; {self.detail}" if self.detail else ""
        return (
            f"{self.check}: “{self.row}”, column “{self.column}”: printed {self.printed}, "
            f"expected {self.expected} (difference {self.difference}; page {self.page}{extra})"
        )


@dataclass(frozen=True, slots=True)
class TableReading:
    """The reading status of one table."""

    title: str
    kind: str
    number: int
    pages: tuple[int, ...]
    status: str  # BALANCED | FAILING | EMPTY | NOT_UNDERSTOOD
    checks: int  # comparisons made
    failures: tuple[Failure, ...] = ()
    reason: str = ""  # why not understood
    unplaced: int = 0  # numbers printed on its pages that landed in no cell

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "title": self.title,
            "kind": self.kind,
            "number": self.number,
            "pages": list(self.pages),
            "status": self.status,
            "checks": self.checks,
            "failing_checks": [f.as_json() for f in self.failures],
            "unplaced_numbers": self.unplaced,
        }
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True, slots=True)
class UnplacedNumbers:
    """Numbers printed on a table page that landed in no cell (per page: the figures as printed)."""

    pages: tuple[tuple[int, tuple[str, ...]], ...] = ()

    def on(self, pages: Iterable[int]) -> int:
        wanted = set(pages)
        return sum(len(found) for number, found in self.pages if number in wanted)

    @property
    def total(self) -> int:
        return sum(len(found) for _, found in self.pages)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """What a parse worker hands back (and the build caches): the Document and the numbers its
    table pages print outside any cell (which need the pages, gone once the worker is done)."""

    document: Document
    unplaced: UnplacedNumbers = field(default_factory=UnplacedNumbers)


@dataclass(frozen=True, slots=True)
class DocumentReading:
    file: str
    tables: tuple[TableReading, ...]
    unplaced: UnplacedNumbers = field(default_factory=UnplacedNumbers)

    def counts(self) -> dict[str, int]:
        c = Counter(t.status for t in self.tables)
        return {
            "tables": len(self.tables),
            "balanced": c.get(BALANCED, 0),
            "failing": c.get(FAILING, 0),
            "failing_checks": sum(len(t.failures) for t in self.tables if t.status == FAILING),
            "not_understood": c.get(NOT_UNDERSTOOD, 0),
            "empty": c.get(EMPTY, 0),
            "unplaced_numbers": self.unplaced.total,
        }

    def summary(self) -> str:
        """One line, e.g. “12 tables, 11 balanced, 1 with 2 failing checks, 0 not understood”."""
        c = self.counts()
        return (
            f"{c['tables']} tables, {c['balanced']} balanced, {c['failing']} with {c['failing_checks']} failing "
            f"checks, {c['not_understood']} not understood, {c['empty']} empty; "
            f"{c['unplaced_numbers']} numbers in no cell"
        )

    def as_json(self) -> dict[str, object]:
        counts = self.counts()
        return {  # the counts also flat, beside the one-line summary: a table row per document
            "file": self.file,
            "reading": self.summary(),
            **counts,
            "summary": counts,
            "tables": [t.as_json() for t in self.tables],
            "unplaced_numbers": {str(page): list(found) for page, found in self.unplaced.pages},
        }


# --- column sum rules (shared with the graph stage) ------------------------------------------


@dataclass(frozen=True, slots=True)
class SumRule:
    """In every row of a table, column `total` = Σ columns `parts` (keys of model.Amount)."""

    total: str
    parts: tuple[str, ...]


def measures(table: Table) -> dict[str, tuple[str, ...]]:
    """Column key → printed column path, for the columns of a table that carry amounts."""
    return {a.measure_key: a.measure for r in table.rows for a in r.amounts}


def column_sum_rules(table: Table, mappings: Mappings | None = None) -> tuple[SumRule, ...]:
    """Which columns of a row add up to which total column, from the header paths: a total
    (合计/小计/总计, `total = true` in mappings/columns.toml) sums the other columns of its
    group — each column beside it, and each group beside it through that group's own total
    where it prints one (else through its columns, group by group, at any depth: the 三公
    table of 08-sh puts 公务用车购置及运行费 / 小计 · 购置费 · 运行费 under “三公”经费预算数 / 合计).
    Another total beside it (总计 beside 合计) is no part of it, nor is a “其中…” (of which)
    column after a group's first column: a share of that amount, not a further part (14-cs
    prints 本级财政拨款 / 金额 · 其中:经费拨款, and 公务用车购置及运行费 · 其中：购置 · 其中：运行费
    side by side); after a total, “其中…” columns are its parts (小计 · 其中：基本支出 · 项目支出).
    A lone “其中…” column sums nothing.
    Two-sided tables have none (their columns are the sides). A column without a printed path
    (a rotated or unruled page may give one) is never a total."""
    mappings = mappings or load_mappings()
    if not table.rows or table.rows[0].side is not None:
        return ()
    amounts = measures(table)
    is_total = {k: bool(p and (c := mappings.column(p[-1])) and c.total) for k, p in amounts.items()}

    def children(prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        """The paths directly under `prefix`: a column's own path, or a sub-group's prefix."""
        out: list[tuple[str, ...]] = []
        for p in amounts.values():
            if len(p) > len(prefix) and p[: len(prefix)] == prefix and p[: len(prefix) + 1] not in out:
                out.append(p[: len(prefix) + 1])
        return out

    by_path = {p: k for k, p in amounts.items()}

    def contribution(prefix: tuple[str, ...]) -> list[str]:
        """The columns whose sum is everything under `prefix`: its own total if it prints one."""
        if prefix in by_path:
            return [by_path[prefix]]
        below = children(prefix)
        totals = [by_path[c] for c in below if c in by_path and is_total[by_path[c]]]
        if totals:
            return totals[:1]
        if len(below) > 1 and below[0] in by_path and all(c[-1].startswith("其中") for c in below[1:]):
            return [by_path[below[0]]]  # a group's amount, then what of it goes where (14-cs 金额 · 其中:…)
        return [k for c in below for k in contribution(c)]

    rules = []
    for key, path in amounts.items():
        if not is_total[key]:
            continue
        parts: list[str] = []
        broken_down = False  # the columns since the last one not “其中…” break that one down
        for child in children(path[:-1]):
            total_here = child in by_path and is_total[by_path[child]]
            if not child[-1].startswith("其中"):
                broken_down = not total_here
            elif broken_down:
                continue  # 公务用车购置及运行费 · 其中：公务用车购置 · 其中：运行费 (14-cs): a share of it
            if total_here:
                continue  # the total itself, or another total beside it
            parts.extend(k for k in contribution(child) if k not in parts)
        if len(parts) == 1 and amounts[parts[0]][-1].startswith("其中"):
            continue
        if parts:
            rules.append(SumRule(key, tuple(sorted(parts))))
    return tuple(rules)


# --- the checks --------------------------------------------------------------------------------


class _Checker:
    """Collects comparisons of a printed figure with the figures that imply it."""

    def __init__(self, tolerance: Decimal, table: Table | None = None) -> None:
        self.tolerance = tolerance
        self.count = 0
        self.failures: list[Failure] = []
        paths = measures(table) if table is not None else {}
        self.labels = {key: " / ".join(path) or key for key, path in paths.items()}

    def label(self, key: str) -> str:
        """A column as printed: its header path."""
        return self.labels.get(key, key)

    def compare(
        self, check: Check, row: Row, column: str, printed: Decimal, parts: Sequence[Decimal], detail: str = ""
    ) -> None:
        """printed vs Σ parts, within tolerance × (n + 1) for n parts."""
        self.count += 1
        expected = sum(parts, Decimal(0))
        if abs(expected - printed) > self.tolerance * (len(parts) + 1):
            self.failures.append(Failure(check.value, row.label, column, printed, expected, _page(row.pages), detail))


def _page(pages: Sequence[int]) -> int:
    """The first page of a row or table (0 if the reader recorded none)."""
    return pages[0] if pages else 0


def _known_kind(table: Table) -> bool:
    return table.kind != "unknown" and table.number != 0


def _not_understood(table: Table) -> str:
    if not _known_kind(table):
        return "no table kind fits its title"
    if not table.rows:
        return "no rows read"
    if not any(r.amounts for r in table.rows):
        return "no amounts read"
    return ""


def check_table(table: Table, tolerance: Decimal, final: bool = False, mappings: Mappings | None = None) -> _Checker:
    """Run every check that applies to one table (not the cross-table ones). A table of no
    known kind is checked too where it has amounts: its failures tell how far off it is."""
    mappings = mappings or load_mappings()
    checker = _Checker(tolerance, table)
    if not any(r.amounts for r in table.rows):
        return checker
    two_sided = any(r.side is not None for r in table.rows)
    if two_sided:
        _side_totals(table, checker)
        _income_expenditure(table, checker, final, mappings)
    else:
        _row_parts(table, checker, mappings)
        _parent_children(table, checker, mappings)
        _table_total(table, checker)
        _unit_subtotals(table, checker, mappings)
    return checker


def _values(row: Row) -> dict[str, Decimal]:
    return {a.measure_key: a.value for a in row.amounts}


def _row_parts(table: Table, checker: _Checker, mappings: Mappings | None) -> None:
    rules = column_sum_rules(table, mappings)
    for row in table.rows:
        values = _values(row)
        for rule in rules:
            parts = [values[p] for p in rule.parts if p in values]
            if rule.total in values and parts:
                checker.compare(Check.ROW_PARTS, row, checker.label(rule.total), values[rule.total], parts)


def _parent_children(table: Table, checker: _Checker, mappings: Mappings) -> None:
    """类 = Σ款, 款 = Σ项, per unit and column; a code printed twice for one unit (two panes)
    is compared as printed first."""
    coded: dict[tuple[str, str], Row] = {}
    children: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in table.rows:
        if not row.code:
            continue
        unit = mappings.org_key(row.unit)
        coded.setdefault((unit, row.code), row)
        parent = parent_code(row.code)
        if parent:
            children[(unit, parent)].append(row)
    for key, kids in children.items():
        parent_row = coded.get(key)
        if parent_row is None:
            continue
        parent_values = _values(parent_row)
        for column, printed in parent_values.items():
            parts = [v for kid in kids if (v := _values(kid).get(column)) is not None]
            if parts:
                checker.compare(Check.PARENT_CHILDREN, parent_row, checker.label(column), printed, parts)


def _table_total(table: Table, checker: _Checker) -> None:
    """The total row = Σ unit rows where the table lists units, else Σ the 类 (3-digit) rows."""
    totals = [r for r in table.rows if r.kind is RowKind.TOTAL and r.side is None]
    units = [r for r in table.rows if r.kind is RowKind.UNIT]
    tops = units or [r for r in table.rows if r.kind is RowKind.CLASS and r.code and len(r.code) == 3]
    if not tops:
        return
    for total in totals:
        for column, printed in _values(total).items():
            parts = [v for top in tops if (v := _values(top).get(column)) is not None]
            if parts:
                checker.compare(Check.TABLE_TOTAL, total, checker.label(column), printed, parts)


def _unit_subtotals(table: Table, checker: _Checker, mappings: Mappings) -> None:
    """A unit's row = Σ the categories or projects of that organisation (names through the
    aliases of mappings/organisations.toml, as the graph identifies them)."""
    items: dict[str, list[Row]] = defaultdict(list)
    for row in table.rows:
        if row.kind in (RowKind.CATEGORY, RowKind.PROJECT):
            items[mappings.org_key(row.unit)].append(row)
    for unit in (r for r in table.rows if r.kind is RowKind.UNIT):
        under = items.get(mappings.org_key(unit.unit), [])
        if not under:
            continue
        for column, printed in _values(unit).items():
            parts = [v for item in under if (v := _values(item).get(column)) is not None]
            if parts:
                checker.compare(Check.UNIT_SUBTOTAL, unit, checker.label(column), printed, parts)


def _side_totals(table: Table, checker: _Checker) -> None:
    """A side's total = Σ its lines since the previous total of that side, plus that total
    (总计 = 本年收入合计 + 上年结转 …); sub-items (lines with a parent line) are not counted."""
    for side in (Side.INCOME, Side.EXPENDITURE):
        rows = [r for r in table.rows if r.side is side]
        since: list[Row] = []
        for row in rows:
            if row.kind is RowKind.TOTAL:
                for column, printed in _values(row).items():
                    parts = [v for line in since if (v := _values(line).get(column)) is not None]
                    if parts:
                        checker.compare(Check.SIDE_TOTAL, row, checker.label(column), printed, parts)
                since = [row]
            elif not (row.kind is RowKind.ITEM and row.parent_label):
                since.append(row)


def _side_total_value(table: Table, row: Row, mappings: Mappings) -> Decimal | None:
    """A side total's figure: its only column, or its total column."""
    if len(row.amounts) == 1:
        return row.amounts[0].value
    for amount in row.amounts:
        label = mappings.column(amount.measure[-1]) if amount.measure else None
        if label is not None and label.total:
            return amount.value
    return None


def _income_expenditure(table: Table, checker: _Checker, final: bool, mappings: Mappings) -> None:
    """收入总计 = 支出总计; where no 总计 is printed, 本年收入合计 = 本年支出合计. Where it is, the 本年
    totals may differ by the carry-overs (12-cn: 本年收入合计 48,362.82 + 上年结转 2,254.12 =
    本年支出合计 50,616.94), and the 总计 alone must agree — always so for a 决算."""
    totals = {side: [r for r in table.rows if r.side is side and r.kind is RowKind.TOTAL] for side in Side}
    grand = all(any("总计" in squash(r.label) for r in totals[side]) for side in Side)
    if grand:
        totals = {side: [r for r in rows if "总计" in squash(r.label)] for side, rows in totals.items()}
    elif final:
        return  # a 决算 without 总计: its sides differ by the 年初/年末结转和结余
    if not totals[Side.INCOME] or not totals[Side.EXPENDITURE]:
        return
    left, right = totals[Side.INCOME][-1], totals[Side.EXPENDITURE][-1]
    a, b = _side_total_value(table, left, mappings), _side_total_value(table, right, mappings)
    if a is not None and b is not None:
        checker.compare(Check.INCOME_EXPENDITURE, left, f"≠ “{right.label}”", a, [b])


def _same_quantities(doc: Document, mappings: Mappings, tolerance: Decimal) -> dict[int, _Checker]:
    """The same quantity (the table kinds' `quantities` in mappings/tables/*.toml) printed in
    several tables must agree: on the total row and on coded rows, per unit. A disagreement is
    listed on both tables (one of them is misread; only the page tells which)."""
    found: dict[tuple[str, str, str], list[tuple[int, Row, Decimal, str]]] = defaultdict(list)
    for index, table in enumerate(doc.tables):
        spec = mappings.by_kind(table.kind)
        if spec is None or not spec.quantities:
            continue
        for row in table.rows:
            if not (row.code or (row.kind is RowKind.TOTAL and row.side is None)):
                continue
            for amount in row.amounts:
                quantity = spec.quantities.get(amount.measure_key)
                if quantity:
                    key = (quantity, row.code or "total", mappings.org_key(row.unit))
                    found[key].append((index, row, amount.value, " / ".join(amount.measure)))
    checkers: dict[int, _Checker] = defaultdict(lambda: _Checker(tolerance))
    for (quantity, _, _), prints in found.items():
        ref_index, ref_row, ref_value, ref_column = prints[0]
        ref_title = doc.tables[ref_index].title
        for index, row, value, column in prints[1:]:
            if index == ref_index:
                continue
            checker = checkers[index]
            before = len(checker.failures)
            detail = f"{quantity}: {ref_value} in “{ref_title}” p.{_page(ref_row.pages)}"
            checker.compare(Check.SAME_QUANTITY, row, column, value, [ref_value], detail)
            if len(checker.failures) > before:  # listed on the first table too
                back = f"{quantity}: {value} in “{doc.tables[index].title}” p.{_page(row.pages)}"
                page = _page(ref_row.pages)
                failure = Failure(Check.SAME_QUANTITY.value, ref_row.label, ref_column, ref_value, value, page, back)
                checkers[ref_index].failures.append(failure)
    return checkers


def check_document(
    doc: Document,
    tolerance: Decimal | str | None = None,
    unplaced: UnplacedNumbers | None = None,
    mappings: Mappings | None = None,
) -> DocumentReading:
    """The reading status of every table of a document."""
    from budgetkg.validation import parse_tolerance

    tol = parse_tolerance(tolerance)
    mappings = mappings or load_mappings()
    unplaced = unplaced or UnplacedNumbers()
    cross = _same_quantities(doc, mappings, tol)
    readings = []
    for index, table in enumerate(doc.tables):
        reason = _not_understood(table)
        checker = check_table(table, tol, doc.kind == "决算", mappings)
        failures = list(checker.failures)
        count = checker.count
        if index in cross:
            failures.extend(cross[index].failures)
            count += cross[index].count
        # the OCR digit guard's findings (issue 15): a misreading of a scan, with page, box and candidate
        failures.extend(
            Failure(Check.OCR_DIGIT_GUARD, "", "", Decimal(0), Decimal(0), _page(table.pages), finding)
            for finding in table.ocr_findings
        )
        count += len(table.ocr_findings)
        outside = unplaced.on(table.pages)
        status = NOT_UNDERSTOOD if reason else FAILING if failures else BALANCED
        if reason and _known_kind(table) and not outside:  # nothing read, and nothing missed
            status, reason = EMPTY, f"printed without figures ({reason}, no number on its pages outside a cell)"
        readings.append(
            TableReading(
                title=table.title,
                kind=table.kind,
                number=table.number,
                pages=table.pages,
                status=status,
                checks=count,
                failures=tuple(failures),
                reason=reason,
                unplaced=outside,
            )
        )
    return DocumentReading(doc.source.name, tuple(readings), unplaced)


def failing_checks(table: Table, tolerance: Decimal | str | None = None, final: bool = False) -> int:
    """How many checks of this table fail (∞-like for a table not understood)."""
    from budgetkg.validation import parse_tolerance

    if _not_understood(table):
        return 1 << 30
    return len(check_table(table, parse_tolerance(tolerance), final).failures)


def best_reading(candidates: Sequence[Table], tolerance: Decimal | str | None = None, final: bool = False) -> Table:
    """Of several readings of one table (column boundaries from rules or from gutters, a header
    assigned differently …), the one with the fewest failing checks, where each printed figure
    a reading holds fewer than the fullest one counts as a failing check too (a reading cannot
    balance by losing figures: 11-js's summary read with gutters lost five); on a tie, the one
    holding more figures, then the first. Readings are compared, never altered: a figure is
    kept exactly as printed."""
    if not candidates:
        raise ValueError("best_reading needs at least one candidate reading")
    figures = [sum(1 for r in t.rows for a in r.amounts if not a.blank) for t in candidates]
    most = max(figures)

    def key(index: int) -> tuple[int, int, int]:
        return failing_checks(candidates[index], tolerance, final) + most - figures[index], -figures[index], index

    return candidates[min(range(len(candidates)), key=key)]


def improve_reading(
    document: Document,
    alternatives: Sequence[tuple[str, Callable[[frozenset[int]], Document]]],
    tolerance: Decimal | str | None = None,
) -> Document:
    """The document with each table that does not balance replaced by its best reading among
    `alternatives`: (name, a function reading the document again another way, e.g. with
    columns from gutters instead of rules, given the numbers of the pages it must read: those of
    the failing tables). An alternative is read only when some table fails (and only until none
    does); its tables are matched to the failing ones by title and first page; one that cannot
    be read (InputError) is skipped; `best_reading` chooses, so a printed figure is never
    changed, only read differently. Each replacement is noted in the document's warnings."""
    from budgetkg.validation import parse_tolerance

    if not alternatives:
        return document
    tol = parse_tolerance(tolerance)
    final = document.kind == "决算"
    # a table of no kind stays one whatever its columns (the kind comes from its title and rows)
    failing = {
        i
        for i, t in enumerate(document.tables)
        if t.kind != "unknown" and t.number != 0 and failing_checks(t, tol, final)
    }
    if not failing:
        return document
    candidates: dict[int, list[tuple[str, Table]]] = {i: [] for i in failing}
    keys = {(squash(t.title), t.pages[:1]): i for i, t in enumerate(document.tables) if i in failing}
    needed = frozenset(p for i in failing for p in document.tables[i].pages)
    for name, read_again in alternatives:
        try:
            again = read_again(needed)
        except InputError:
            continue
        for table in again.tables:
            index = keys.get((squash(table.title), table.pages[:1]))
            if index is not None:
                candidates[index].append((name, table))
        if all(any(not failing_checks(t, tol, final) for _, t in found) for found in candidates.values()):
            break
    tables = list(document.tables)
    notes = []
    for index, found in candidates.items():
        original = tables[index]
        best = best_reading([original, *(t for _, t in found)], tol, final)
        if best is not original:
            name = next(n for n, t in found if t is best)
            notes.append(
                f"table {original.title!r} (page {_page(original.pages)}): read again ({name}): "
                f"{_verdict(best, tol, final)} instead of {_verdict(original, tol, final)}"
            )
            tables[index] = best
    if not notes:
        return document
    return replace(document, tables=tuple(tables), warnings=(*document.warnings, *notes))


def _verdict(table: Table, tolerance: Decimal, final: bool) -> str:
    """“3 failing checks, 41 figures”, or why the table is not understood."""
    reason = _not_understood(table)
    if reason:
        return f"not understood ({reason})"
    figures = sum(1 for r in table.rows for a in r.amounts if not a.blank)
    return f"{failing_checks(table, tolerance, final)} failing checks, {figures} figures"


# --- numbers printed outside any cell ---------------------------------------------------------

#: A figure as printed in a budget table: 1,234.56 / 1234 / -27.07 (full-width minus as well).
_NUMBER = re.compile(r"^[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
#: Digits inside a label or text (项目 “2025年…平台”, 表3-1): they are part of that cell; with
#: their sign where a sign can stand — at the start, after a space or a bracket — as the page
#: prints them (12-cn's 增减(%) column: “-60.86%”), never a hyphen inside a project number
#: (01-gz: “GZIT2022-SM-W-C-051103”, whose 051103 wraps onto a line of its own).
_DIGITS = re.compile(r"(?:(?<![^\s(（])[-−])?\d[\d,]*(?:\.\d+)?")
#: An amount glued to the next label (`16,474.82一、一般公共服务支出`, seen in 12-cn): a figure no
#: cell holds. One or two decimals and no 年/月/日 after it: "1.2026年…" is an ordinal and a year.
_GLUED = re.compile(r"(?<![\d.,])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)\.\d{1,2}(?![\d年月日号])")
#: A figure in a sentence carries its unit after it ("金额 21145.90 万元", "12,193.49 平方米"): a
#: table cell never does (its unit is printed once over the table). Seen in the sample, p.64.
_SENTENCE_UNIT = re.compile(r"^(?:万元|千元|亿元|元|平方米|辆|台|个|人|名|家|项|次|年|月|日|%|％)")
#: A page number line: "5", "- 5 -", "—5—", "第5页", "5/20".
_PAGE_NUMBER = re.compile(r"^[-—–\s]*(?:第\s*)?\d{1,4}(?:\s*页)?(?:\s*/\s*\d{1,4})?[-—–\s]*$")


#: What a column-number row prints beside its numbers: 栏次/行次, 甲 乙 丙, ** (14-cs, 15-hz).
_COLUMN_NUMBER_MARKER = re.compile(r"^(?:栏次|行次|[甲乙丙丁]|\*+|[-—–])$")


def _is_column_number_row(tokens: list[str]) -> bool:
    """The 栏次 row under a header (1 2 3 …, after ** or 甲 乙 markers): consecutive small
    integers from 1 or 2 and nothing but markers beside them — not data."""
    nums = [t for t in tokens if t.isdigit()]
    if len(nums) < 2 or any(not t.isdigit() and not _COLUMN_NUMBER_MARKER.match(t) for t in tokens):
        return False
    values = [int(t) for t in nums]
    return values == list(range(values[0], values[0] + len(values))) and values[0] <= 2


def page_numbers_printed(page: PageText, years: Iterable[int] = ()) -> list[str]:
    """The figures printed on a page, as printed: whole words that are numbers, and decimal
    amounts glued to a neighbouring label. Skipped (never data): page-number lines (the first
    or last line of the page, a number alone — heuristic "page number", seen on every document),
    column-number rows (栏次 1 2 3 …, seen in 14-cs and 15-hz), table labels (表 2, 公开 02 表),
    `years` standing alone (the 决算 of 10-sh prints "2024" on a line of its own over a title)
    and figures in a sentence (followed by their unit: prose after the last table, sample p.64)."""
    skip_years = {str(y) for y in years}
    out: list[str] = []
    lines = page.lines
    for i, line in enumerate(lines):
        text = line.text.strip()
        if (i == 0 or i == len(lines) - 1) and _PAGE_NUMBER.fullmatch(text):
            continue
        tokens = [t for w in line.words for t in w.text.split()]
        if _is_column_number_row(tokens):
            continue
        for k, token in enumerate(tokens):
            if (k and tokens[k - 1].endswith("表")) or (k + 1 < len(tokens) and tokens[k + 1].startswith("表")):
                continue  # a table's label: 表 2, 部门公开表 6, 公开 02 表 (07-sz, 12-cn, 13-suz)
            if token in skip_years:
                continue
            if k + 1 < len(tokens) and _SENTENCE_UNIT.match(tokens[k + 1]):
                continue  # a figure in a sentence of prose on the table's page
            if _NUMBER.fullmatch(token):
                out.append(token.replace("−", "-"))
            else:
                out.extend(m.group(0).replace("−", "-") for m in _GLUED.finditer(token))
    return out


def _cell_numbers(table: Table) -> Iterator[tuple[int, str]]:
    """(page, figure) for every figure a table's cells hold: amounts, codes (and the 类/款/项
    parts of split codes), the digits in labels, texts and the title."""
    for row in table.rows:
        for amount in row.amounts:
            if not amount.blank and amount.printed:
                for page in row.pages:
                    yield page, amount.printed.replace("−", "-")
        texts = [row.label, *(t for _, t in row.texts), row.parent_label or ""]
        codes = []
        if row.code:
            c = row.code
            codes = [c, c[:3], c[3:5], c[5:7], c[3:], c[5:]]
        for page in row.pages:
            for code in codes:
                if code:
                    yield page, code
            for text in texts:
                for m in _DIGITS.finditer(text):
                    yield page, m.group(0).replace("−", "-")
    for page in table.pages:
        for m in _DIGITS.finditer(table.title):
            yield page, m.group(0)


def unplaced_numbers(doc: Document, pages: Sequence[PageText]) -> UnplacedNumbers:
    """Per table page, the figures printed on it that no cell of any table read from it holds."""
    placed: dict[int, Counter[str]] = defaultdict(Counter)
    for table in doc.tables:
        for page, figure in _cell_numbers(table):
            placed[page][_plain(figure)] += 1
    table_pages = sorted({p for t in doc.tables for p in t.pages})
    by_number = {p.number: p for p in pages}
    out = []
    for number in table_pages:
        page = by_number.get(number)
        if page is None:
            continue
        left = placed[number].copy()
        missing = []
        for figure in page_numbers_printed(page, (doc.year - 1, doc.year, doc.year + 1) if doc.year else ()):
            key = _plain(figure)
            if left[key] > 0:
                left[key] -= 1
            else:
                missing.append(figure)
        if missing:
            out.append((number, tuple(missing)))
    return UnplacedNumbers(tuple(out))


def _plain(figure: str) -> str:
    return figure.replace(",", "")


# --- reading.json ---------------------------------------------------------------------------------


def write_reading(path: Path, readings: Sequence[DocumentReading]) -> None:
    """DIR/reading.json: per document its summary, every table's status and failing checks,
    and the numbers printed in no cell (per page)."""
    data = {
        "documents": [r.as_json() for r in readings],
        "statuses": {
            BALANCED: "read, and every check that applies holds",
            FAILING: "read, and the checks listed fail: a misreading until the page shows otherwise",
            EMPTY: "a table of a known kind printed without figures (its pages print no number outside a cell)",
            NOT_UNDERSTOOD: "no table kind fits, or no rows or amounts were read while its pages print numbers",
        },
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
