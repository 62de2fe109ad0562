"""View models of the HTML pages: plain typed values that :mod:`budgetkg.serve.pages` gathers
from the graph and ``templates/*.html`` turn into markup.

No markup is made in Python: a template gets links, terms, amounts and checks as data and
Jinja2 escapes every piece of it (autoescape on). A web developer changes a page by editing
its template; the shared pieces (a term, a link, an amount, a parent − Σ children cell, a
chart) are the macros of ``templates/_macros.html``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Link:
    """A link to a resource. ``href`` is None for a target a browser must not follow (a
    ``javascript:`` or ``data:`` IRI in the data): the text is then shown, never a live link.
    ``iri`` is shown on hover (None: no tooltip)."""

    kind: ClassVar[str] = "link"
    text: str
    href: str | None
    iri: str | None = None


@dataclass(frozen=True, slots=True)
class TermView:
    """An RDF term as a page shows it: a link for an IRI, ``_:id`` for a blank node, else the
    literal's text with its language tag or (compact) datatype."""

    kind: ClassVar[str] = "term"
    text: str = ""
    link: Link | None = None
    bnode: bool = False
    number: bool = False  # an xsd:decimal, printed as an amount
    lang: str | None = None
    datatype: str | None = None  # compact datatype IRI, shown after the value


Cell = Link | TermView | str | None  # what the ``show`` macro prints


@dataclass(frozen=True, slots=True)
class SumCheck:
    """Parent − Σ children of a printed hierarchy, against the rounding tolerance."""

    diff: Decimal
    bad: bool

    @property
    def mark(self) -> str:
        return "✗" if self.bad else ("≈" if self.diff else "✓")


# --- charts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SvgText:
    x: float
    y: float
    text: str


@dataclass(frozen=True, slots=True)
class SvgBox:
    """One rectangle of the treemap fallback, with its tooltip, labels and link."""

    x: float
    y: float
    width: float
    height: float
    fill: str
    stroke_width: int
    title: str
    labels: tuple[SvgText, ...] = ()
    href: str | None = None


@dataclass(frozen=True, slots=True)
class TreemapSvg:
    width: int
    height: int
    boxes: tuple[SvgBox, ...]


@dataclass(frozen=True, slots=True)
class SvgBar:
    """One bar of the bar-chart fallback: the name left of it, the amount right of it."""

    y: int
    length: float
    name: str
    title: str
    amount: str
    fill: str
    href: str | None = None


