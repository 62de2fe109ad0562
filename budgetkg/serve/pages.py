"""HTML pages that understand budgets: home, resource pages, validation report.

A resource page shows what a reader of the PDF wants: the amount with unit and year, the
page it was printed on, where the row sits in the 类/款/项 hierarchy and whether it adds up
(parent vs Σ children, with the rounding tolerance of two-decimal 万元 figures), and what the
SHACL validation said about it.

This module gathers: it runs the server's own queries (``queries/*.rq``) and turns their rows
into the view models of :mod:`budgetkg.serve.views`. The markup is in ``templates/``
(``resource.html``, ``_resource.html``, ``_macros.html`` …), autoescaped by Jinja2.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from budgetkg.serve import charts, templating
from budgetkg.serve.markup import compact, fmt_amount, safe_href, to_decimal
from budgetkg.serve.site import PREFIXES, Site, page_query
from budgetkg.serve.views import (
    BudgetSummary,
    Cell,
    Chart,
    ClaimSentence,
    CodeAmount,
    Concept,
    GridCell,
    GridRow,
    Hierarchy,
    Incoming,
    Link,
    MarkedText,
    ObservationFacts,
    Organisation,
    Project,
    ProjectFacts,
    Property,
    ResourcePage,
    Source,
    SumCheck,
    TableGrid,
    TermView,
    ValidationResult,
    YearsTable,
)
from budgetkg.serve.workers import PoolError

BK = PREFIXES["bk"]
QB = PREFIXES["qb"]
SKOS = PREFIXES["skos"]
RDFS = PREFIXES["rdfs"]
RDF_TYPE = PREFIXES["rdf"] + "type"
SH = PREFIXES["sh"]
ORG = PREFIXES["org"]
DCT = PREFIXES["dct"]
XSD = PREFIXES["xsd"]
SDMX_ATTR = PREFIXES["sdmx-attribute"]
LABEL_PROPS = (SKOS + "prefLabel", RDFS + "label", DCT + "title", BK + "rowLabel")
UNIT_BY_MULT = {"0": "元", "3": "千元", "4": "万元", "8": "亿元"}

Term = tuple[str, str, str | None, str | None]
Row = dict[str, Term]


def v(row: Row, key: str) -> str | None:
    """Value of a variable in a result row (None when unbound)."""
    t = row.get(key)
    return t[1] if t else None


def pick_label(labels: list[Term], lang: str = "zh") -> str | None:
    """Best label for a language: exact language, then untagged, then any."""
    exact = [t[1] for t in labels if t[3] and t[3].lower().startswith(lang)]
    if exact:
        return exact[0]
    plain = [t[1] for t in labels if not t[3]]
    if plain:
        return plain[0]
    return labels[0][1] if labels and lang == "zh" else None


def href(site: Site, iri: str) -> str:
    """Link target, always on this server: the path of an IRI under the base, else the
    ``/describe?iri=`` page (what this build says about a vocabulary term or any other IRI).
    Pages never link to another origin, so they work offline and on any host and port."""
    local = site.build.local_path(iri)
    if local is not None and "#" not in local and "?" not in local:
        return quote(local, safe="/:@!$&'()*+,;=-._~%")
    return "/describe?iri=" + quote(iri, safe="")


def link(site: Site, iri: str, label: str | None = None) -> Link:
    """A link to a resource's page (shown as text when the target is not a safe link)."""
    return Link(text=label or compact(iri), href=safe_href(href(site, iri)), iri=iri)


def term_view(site: Site, t: Term, label: str | None = None) -> TermView:
    """An RDF term as shown: IRI → link (with ``label``), decimals as amounts, tags and types."""
    kind, value, datatype, lang = t
    if kind == "uri":
        return TermView(text=label or compact(value), link=link(site, value, label))
    if kind == "bnode":
        return TermView(text=value, bnode=True)
    number = datatype == XSD + "decimal"
    text = fmt_amount(value) if number else value
    if lang:
        return TermView(text=text, number=number, lang=lang)
    shown_type = compact(datatype) if datatype and datatype != XSD + "string" else None
    return TermView(text=text, number=number, datatype=shown_type)


def amount_term(value: Decimal | str | None) -> TermView:
    """A printed amount in a table cell (— when absent)."""
    return TermView(text="—" if value is None else fmt_amount(value), number=True)


def editor_query(name: str, this: str) -> str:
    """A query to open in the editor (``queries/<name>.rq`` without its comment lines), with
    ``?this`` spelled out as the IRI: a person reads and changes this text, so the IRI is
    written in it rather than pre-bound as the pages' own queries are."""
    text = "\n".join(line for line in page_query(name).splitlines() if not line.startswith("#")).strip()
    return re.sub(r"\?this\b", lambda _: f"<{this}>", text)


def editor_href(name: str, this: str) -> str:
    """``/query?query=…`` for :func:`editor_query`."""
    return "/query?query=" + quote(editor_query(name, this), safe="")


