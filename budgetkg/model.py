"""Plain, typed data objects that flow between the pipeline stages.

Every stage takes these and returns these; none of them knows about PDFs, RDF or HTTP, so
each stage can be tested (and replaced) on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class InputError(Exception):
    """A problem with one input file, reported as one line naming the file (never a traceback)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# --- stage 1: pdf -------------------------------------------------------------------------

#: ``extracted_by`` of what the PDF's own text layer gave (else the OCR engine and its version).
TEXT_LAYER = "text layer"


@dataclass(frozen=True, slots=True)
class Word:
    """A run of characters on one baseline, as pdfplumber groups them (split further where a
    rule crosses it or an amount runs into a label: see pdf.py)."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    bold: bool = False  # set in a bold face (evidence of unit and total rows)
    confidence: float | None = None  # the OCR engine's confidence (0–100); None from a text layer

    @property
    def xc(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def yc(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass(frozen=True, slots=True)
class Rule:
    """A drawn line (or thin rectangle side) on the page."""

    x0: float
    x1: float
    top: float
    bottom: float

    @property
    def horizontal(self) -> bool:
        return (self.x1 - self.x0) >= (self.bottom - self.top)


class WordBox:
    """The box around a group of words: a printed line, a header cell of a table."""

    __slots__ = ()
    words: Sequence[Word]

    @property
    def x0(self) -> float:
        return min(w.x0 for w in self.words)

    @property
    def x1(self) -> float:
        return max(w.x1 for w in self.words)

    @property
    def top(self) -> float:
        return min(w.top for w in self.words)

    @property
    def bottom(self) -> float:
        return max(w.bottom for w in self.words)

    @property
    def xc(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass(frozen=True, slots=True)
class TextLine(WordBox):
    """Words whose vertical centres agree: one printed line, left to right."""

    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return join_words(self.words)


@dataclass(frozen=True, slots=True)
class PageText:
    number: int  # 1-based
    width: float
    height: float
    lines: tuple[TextLine, ...]
    rules: tuple[Rule, ...]
    plain_text: str
    rotation: int = 0  # degrees the page was turned (clockwise) so that its text reads left to right
    extracted_by: str = TEXT_LAYER  # or the OCR engine and version that read the page (ocr.py)


def join_words(words: tuple[Word, ...] | list[Word]) -> str:
    """Join words of one line with single spaces where the PDF left a visible gap."""
    out: list[str] = []
    prev: Word | None = None
    for w in words:
        if prev is not None:
            out.append(" ")
        out.append(w.text)
        prev = w
    return "".join(out)


# --- stage 2: tables ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawCell:
    text: str
    pages: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RawRow:
    """One table row: a cell per leaf column, text re-joined across lines and pages.

    ``indents`` and ``bold`` are per cell (same length as ``cells`` when known, else empty):
    the indentation of the cell's first word beyond the column's least indented text, in steps
    of layout.toml's rows.indent_step em (also shown as leading spaces of the cell), and
    whether the cell is set in bold.
    Evidence for the reader of unit vs project rows and of a hierarchy printed without codes."""

    cells: tuple[str, ...]
    pages: tuple[int, ...]
    indents: tuple[int, ...] = ()
    bold: tuple[bool, ...] = ()


@dataclass(frozen=True, slots=True)
class RawTable:
    """A table as laid out: title, header paths and rows, before any budget meaning."""

    title: str
    header: tuple[tuple[str, ...], ...]  # one column path per leaf column
    rows: tuple[RawRow, ...]
    pages: tuple[int, ...]
    currency_unit: str | None
    unit_name: str | None  # 单位名称 line
    label: str | None = None  # a separate "表N" / "部门公开表N" line
    warnings: tuple[str, ...] = ()
    column_numbers: tuple[str, ...] = ()  # the `1 2 3 …` / 栏次 line under the header, dropped from rows
    trace: tuple[str, ...] = ()  # the geometry's decisions, for debug-layout (not part of the reading)


# --- stage 3: model -----------------------------------------------------------------------


class RowKind(StrEnum):
    TOTAL = "total"  # 合计 / 总计 / 本年收入合计 …
    CLASS = "class"  # a classification row (has a code)
    ITEM = "item"  # a labelled row without code (三公 items, 收支总表 lines)
    UNIT = "unit"  # a subordinate unit / 局本级 row in by-unit tables
    CATEGORY = "category"  # an expenditure category under a unit
    PROJECT = "project"  # a project under a unit


class Side(StrEnum):
    INCOME = "income"
    EXPENDITURE = "expenditure"


@dataclass(frozen=True, slots=True)
class Amount:
    measure: tuple[str, ...]  # printed column path, e.g. ("财政拨款", "一般公共预算")
    measure_key: str  # canonical key from the mapping, e.g. "fin-general"
    value: Decimal
    printed: str  # exactly as printed (thousands separators kept)
    blank: bool = False  # a blank cell read as zero
    extracted_by: str = TEXT_LAYER  # or the OCR engine and version (ocr.attach_provenance)
    confidence: float | None = None  # the OCR engine's confidence in the printed figure (0–100)


@dataclass(frozen=True, slots=True)
class Row:
    kind: RowKind
    label: str
    code: str | None
    unit: str  # the budget unit the row belongs to
    amounts: tuple[Amount, ...]
    pages: tuple[int, ...]
    index: int  # row number in the table as read, 1-based
    side: Side | None = None
    texts: tuple[tuple[str, str], ...] = ()  # non-amount cells, e.g. (("绩效目标", "…"),)
    parent_label: str | None = None  # for categories/projects: the unit row above
    problems: tuple[str, ...] = ()  # cells that could not be read (reported as warnings)


@dataclass(frozen=True, slots=True)
class Table:
    kind: str  # mapping kind, e.g. "income-expenditure-summary"; "unknown" if unclassified
    number: int  # 1–12 for the standard kinds, 13+ further kinds, 0 unknown
    title: str
    pages: tuple[int, ...]
    currency_unit: str
    code_scheme: str | None  # "functional" | "economic" | None
    rows: tuple[Row, ...]
    columns: tuple[tuple[str, ...], ...]
    warnings: tuple[str, ...] = ()
    ocr_findings: tuple[str, ...] = ()  # the OCR digit guard's findings on this table (ocr.digit_guard)


@dataclass(frozen=True, slots=True)
class GlossaryEntry:
    term: str
    definition: str


@dataclass(frozen=True, slots=True)
class PageLine:
    """A printed line (or a prose sentence) with the page it starts on: what the disclosure
    audit (budgetkg/claims.py) reads, so that every finding can name its page."""

    page: int
    text: str


@dataclass(frozen=True, slots=True)
class Prose:
    duties: tuple[str, ...] = ()
    divisions: tuple[str, ...] = ()
    subordinate_units: tuple[str, ...] = ()
    explanations: tuple[str, ...] = ()
    glossary: tuple[GlossaryEntry, ...] = ()
    structure_text: str = ""
    sentences: tuple[PageLine, ...] = ()  # the running prose (情况说明 …), one sentence each: claims come from these
    contents: tuple[PageLine, ...] = ()  # the entries of the contents page (目录)
    headings: tuple[PageLine, ...] = ()  # cover lines, part/section headings, table titles, 单位名称 lines
    notes: tuple[PageLine, ...] = ()  # 注：… lines and other lines saying a table is empty (空表说明)


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    name: str
    sha256: str
    page_count: int


@dataclass(frozen=True, slots=True)
class Document:
    source: SourceFile
    department: str
    year: int
    kind: str  # "预算" | "决算"
    tables: tuple[Table, ...]
    prose: Prose
    warnings: tuple[str, ...] = field(default=())
    scope: str = "部门"  # "部门" (a department's budget, its units included) | "单位" (one unit's)

    @property
    def phase(self) -> str:
        return "final" if self.kind == "决算" else "budget"