@dataclass(frozen=True, slots=True)
class BarsSvg:
    width: int
    height: int
    label_width: int
    bar_height: int
    bars: tuple[SvgBar, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart container: the data static/charts.js draws with ECharts, and the SVG fallback
    (None: the page's own table is the fallback)."""

    kind: str
    unit: str
    data: Any
    fallback: TreemapSvg | BarsSvg | None = None
    css_class: str = "chart"


# --- budgets -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BudgetSummary:
    """One budget as ``templates/_budget.html`` shows it (home page and the budget's page)."""

    href: str
    title: str
    org_href: str | None
    org_label: str
    year: str | None
    phase: str | None
    unit: str
    cards: tuple[tuple[str, Decimal], ...] = ()
    split: tuple[float, float] | None = None
    table_href: str | None = None
    table_label: str | None = None
    treemap: Chart | None = None
    bars: Chart | None = None


@dataclass(frozen=True, slots=True)
class YearsTable:
    """A department's budgets side by side: one column per budget, totals and each 类."""

    units: str
    budgets: tuple[Link, ...]
    lines: tuple[tuple[str, tuple[Decimal | None, ...]], ...]
    chart: Chart


# --- resource page blocks ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObservationFacts:
    amount: str
    unit: str
    year: str | None
    facts: tuple[tuple[str, Cell], ...]


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """Parent row, child rows of the same table and column, and the sum check of an observation."""

    unit: str
    parent: tuple[Link, str] | None
    children: tuple[tuple[Link, str, str], ...]
    amount: Decimal | None
    total: Decimal
    check: SumCheck | None
    tolerance: Decimal
    per_figure: Decimal


@dataclass(frozen=True, slots=True)
class CodeAmount:
    """Where a code is used: one table column of one department's budget, amount vs Σ children."""

    org: Link | None
    year: str
    table: Link
    column: Link
    amount: Link
    children_total: Decimal | None
    check: SumCheck | None
    unit: str


@dataclass(frozen=True, slots=True)
class Concept:
    broader: tuple[TermView, ...]
    narrower: tuple[tuple[Link, str, str], ...]
    amounts: tuple[CodeAmount, ...]


@dataclass(frozen=True, slots=True)
class GridCell:
    css_class: str
    title: str
    amount: Link | None


@dataclass(frozen=True, slots=True)
class GridRow:
    indent: str  # left padding in em, as printed (``0.5``, ``1.7`` …)
    code: Link | None
    label: str
    total: bool
    mismatch: bool
    cells: tuple[GridCell, ...]


@dataclass(frozen=True, slots=True)
class TableGrid:
    """A table as printed: rows × columns, coded rows indented, parents checked against Σ children."""

    units: str
    columns: tuple[str, ...]
    rows: tuple[GridRow, ...]
    mismatches: int


@dataclass(frozen=True, slots=True)
class ProjectFacts:
    amount: Decimal | None
    currency: str
    year: str | None
    facts: tuple[tuple[str, Cell], ...]


@dataclass(frozen=True, slots=True)
class PrintedAmount:
    amount: Link
    unit: str
    table: Link
    column: str
    page: str


@dataclass(frozen=True, slots=True)
class Project:
    facts: tuple[ProjectFacts, ...]
    target: str | None
    amounts: tuple[PrintedAmount, ...]


@dataclass(frozen=True, slots=True)
class UnitProject:
    link: Link
    amount: Decimal | None
    currency: str
    year: str


@dataclass(frozen=True, slots=True)
class Organisation:
    years: YearsTable | None
    units: tuple[Link, ...]
    projects: tuple[UnitProject, ...]


@dataclass(frozen=True, slots=True)
class MarkedText:
    """A piece of a sentence; ``status`` set when it is a checked figure (``claim-…`` mark)."""

    text: str
    status: str | None = None
    title: str = ""


@dataclass(frozen=True, slots=True)
class ClaimSentence:
    page: int
    parts: tuple[MarkedText, ...]


@dataclass(frozen=True, slots=True)
class Source:
    """Where a resource was read: the document, page, the kept PDF and its hash."""

    document: Link
    page: str | None
    pdf: str | None  # link to the kept PDF (at the page), when the build kept it
    sha: str | None


@dataclass(frozen=True, slots=True)
class ValidationResult:
    severity: str
    message: str
    value: TermView | None
    shape: Link | None


@dataclass(frozen=True, slots=True)
class Property:
    prop: Link
    values: tuple[TermView, ...]


@dataclass(frozen=True, slots=True)
class Incoming:
    rows: tuple[tuple[TermView | None, Link], ...]
    total: int
    query_href: str


@dataclass(slots=True)
class ResourcePage:
    """Everything ``templates/resource.html`` shows, block by block, in page order."""

    title: str
    title_en: str | None
    iri: str
    types: list[Link]
    downloads: list[Link]
    crumbs: list[tuple[str, str | None]]
    observation: ObservationFacts | None = None
    hierarchy: Hierarchy | None = None
    concept: Concept | None = None
    table: TableGrid | None = None
    project: Project | None = None
    organisation: Organisation | None = None
    budget: BudgetSummary | None = None
    claims: tuple[ClaimSentence, ...] = ()
    provenance: tuple[Source, ...] = ()
    validation: tuple[ValidationResult, ...] = ()
    properties: tuple[Property, ...] = ()
    incoming: Incoming | None = None