def not_found_page(site: Site, path: str) -> Response:
    return error_page(site, 404, "Not found 未找到", f"Nothing is at {path} in this build.")


def property_page(site: Site, iri: str) -> Response:
    """A property used in the data but not described in it (e.g. ``org:hasSubOrganization``)."""
    name = compact(iri)
    return templating.page(
        "property.html",
        title=name,
        iri=iri,
        query_href=editor_href("link-uses-property", iri),
        site_title=site.config.title,
        crumbs=[(name, None)],
    )


def error_page(site: Site, status: int, title: str, message: str) -> Response:
    """An error page (``templates/error.html``); a 404 offers the search box and the indexes."""
    return templating.page(
        "error.html",
        status,
        cache="no-store",
        title=title,
        message=message,
        status=status,
        site_title=site.config.title,
    )


# --- resource description --------------------------------------------------------------


@dataclass(slots=True)
class Described:
    """Everything a resource page shows, gathered with the server's own queries."""

    iri: str
    out: list[Row] = field(default_factory=list)
    incoming: list[Row] = field(default_factory=list)
    incoming_total: int = 0
    provenance: list[Row] = field(default_factory=list)
    validation: list[Row] = field(default_factory=list)
    year: str | None = None
    budget_unit: str | None = None

    def values(self, prop: str) -> list[Term]:
        seen: dict[Term, None] = {}
        for r in self.out:
            if v(r, "p") == prop and "o" in r:
                seen.setdefault(r["o"], None)
        return list(seen)

    def first(self, prop: str) -> str | None:
        vals = self.values(prop)
        return vals[0][1] if vals else None

    @property
    def types(self) -> list[str]:
        return [t[1] for t in self.values(RDF_TYPE) if t[0] == "uri"]

    def labels(self) -> list[Term]:
        out: list[Term] = []
        for p in LABEL_PROPS:
            out += [t for t in self.values(p) if t[0] == "literal"]
        return out

    def object_labels(self) -> dict[str, list[Term]]:
        labels: dict[str, list[Term]] = defaultdict(list)
        for r in self.out:
            if "olabel" in r and "o" in r and r["olabel"] not in labels[r["o"][1]]:
                labels[r["o"][1]].append(r["olabel"])
        return labels


async def gather(site: Site, iri: str) -> Described:
    d = Described(iri=iri)
    d.out = await site.select("describe-out", this=iri)
    d.incoming = await site.select("describe-in", this=iri)
    count = await site.select("incoming-count", this=iri)
    d.incoming_total = int(v(count[0], "n") or 0) if count else 0
    d.provenance = await site.select("provenance", this=iri)
    d.validation = await site.select("validation-for", this=iri)
    budget = await site.select("budget-of", this=iri)
    if budget:
        d.year = v(budget[0], "year")
        d.budget_unit = v(budget[0], "unit")
    return d


def unit_of(d: Described) -> str:
    """Printed currency unit of an observation: explicit, from the multiplier, or the budget's."""
    unit = d.first(BK + "currencyUnit")
    if unit:
        return unit
    mult = d.first(SDMX_ATTR + "unitMult")
    if mult in UNIT_BY_MULT:
        return UNIT_BY_MULT[mult]
    return d.budget_unit or "万元"


async def figure_tolerance(site: Site) -> Decimal:
    """Rounding tolerance per printed figure that the build validated with.

    Read from the validation report in the graph (``bk:roundingTolerance``), so after
    ``budgetkg build --tolerance 0.05`` the pages call rounding what the SHACL report calls
    rounding; builds without it fall back to the validator's own default.
    """
    key = "pages:tolerance"
    if key not in site.cache:
        rows = await site.cached_select("tolerance")
        value = to_decimal(v(rows[0], "tolerance")) if rows else None
        if value is None:
            from budgetkg.validation import DEFAULT_TOLERANCE

            value = DEFAULT_TOLERANCE
        site.cache[key] = value
    return site.cache[key]


def tolerance(n_children: int, per_figure: Decimal) -> Decimal:
    """Largest parent − Σ children gap explained by rounding: one tolerance per printed figure."""
    return per_figure * (n_children + 1)


def sum_check(parent: Decimal | None, total: Decimal | None, n: int, per_figure: Decimal) -> SumCheck | None:
    """Parent − Σ children and whether it is beyond rounding (None: nothing to compare)."""
    if parent is None or total is None or n == 0:
        return None
    diff = parent - total
    return SumCheck(diff=diff, bad=abs(diff) > tolerance(n, per_figure))


def _is_table(d: Described) -> bool:
    return "/table/" in d.iri or any(t.endswith("Table") for t in d.types)


async def resource_page(site: Site, d: Described) -> str:
    """The page of one resource: what it is, its figures and checks first, then the raw triples."""
    types = d.types
    labels = d.labels()
    zh = pick_label(labels, "zh") or d.first(SKOS + "notation") or compact(d.iri)
    en = pick_label(labels, "en") if any(t[3] and t[3].startswith("en") for t in labels) else None
    local = href(site, d.iri)
    if local.startswith("/describe?"):
        downloads = [
            Link(text=n, href=f"{local}&format={f}")
            for f, n in (("turtle", "Turtle"), ("jsonld", "JSON-LD"), ("ntriples", "N-Triples"), ("rdfxml", "RDF/XML"))
        ]
    else:
        downloads = [
            Link(text="Turtle", href=local + ".ttl"),
            Link(text="JSON-LD", href=local + ".jsonld"),
            Link(text="N-Triples", href=local + ".nt"),
            Link(text="RDF/XML", href=local + "?format=rdfxml"),
            Link(text="下级 children (CSV)", href=local + "/children.csv"),
        ]
    downloads.append(Link(text="SPARQL", href=editor_href("link-describe", d.iri)))
    crumbs = await breadcrumbs_for(site, d, zh)
    page = ResourcePage(
        title=zh,
        title_en=en,
        iri=d.iri,
        types=[Link(text=compact(t), href=href(site, t), iri=t) for t in types],
        downloads=downloads,
        crumbs=[(label, safe_href(target) if target else None) for label, target in crumbs],
    )
    if QB + "Observation" in types:
        page.observation = observation_facts(site, d)
        page.hierarchy = await observation_tree(site, d)
    if SKOS + "Concept" in types and d.first(SKOS + "notation"):
        page.concept = await concept_block(site, d)
    if _is_table(d):
        page.table = await table_block(site, d)
    if BK + "Project" in types:
        page.project = await project_block(site, d)
    if BK + "Department" in types or BK + "SubordinateUnit" in types or BK + "Division" in types:
        page.organisation = await organisation_block(site, d)
    if BK + "Budget" in types:
        page.budget = await budget_block(site, d)
        page.claims = await claims_block(site, d.iri)
    page.provenance = provenance_block(site, d)
    page.validation = validation_block(site, d.validation)
    page.properties = properties_block(site, d)
    page.incoming = incoming_block(site, d)
    has_charts = bool(
        (page.organisation and page.organisation.years) or (page.budget and (page.budget.treemap or page.budget.bars))
    )
    return templating.render(
        "resource.html",
        page=page,
        title=page.title,
        site_title=site.config.title,
        crumbs=page.crumbs,
        charts=has_charts,
    )


async def breadcrumbs_for(site: Site, d: Described, here: str) -> list[tuple[str, str | None]]:
    """Where a resource sits: index page, then its budget/department/table/broader code."""
    from budgetkg.serve import find

    index = {e.iri: e for e in await find.entries(site)}

    def crumb(iri: str | None) -> tuple[str, str | None] | None:
        if not iri:
            return None
        e = index.get(iri)
        return (e.label if e else _tail(iri).rsplit("/", 1)[-1], href(site, iri))

    types = d.types
    out: list[tuple[str, str | None] | None] = []
    if QB + "Observation" in types:
        budget = d.first(BK + "budget") or d.first(QB + "dataSet")
        out += [("预算 Budgets", "/id/budget/"), crumb(budget), crumb(d.first(BK + "table"))]
    elif BK + "Budget" in types:
        out += [
            ("单位 Organisations", "/id/org/"),
            crumb(d.first(BK + "organisation")),
            ("预算 Budgets", "/id/budget/"),
        ]
    elif _is_table(d):
        out += [("预算 Budgets", "/id/budget/"), crumb(d.first(BK + "budget"))]
    elif BK + "Project" in types:
        out += [("项目 Projects", "/id/project/"), crumb(d.first(BK + "unit"))]
    elif SKOS + "Concept" in types and d.first(SKOS + "notation") and site.build.local_path(d.iri):
        rest = d.iri[len(site.build.base_uri) :].split("/")
        out.append(("科目 Codes", "/def/code/"))
        if len(rest) >= 3 and rest[:2] == ["def", "code"]:
            out.append((rest[2], f"/def/code/{quote(rest[2])}/"))
        out.append(crumb(d.first(SKOS + "broader")))
    elif any(t in types for t in (BK + "Department", BK + "SubordinateUnit", BK + "Division", ORG + "Organization")):
        out += [("单位 Organisations", "/id/org/"), crumb(d.first(ORG + "unitOf"))]
    out.append((here, None))
    return [c for c in out if c is not None]


async def project_block(site: Site, d: Described) -> Project | None:
    """A project: amount, unit, year and budget (from the project index), and its 绩效目标."""
    from budgetkg.serve import find

    facts = [p for p in await find.projects(site) if p.iri == d.iri]
    index = {e.iri: e for e in await find.entries(site)}
    shown = []
    for p in facts:
        bits: list[tuple[str, Cell]] = []
        if p.unit:
            bits.append(("单位 Unit", link(site, p.unit, p.unit_label)))
        if p.year:
            bits.append(("年度 Year", p.year))
        if p.budget:
            bits.append(("预算 Budget", link(site, p.budget, index[p.budget].label if p.budget in index else None)))
        shown.append(ProjectFacts(amount=p.amount, currency=p.currency, year=p.year, facts=tuple(bits)))
    target = d.first(BK + "performanceTarget")
    rows = await site.cached_select("project-amounts", this=d.iri)
    amounts = tuple(
        (
            link(site, v(r, "obs") or "", fmt_amount(v(r, "amount") or "")),
            v(r, "unit") or "",
            link(site, v(r, "table") or "", v(r, "tlabel") or _tail(v(r, "table") or "")),
            v(r, "clabel") or _tail(v(r, "col") or ""),
            v(r, "page") or "",
        )
        for r in rows
    )
    if not (shown or target or amounts):
        return None
    return Project(facts=tuple(shown), target=target, amounts=amounts)


async def organisation_block(site: Site, d: Described) -> Organisation | None:
    """A department or unit: its budgets by year side by side, its units, and its projects."""
    from budgetkg.serve import find

    budgets = [r for r in await site.cached_select("budgets") if v(r, "org") == d.iri]
    years = await budgets_side_by_side(site, budgets) if budgets else None
    index = await find.entries(site)
    subs = [r for r in await site.cached_select("org-index") if v(r, "parent") == d.iri and v(r, "org") != d.iri]
    names = {e.iri: e.label for e in index}
    units = tuple(link(site, o, names.get(o)) for o in dict.fromkeys(v(r, "org") or "" for r in subs))
    projects = tuple(
        (link(site, p.iri, p.label), amount_term(p.amount), p.currency, p.year or "")
        for p in await find.projects(site)
        if p.unit == d.iri
    )
    if years is None and not units and not projects:
        return None
    return Organisation(years=years, units=units, projects=projects)


async def budgets_side_by_side(site: Site, budgets: list[Row]) -> YearsTable:
    """One column per budget (year, phase) of a department: totals, basic vs project, per 类."""
    totals = await all_totals(site)
    by_budget: dict[str, Row] = {}
    for r in budgets:
        by_budget.setdefault(v(r, "b") or "", r)
    order = sorted(by_budget, key=lambda b: (v(by_budget[b], "year") or "", b))
    columns = []
    for b in order:
        tables = totals.get(b, {})
        chosen = _choose_table(tables)
        cols = tables.get(chosen, {}) if chosen else {}
        classes: dict[str, tuple[str, Decimal]] = {}
        if chosen:
            col_iri = _col_iri(cols, "total") or next(iter(cols), None)
            if col_iri:
                for r in await site.cached_select("budget-functional", table=chosen, col=col_iri):
                    n = v(r, "notation") or ""
                    if len(n) == 3:
                        classes[n] = (v(r, "label") or "", to_decimal(v(r, "amount")) or Decimal(0))
        columns.append(
            {
                "b": b,
                "row": by_budget[b],
                "total": (_col(cols, "total") or (max(cols.values()) if cols else None)),
                "basic": _col(cols, "basic"),
                "project": _col(cols, "project"),
                "classes": classes,
                "unit": v(by_budget[b], "unit") or "万元",
            }
        )
    heads = tuple(link(site, c["b"], (v(c["row"], "year") or "") + " " + _phase(v(c["row"], "phase"))) for c in columns)
    lines: list[tuple[str, tuple[Decimal | None, ...]]] = [
        ("支出合计 Total", tuple(c["total"] for c in columns)),
        ("基本支出 Basic", tuple(c["basic"] for c in columns)),
        ("项目支出 Projects", tuple(c["project"] for c in columns)),
    ]
    for n in sorted({n for c in columns for n in c["classes"]}):
        label = next((c["classes"][n][0] for c in columns if n in c["classes"]), "")
        lines.append((f"{n} {label}", tuple(c["classes"].get(n, ("", None))[1] for c in columns)))
    units = "、".join(sorted({c["unit"] for c in columns}))
    data = {
        "years": [f"{v(c['row'], 'year') or ''} {_phase(v(c['row'], 'phase'))}".strip() for c in columns],
        "series": [
            {"name": name, "values": [float(c[key]) if c[key] is not None else None for c in columns]}
            for key, name in (
                ("total", "支出合计 Total"),
                ("basic", "基本支出 Basic"),
                ("project", "项目支出 Projects"),
            )
        ],
    }
    chart = charts.interactive("years", units, None, data, cls="chart years")  # the table is the fallback
    return YearsTable(units=units, budgets=heads, lines=tuple(lines), chart=chart)


def _phase(phase: str | None) -> str:
    name = (phase or "").rsplit("#", 1)[-1].rsplit("/", 1)[-1]
    return {"Approved": "预算", "Executed": "决算", "BudgetPhase-budget": "预算"}.get(name, name)


async def budget_block(site: Site, d: Described) -> BudgetSummary | None:
    """A budget: the same summary as on the home page (cards, 类 treemap, largest projects)."""
    rows = [r for r in await site.cached_select("budgets") if v(r, "b") == d.iri]
    if not rows:
        return None
    return await budget_view(site, rows, await all_totals(site))


async def all_totals(site: Site) -> dict[str, dict[str, dict[str, Decimal]]]:
    """budget → table → column → printed total (the largest total row of that column)."""
    key = "pages:totals"
    if key not in site.cache:
        totals: dict[str, dict[str, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(dict))
        for r in await site.cached_select("budget-totals"):
            amount = to_decimal(v(r, "amount"))
            if amount is None:
                continue
            cols = totals[v(r, "b") or ""][v(r, "table") or ""]
            col = v(r, "col") or ""
            cols[col] = max(cols.get(col, amount), amount)
        site.cache[key] = totals
    return site.cache[key]


def observation_facts(site: Site, d: Described) -> ObservationFacts | None:
    """An observation's amount with unit and year, and its dimensions (table, column, codes …)."""
    amount = d.first(BK + "amount")
    if amount is None:
        return None
    labels = d.object_labels()
    facts: list[tuple[str, Cell]] = []
    for prop, name in (
        (BK + "organisation", "单位 Organisation"),
        (BK + "table", "表 Table"),
        (BK + "column", "列 Column"),
        (BK + "functionalClassification", "功能分类 Functional"),
        (BK + "economicClassification", "经济分类 Economic"),
        (BK + "project", "项目 Project"),
        (BK + "item", "项 Item"),
    ):
        for t in d.values(prop):
            facts.append((name, term_view(site, t, pick_label(labels.get(t[1], []), "zh"))))
    if d.first(BK + "isTotal") in ("true", "1"):
        facts.append(("合计行 Total row", "是 yes"))
    return ObservationFacts(
        amount=amount, unit=unit_of(d), year=d.first(BK + "fiscalYear") or d.year, facts=tuple(facts)
    )


async def observation_tree(site: Site, d: Described) -> Hierarchy | None:
    """Parent row, this row, and child rows of the same table and column, with the check."""
    rows = await site.select("obs-related", this=d.iri)
    if not rows:
        return None
    me = to_decimal(d.first(BK + "amount"))
    parents = [r for r in rows if v(r, "rel") == "parent"]
    children = [r for r in rows if v(r, "rel") == "child"]
    parent = None
    if parents:
        p = parents[0]
        parent = (
            link(site, v(p, "obs") or "", f"{v(p, 'notation') or ''} {v(p, 'label') or ''}"),
            v(p, "amount") or "",
        )
    total = sum((to_decimal(v(r, "amount")) or Decimal(0)) for r in children)
    per = await figure_tolerance(site)
    return Hierarchy(
        unit=unit_of(d),
        parent=parent,
        children=tuple(
            (
                link(site, v(r, "obs") or "", v(r, "notation") or "—"),
                v(r, "label") or "",
                amount_term(v(r, "amount") or ""),
            )
            for r in children
        ),
        amount=me,
        total=Decimal(total),
        check=sum_check(me, Decimal(total), len(children), per) if children else None,
        tolerance=tolerance(len(children), per),
        per_figure=per,
    )


async def concept_block(site: Site, d: Described) -> Concept | None:
    """A code: its children, and in each table/column where it is used, amount vs Σ children."""
    kids = await site.select("children", this=d.iri)
    labels = d.object_labels()
    broader = tuple(term_view(site, b, pick_label(labels.get(b[1], []))) for b in d.values(SKOS + "broader"))
    narrower = tuple(
        (
            link(site, v(k, "child") or "", v(k, "notation") or compact(v(k, "child") or "")),
            v(k, "zh") or "",
            v(k, "en") or "",
        )
        for k in kids
    )
    amounts = await site.select("concept-amounts", this=d.iri)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in amounts:
        key = (v(r, "table") or "", v(r, "col") or "")
        g = groups.setdefault(
            key,
            {
                "obs": v(r, "obs"),
                "amount": to_decimal(v(r, "amount")),
                "children": {},
                "tlabel": v(r, "tlabel"),
                "clabel": v(r, "clabel"),
                "year": v(r, "year") or "",
                "org": v(r, "org"),
                "orglabel": v(r, "orglabel"),
                "unit": v(r, "unit") or "万元",
            },
        )
        if v(r, "cobs"):
            g["children"][v(r, "cobs")] = to_decimal(v(r, "camount")) or Decimal(0)
    used = []
    per = await figure_tolerance(site)
    for (tbl, col), g in sorted(groups.items(), key=lambda kv: (kv[1]["orglabel"] or "", kv[1]["year"], kv[0])):
        total = sum(g["children"].values(), Decimal(0))
        n = len(g["children"])
        used.append(
            CodeAmount(
                org=link(site, g["org"], g["orglabel"]) if g["org"] else None,
                year=g["year"],
                table=link(site, tbl, g["tlabel"] or _tail(tbl)),
                column=link(site, col, g["clabel"] or _tail(col)),
                amount=link(site, g["obs"] or "", fmt_amount(g["amount"] or 0)),
                children_total=total if n else None,
                check=sum_check(g["amount"], total if n else None, n, per),
                unit=g["unit"],
            )
        )
    if not (broader or narrower or used):
        return None
    return Concept(broader=broader, narrower=narrower, amounts=tuple(used))


def _tail(iri: str) -> str:
    """Readable last segments of an IRI (for table and column links)."""
    parts = [p for p in iri.rstrip("/").split("/") if p]
    return "/".join(parts[-3:]) if len(parts) >= 3 else iri


def _level(notation: str | None) -> int:
    if not notation:
        return 0
    return {3: 0, 5: 1, 7: 2}.get(len(notation), 0)


async def table_block(site: Site, d: Described) -> TableGrid | None:
    """The table as printed: rows × columns, coded rows indented by level, sums checked."""
    rows = await site.select("table-rows", this=d.iri)
    if not rows:
        return None
    per = await figure_tolerance(site)
    units = sorted({v(r, "unit") or "" for r in rows} - {""}) or [d.budget_unit or "万元"]
    columns: dict[str, str] = {}
    grid: dict[str, dict[str, Any]] = {}
    for r in rows:
        col = v(r, "col") or ""
        columns.setdefault(col, v(r, "collabel") or _tail(col).rsplit("/", 1)[-1])
        key = v(r, "code") or f"{v(r, 'rowIndex') or ''}|{v(r, 'rowLabel') or ''}"
        row = grid.setdefault(
            key,
            {
                "code": v(r, "code"),
                "notation": v(r, "notation"),
                "parent": v(r, "parent"),
                "label": v(r, "label") or v(r, "rowLabel") or "",
                "index": int(v(r, "rowIndex") or 10**6),
                "total": v(r, "isTotal") in ("true", "1"),
                "cells": {},
            },
        )
        row["cells"][col] = (to_decimal(v(r, "amount")), v(r, "obs"))
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in grid.values():
        if row["parent"]:
            children[row["parent"]].append(row)
    ordered = sorted(grid.values(), key=lambda r: (r["index"], r["notation"] or ""))
    cols = sorted(columns, key=lambda c: (not c.endswith(("/total", "/grand-total")), 0))
    shown = []
    mismatches = 0
    for row in ordered:
        kids = children.get(row["code"] or "", [])
        cells = []
        row_bad = False
        for c in cols:
            amount, obs = row["cells"].get(c, (None, None))
            title = ""
            cls = "num"
            if kids and amount is not None:
                total = sum(
                    ((k["cells"].get(c, (Decimal(0), None))[0] or Decimal(0)) for k in kids),
                    Decimal(0),
                )
                diff = amount - total
                if abs(diff) > tolerance(len(kids), per):
                    cls += " diff bad"
                    row_bad = True
                    title = f"Σ children {fmt_amount(total)}, difference {fmt_amount(diff)}"
            text = link(site, obs, fmt_amount(amount)) if obs and amount is not None else None
            cells.append(GridCell(css_class=cls, title=title, amount=text))
        mismatches += row_bad
        shown.append(
            GridRow(
                indent=f"{0.5 + _level(row['notation']) * 1.2:.1f}",
                code=link(site, row["code"], row["notation"] or "") if row["code"] else None,
                label=row["label"],
                total=row["total"],
                mismatch=row_bad,
                cells=tuple(cells),
            )
        )
    return TableGrid(
        units="、".join(units), columns=tuple(columns[c] for c in cols), rows=tuple(shown), mismatches=mismatches
    )


CLAIM_RANK = {"inconsistent": 0, "consistent": 1, "unverifiable": 2}


async def claims_block(site: Site, budget_iri: str) -> tuple[ClaimSentence, ...]:
    """The sentences of the prose with their figures marked by the verdict of their checks
    (budgetkg/claims.py): red when a check fails, green when all agree, grey when unverifiable."""
    rows = await site.cached_select("budget-claims", b=budget_iri)
    sentences: dict[tuple[int, str], dict[str, list[tuple[str, str]]]] = {}
    for r in rows:
        key = (int(v(r, "page") or 0), v(r, "sentence") or "")
        printed = v(r, "printed") or ""
        note = f"{v(r, 'kind')}: {v(r, 'status')} — {v(r, 'compared') or ''}"
        sentences.setdefault(key, {}).setdefault(printed, []).append((v(r, "status") or "", note))
    out = []
    for (page, sentence), figures in sorted(sentences.items()):
        parts = [MarkedText(sentence)]
        for printed, checks in sorted(figures.items(), key=lambda kv: -len(kv[0])):
            digits = re_figure_digits(printed)
            status = min((c[0] for c in checks), key=lambda s: CLAIM_RANK.get(s, 9))
            parts = _mark_first(parts, digits, MarkedText(digits, status, " | ".join(c[1] for c in checks)))
        out.append(ClaimSentence(page=page, parts=tuple(parts)))
    return tuple(out)


def _mark_first(parts: list[MarkedText], digits: str, mark: MarkedText) -> list[MarkedText]:
    """``parts`` with the first unmarked occurrence of ``digits`` replaced by ``mark``."""
    for i, part in enumerate(parts):
        if part.status is None and digits and digits in part.text:
            before, after = part.text.split(digits, 1)
            pieces = [p for p in (MarkedText(before), mark, MarkedText(after)) if p.text]
            return parts[:i] + pieces + parts[i + 1 :]
    return parts


def re_figure_digits(printed: str) -> str:
    """The number of a printed figure (增加1,392.35万元 → 1,392.35), as it stands in the sentence."""
    m = re.search(r"-?\d[\d,]*(?:\.\d+)?", printed)
    return m.group(0) if m else printed


def provenance_block(site: Site, d: Described) -> tuple[Source, ...]:
    """The documents and pages a resource was read from, with links to the kept PDFs."""
    items = []
    for r in d.provenance:
        src = v(r, "src") or ""
        sha = v(r, "sha") or ""
        page = v(r, "page")
        kept = sha and site.build.source_pdf(sha) is not None
        pdf = (f"/source/{sha}.pdf#page={page}" if page else f"/source/{sha}.pdf") if kept else None
        items.append(
            Source(document=link(site, src, v(r, "file") or compact(src)), page=page, pdf=pdf, sha=sha or None)
        )
    return tuple(dict.fromkeys(items))


def _severity(iri: str | None) -> str:
    return (iri or "").rsplit("#", 1)[-1] or "Violation"


def validation_block(site: Site, results: list[Row]) -> tuple[ValidationResult, ...]:
    return tuple(
        ValidationResult(
            severity=_severity(v(r, "sev")),
            message=v(r, "msg") or "",
            value=term_view(site, r["value"]) if r.get("value") else None,
            shape=link(site, v(r, "shape") or "", compact(v(r, "shape") or "")) if v(r, "shape") else None,
        )
        for r in results
    )


def properties_block(site: Site, d: Described) -> tuple[Property, ...]:
    labels = d.object_labels()
    by_prop: dict[str, list[Term]] = defaultdict(list)
    for r in d.out:
        p, o = v(r, "p"), r.get("o")
        if p is None or o is None:
            continue
        if o not in by_prop[p]:
            by_prop[p].append(o)
    return tuple(
        Property(
            prop=link(site, p, compact(p)),
            values=tuple(term_view(site, o, pick_label(labels.get(o[1], []))) for o in by_prop[p]),
        )
        for p in sorted(by_prop, key=compact)
    )


def incoming_block(site: Site, d: Described) -> Incoming | None:
    if not d.incoming:
        return None
    rows = []
    seen: set[tuple[str, str]] = set()
    for r in d.incoming:
        key = (v(r, "s") or "", v(r, "p") or "")
        if key in seen:
            continue
        seen.add(key)
        s = r.get("s")
        rows.append((term_view(site, s, v(r, "slabel")) if s else None, link(site, key[1], compact(key[1]))))
    return Incoming(rows=tuple(rows), total=d.incoming_total, query_href=editor_href("link-incoming", d.iri))


# --- home -------------------------------------------------------------------------------

TABLE_PREFERENCE = (
    "/table/expenditure-summary",
    "/table/general-budget-functional",
)


def _choose_table(tables: dict[str, dict[str, Decimal]]) -> str | None:
    """The table whose total row gives the budget's total expenditure."""
    for suffix in TABLE_PREFERENCE:
        for t in tables:
            if t.endswith(suffix):
                return t
    split = [t for t, cols in tables.items() if _col(cols, "basic") and _col(cols, "project")]
    if split:
        return max(split, key=lambda t: _col(tables[t], "total") or Decimal(0))
    return max(tables, key=lambda t: max(tables[t].values()), default=None)


def _col(cols: dict[str, Decimal], key: str) -> Decimal | None:
    for iri, amount in cols.items():
        if iri.rstrip("/").rsplit("/", 1)[-1] == key:
            return amount
    return None


def _col_iri(cols: dict[str, Decimal], key: str) -> str | None:
    for iri in cols:
        if iri.rstrip("/").rsplit("/", 1)[-1] == key:
            return iri
    return None


def _best(rows: list[Row], key: str, lang: str = "zh") -> str | None:
    """The best-language value of a variable across the rows of one resource."""
    terms = list(dict.fromkeys(r[key] for r in rows if key in r))
    return pick_label(terms, lang) if terms else None


async def budget_view(site: Site, rows: list[Row], totals: dict[str, dict[str, dict[str, Decimal]]]) -> BudgetSummary:
    """What ``templates/_budget.html`` shows of one budget (its rows of ``budgets.rq``)."""
    b = rows[0]
    biri = v(b, "b") or ""
    unit = v(b, "unit") or "万元"
    orglabel = _best(rows, "orglabel")
    cards: list[tuple[str, Decimal]] = []
    split = table_href = table_label = treemap = None
    tables = totals.get(biri, {})
    chosen = _choose_table(tables)
    if chosen:
        cols = tables[chosen]
        total = _col(cols, "total") or max(cols.values())
        basic, project = _col(cols, "basic"), _col(cols, "project")
        cards = [("支出合计 Total expenditure", total)]
        if basic is not None:
            cards.append(("基本支出 Basic", basic))
        if project is not None:
            cards.append(("项目支出 Projects", project))
        if basic is not None and project is not None and total:
            split = (float(basic / total * 100), float(project / total * 100))
        table_href, table_label = href(site, chosen), _tail(chosen)
        col_iri = _col_iri(cols, "total") or next(iter(cols))
        treemap = await functional_chart(site, chosen, col_iri, unit)
    projects = await site.cached_select("budget-projects", b=biri)
    nodes = [
        charts.Node(
            label=v(p, "label") or _tail(v(p, "project") or ""),
            value=to_decimal(v(p, "total")) or Decimal(0),
            href=href(site, v(p, "project") or ""),
        )
        for p in projects
    ]
    svg = charts.bars(nodes, unit)
    return BudgetSummary(
        href=href(site, biri),
        title=_best(rows, "title") or f"{orglabel or ''} {v(b, 'year') or ''}",
        org_href=href(site, v(b, "org") or "") if v(b, "org") else None,
        org_label=orglabel or compact(v(b, "org") or ""),
        year=v(b, "year"),
        phase=_tail(v(b, "phase") or "").rsplit("/", 1)[-1].rsplit("#", 1)[-1] if v(b, "phase") else None,
        unit=unit,
        cards=tuple(cards),
        split=split,
        table_href=table_href,
        table_label=table_label,
        treemap=treemap,
        bars=charts.interactive("bars", unit, svg, [charts.node_data(n) for n in nodes]) if svg else None,
    )


async def functional_chart(site: Site, table_iri: str, col_iri: str, unit: str) -> Chart | None:
    """The 类 → 款 → 项 treemap of a budget's functional table (the SVG fallback draws 类 and 款)."""
    rows = await site.cached_select("budget-functional", table=table_iri, col=col_iri)
    classes: dict[str, charts.Node] = {}
    for r in rows:
        n = v(r, "notation") or ""
        if len(n) == 3:
            classes[n] = charts.Node(
                label=f"{n} {v(r, 'label') or ''}".strip(),
                value=to_decimal(v(r, "amount")) or Decimal(0),
                href=href(site, v(r, "code") or ""),
            )
    kuan: dict[str, charts.Node] = {}
    for r in rows:
        n = v(r, "notation") or ""
        if len(n) == 5 and n[:3] in classes:
            kuan[n] = charts.Node(
                label=f"{n} {v(r, 'label') or ''}".strip(),
                value=to_decimal(v(r, "amount")) or Decimal(0),
                href=href(site, v(r, "obs") or ""),
            )
            classes[n[:3]].children.append(kuan[n])
    svg = charts.treemap(list(classes.values()), unit)  # the fallback draws 类 and 款
    if svg is None:
        return None
    for r in rows:  # the interactive chart drills down to 项
        n = v(r, "notation") or ""
        if len(n) == 7 and n[:5] in kuan:
            kuan[n[:5]].children.append(
                charts.Node(
                    label=f"{n} {v(r, 'label') or ''}".strip(),
                    value=to_decimal(v(r, "amount")) or Decimal(0),
                    href=href(site, v(r, "obs") or ""),
                )
            )
    data = [charts.node_data(c) for c in classes.values()]
    return charts.interactive("treemap", unit, svg, data, cls="chart treemap")


async def validation_summary(site: Site) -> dict:
    """Counts per severity and the first results, for the home page."""
    results = await site.cached_select("validation-all")
    counts: dict[str, int] = defaultdict(int)
    for r in results:
        counts[_severity(v(r, "sev"))] += 1
    items = [
        {
            "severity": _severity(v(r, "sev")),
            "href": href(site, v(r, "focus") or ""),
            "label": v(r, "flabel") or _tail(v(r, "focus") or ""),
            "message": v(r, "msg") or "",
        }
        for r in results[:15]
    ]
    return {"total": len(results), "counts": sorted(counts.items()), "results": items}


async def home(request: Request) -> Response:
    """``/``: every budget's summary (``templates/home.html``) and the validation summary."""
    site: Site = request.app.state.site
    try:
        budgets = await site.cached_select("budgets")
        totals = await all_totals(site)
        grouped: dict[str, list[Row]] = defaultdict(list)
        for row in budgets:
            grouped[v(row, "b") or ""].append(row)
        views = [await budget_view(site, rows, totals) for rows in grouped.values()]
        validation = await validation_summary(site)
    except PoolError as exc:
        return error_page(site, exc.status, "Busy", exc.message)
    has_charts = any(b.treemap or b.bars for b in views)
    return templating.page(
        "home.html",
        title="Budgets",
        site_title=site.config.title,
        budgets=views,
        validation=validation,
        charts=has_charts,
    )
