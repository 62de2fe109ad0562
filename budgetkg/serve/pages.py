"""HTML pages that understand budgets: home, resource pages, validation report.

A resource page shows what a reader of the PDF wants: the amount with unit and year, the
page it was printed on, where the row sits in the 类/款/项 hierarchy and whether it adds up
(parent vs Σ children, with the rounding tolerance of two-decimal 万元 figures), and what the
SHACL validation said about it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from budgetkg.serve import charts, templating
from budgetkg.serve.markup import (
    attr,
    compact,
    esc,
    fmt_amount,
    layout,
    safe_href,
    table,
    to_decimal,
)
from budgetkg.serve.site import PREFIXES, Site
from budgetkg.serve.workers import PoolError

BK = PREFIXES["bk"]
QB = PREFIXES["qb"]
SKOS = PREFIXES["skos"]
RDFS = PREFIXES["rdfs"]
RDF_TYPE = PREFIXES["rdf"] + "type"
SH = PREFIXES["sh"]
ORG = PREFIXES["org"]
DCT = PREFIXES["dct"]
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


def link(site: Site, iri: str, label: str | None = None) -> str:
    text = label or compact(iri)
    target = safe_href(href(site, iri))
    if target is None:
        return f'<span class="iri" title="{attr(iri)}">{esc(text)}</span>'
    return f'<a href="{attr(target)}" title="{attr(iri)}">{esc(text)}</a>'


def render_term(site: Site, t: Term, label: str | None = None) -> str:
    kind, value, datatype, lang = t
    if kind == "uri":
        return link(site, value, label)
    if kind == "bnode":
        return f"<span class=iri>_:{esc(value)}</span>"
    text = esc(value)
    if datatype == PREFIXES["xsd"] + "decimal":
        text = f'<span class="num">{esc(fmt_amount(value))}</span>'
    if lang:
        return f'{text}<span class="lang">@{esc(lang)}</span>'
    if datatype and datatype not in (PREFIXES["xsd"] + "string",):
        return f'{text} <span class="lang">{esc(compact(datatype))}</span>'
    return text


def not_found_page(site: Site, path: str) -> Response:
    return error_page(site, 404, "Not found 未找到", f"Nothing is at {path} in this build.")


def property_page(site: Site, iri: str) -> Response:
    """A property used in the data but not described in it (e.g. ``org:hasSubOrganization``)."""
    q = _urlquote(f"SELECT ?s ?o WHERE {{ ?s <{iri}> ?o }} LIMIT 100")
    body = (
        f'<h1>{esc(compact(iri))}</h1><p class="iri">{esc(iri)}</p>'
        "<p>This build uses this IRI as a property but does not describe it; its definition is "
        "published by the vocabulary that owns the IRI above.</p>"
        f'<p><a href="/query?query={attr(q)}">Statements that use it (SPARQL)</a></p>'
    )
    return html_response_plain(layout(compact(iri), body, site_title=site.config.title, crumbs=[(compact(iri), None)]))


def html_response_plain(text: str, status: int = 200) -> Response:
    return HTMLResponse(text, status_code=status, headers={"Vary": "Accept", "Cache-Control": "no-cache"})


def html_response(request: Request, text: str, status: int = 200) -> Response:
    return HTMLResponse(text, status_code=status, headers={"Vary": "Accept", "Cache-Control": "no-cache"})


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


def diff_cell(parent: Decimal | None, total: Decimal | None, n: int, per_figure: Decimal) -> tuple[str, bool]:
    """HTML cell for parent − Σ children, and whether it is beyond rounding."""
    if parent is None or total is None or n == 0:
        return '<td class="num diff">—</td>', False
    diff = parent - total
    bad = abs(diff) > tolerance(n, per_figure)
    cls = "bad" if bad else "ok"
    mark = "✗" if bad else ("≈" if diff else "✓")
    return f'<td class="num diff {cls}">{esc(fmt_amount(diff))} {mark}</td>', bad


async def resource_page(site: Site, d: Described) -> str:
    """The page of one resource: what it is, its figures and checks first, then the raw triples."""
    types = d.types
    labels = d.labels()
    zh = pick_label(labels, "zh") or d.first(SKOS + "notation") or compact(d.iri)
    en = pick_label(labels, "en") if any(t[3] and t[3].startswith("en") for t in labels) else None
    local = href(site, d.iri)
    if local.startswith("/describe?"):
        downloads = [
            {"href": f"{local}&format={f}", "label": n}
            for f, n in (("turtle", "Turtle"), ("jsonld", "JSON-LD"), ("ntriples", "N-Triples"), ("rdfxml", "RDF/XML"))
        ]
    else:
        downloads = [
            {"href": local + ".ttl", "label": "Turtle"},
            {"href": local + ".jsonld", "label": "JSON-LD"},
            {"href": local + ".nt", "label": "N-Triples"},
            {"href": local + "?format=rdfxml", "label": "RDF/XML"},
            {"href": local + "/children.csv", "label": "下级 children (CSV)"},
        ]
    downloads.append({"href": "/query?query=" + _urlquote(f"DESCRIBE <{d.iri}>"), "label": "SPARQL"})
    parts: list[str] = []
    if QB + "Observation" in types:
        parts.append(observation_block(site, d))
        parts.append(await observation_tree(site, d))
    if SKOS + "Concept" in types and d.first(SKOS + "notation"):
        parts.append(await concept_block(site, d))
    if "/table/" in d.iri or any(t.endswith("Table") for t in types):
        parts.append(await table_block(site, d))
    if BK + "Project" in types:
        parts.append(await project_block(site, d))
    if BK + "Department" in types or BK + "SubordinateUnit" in types or BK + "Division" in types:
        parts.append(await organisation_block(site, d))
    if BK + "Budget" in types:
        parts.append(await budget_block(site, d))
        parts.append(await claims_block(site, d.iri))
    parts.append(provenance_block(site, d))
    parts.append(validation_block(site, d.validation))
    parts.append(properties_block(site, d))
    parts.append(incoming_block(site, d))
    crumbs = await breadcrumbs_for(site, d, zh)
    blocks = [Markup(p) for p in parts if p]
    return templating.render(
        "resource.html",
        title=zh,
        title_en=en,
        iri=d.iri,
        types=[{"href": href(site, t), "iri": t, "label": compact(t)} for t in types],
        downloads=downloads,
        blocks=blocks,
        site_title=site.config.title,
        crumbs=[(label, safe_href(target) if target else None) for label, target in crumbs],
        charts=any("data-chart=" in b for b in blocks) and templating.ECHARTS.is_file(),
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
    elif "/table/" in d.iri or any(t.endswith("Table") for t in types):
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


async def project_block(site: Site, d: Described) -> str:
    """A project: amount, unit, year and budget (from the project index), and its 绩效目标."""
    from budgetkg.serve import find

    facts = [p for p in await find.projects(site) if p.iri == d.iri]
    index = {e.iri: e for e in await find.entries(site)}
    out = []
    for p in facts:
        bits = []
        if p.unit:
            bits.append(["单位 Unit", link(site, p.unit, p.unit_label)])
        if p.year:
            bits.append(["年度 Year", esc(p.year)])
        if p.budget:
            bits.append(["预算 Budget", link(site, p.budget, index[p.budget].label if p.budget in index else None)])
        amount = (
            f'<p><span class="amount">{esc(fmt_amount(p.amount))}</span> <span class="unit">{esc(p.currency)}'
            f"{f' · {esc(p.year)}年' if p.year else ''}</span></p>"
            if p.amount is not None
            else ""
        )
        out.append(amount + table(["", ""], bits, cls="data facts"))
    target = d.first(BK + "performanceTarget")
    if target:
        out.append(f"<h2>绩效目标 Performance target</h2><p>{esc(target)}</p>")
    rows = await site.cached_select("project-amounts", this=d.iri)
    if rows:
        body = [
            [
                link(site, v(r, "obs") or "", fmt_amount(v(r, "amount") or "")),
                esc(v(r, "unit") or ""),
                link(site, v(r, "table") or "", v(r, "tlabel") or _tail(v(r, "table") or "")),
                esc(v(r, "clabel") or _tail(v(r, "col") or "")),
                esc(v(r, "page") or ""),
            ]
            for r in rows
        ]
        out.append(
            "<h2>金额 Printed amounts</h2>"
            + table(["金额 Amount", "单位 Unit", "表 Table", "列 Column", "页 Page"], body)
        )
    return "".join(out)


async def organisation_block(site: Site, d: Described) -> str:
    """A department or unit: its budgets by year side by side, its units, and its projects."""
    from budgetkg.serve import find

    budgets = [r for r in await site.cached_select("budgets") if v(r, "org") == d.iri]
    out = []
    if budgets:
        out.append(await budgets_side_by_side(site, budgets))
    index = await find.entries(site)
    subs = [r for r in await site.cached_select("org-index") if v(r, "parent") == d.iri and v(r, "org") != d.iri]
    if subs:
        names = {e.iri: e.label for e in index}
        seen = dict.fromkeys(v(r, "org") or "" for r in subs)
        out.append(
            "<h2>下属单位与处室 Units and divisions</h2><ul>"
            + "".join(f"<li>{link(site, o, names.get(o))}</li>" for o in seen)
            + "</ul>"
        )
    projects = [p for p in await find.projects(site) if p.unit == d.iri]
    if projects:
        rows = [
            [
                link(site, p.iri, p.label),
                f'<span class="num">{esc(fmt_amount(p.amount)) if p.amount is not None else "—"}</span>',
                esc(p.currency),
                esc(p.year or ""),
            ]
            for p in projects
        ]
        out.append(
            f"<h2>项目 Projects ({len(projects)})</h2>"
            + table(["项目 Project", "金额 Amount", "单位 Unit", "年度 Year"], rows)
        )
    return "".join(out)


async def budgets_side_by_side(site: Site, budgets: list[Row]) -> str:
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
    head = "".join(
        f'<th class="num">{link(site, c["b"], (v(c["row"], "year") or "") + " " + _phase(v(c["row"], "phase")))}</th>'
        for c in columns
    )

    def line(label: str, values: list[Decimal | None]) -> str:
        cells = "".join(f'<td class="num">{esc(fmt_amount(x)) if x is not None else "—"}</td>' for x in values)
        return f"<tr><th>{label}</th>{cells}</tr>"

    rows = [
        line("支出合计 Total", [c["total"] for c in columns]),
        line("基本支出 Basic", [c["basic"] for c in columns]),
        line("项目支出 Projects", [c["project"] for c in columns]),
    ]
    codes = sorted({n for c in columns for n in c["classes"]})
    for n in codes:
        label = next((c["classes"][n][0] for c in columns if n in c["classes"]), "")
        rows.append(line(f"{esc(n)} {esc(label)}", [c["classes"].get(n, ("", None))[1] for c in columns]))
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
    return (
        f'<h2>预算 Budgets by year <span class="unit">({esc(units)})</span></h2>'
        f'<table class="data years"><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        + charts.interactive("years", units, "", data, cls="chart years")  # the table is the fallback
    )


def _phase(phase: str | None) -> str:
    name = (phase or "").rsplit("#", 1)[-1].rsplit("/", 1)[-1]
    return {"Approved": "预算", "Executed": "决算", "BudgetPhase-budget": "预算"}.get(name, name)


async def budget_block(site: Site, d: Described) -> str:
    """A budget: the same summary as on the home page (cards, 类 treemap, largest projects)."""
    rows = [r for r in await site.cached_select("budgets") if v(r, "b") == d.iri]
    if not rows:
        return ""
    return await budget_section(site, rows, await all_totals(site))


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


def _urlquote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def observation_block(site: Site, d: Described) -> str:
    amount = d.first(BK + "amount")
    if amount is None:
        return ""
    year = d.first(BK + "fiscalYear") or d.year
    unit = unit_of(d)
    labels = d.object_labels()
    facts = []
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
            lab = pick_label(labels.get(t[1], []), "zh")
            facts.append([esc(name), render_term(site, t, lab)])
    if d.first(BK + "isTotal") in ("true", "1"):
        facts.append(["合计行 Total row", "是 yes"])
    year_text = f" · {esc(year)}年" if year else ""
    return (
        f'<p><span class="amount">{esc(fmt_amount(amount))}</span> '
        f'<span class="unit">{esc(unit)}{year_text}</span></p>'
        + table(["维度 Dimension", "值 Value"], facts, cls="data facts")
    )


async def observation_tree(site: Site, d: Described) -> str:
    """Parent row, this row, and child rows of the same table and column, with the check."""
    rows = await site.select("obs-related", this=d.iri)
    if not rows:
        return ""
    me = to_decimal(d.first(BK + "amount"))
    unit = unit_of(d)
    parents = [r for r in rows if v(r, "rel") == "parent"]
    children = [r for r in rows if v(r, "rel") == "child"]
    out = ['<h2>类/款/项 层级 Hierarchy</h2><div class="tree">']
    if parents:
        p = parents[0]
        out.append(
            "<p>上级 Parent: "
            + link(site, v(p, "obs") or "", f"{v(p, 'notation') or ''} {v(p, 'label') or ''}")
            + f' <span class="num">{esc(fmt_amount(v(p, "amount") or ""))}</span> {esc(unit)}</p>'
        )
    if children:
        total = sum((to_decimal(v(r, "amount")) or Decimal(0)) for r in children)
        body = [
            [
                link(site, v(r, "obs") or "", v(r, "notation") or "—"),
                esc(v(r, "label") or ""),
                f'<span class="num">{esc(fmt_amount(v(r, "amount") or ""))}</span>',
            ]
            for r in children
        ]
        per = await figure_tolerance(site)
        cell, bad = diff_cell(me, total, len(children), per)
        out.append(table(["编码 Code", "名称 Name", f"金额 ({esc(unit)})"], body))
        out.append(
            f'<table class="data check"><tr{" class=mismatch" if bad else ""}>'
            f'<th>本行 this row</th><td class="num">{esc(fmt_amount(me or 0))}</td>'
            f'<th>Σ 下级 children</th><td class="num">{esc(fmt_amount(total))}</td>'
            f"<th>差额 difference</th>{cell}</tr></table>"
            f'<p class="hint">Rounding tolerance ±{tolerance(len(children), per)} {esc(unit)} '
            f"({len(children)} children + this row, ±{per} each, as the build validated).</p>"
        )
    out.append("</div>")
    return "".join(out)


async def concept_block(site: Site, d: Described) -> str:
    """A code: its children, and in each table/column where it is used, amount vs Σ children."""
    kids = await site.select("children", this=d.iri)
    out = []
    broader = d.values(SKOS + "broader")
    labels = d.object_labels()
    if broader:
        out.append(
            "<p>上级 Broader: "
            + ", ".join(render_term(site, b, pick_label(labels.get(b[1], []))) for b in broader)
            + "</p>"
        )
    if kids:
        out.append("<h2>下级科目 Narrower codes</h2>")
        out.append(
            table(
                ["编码 Code", "名称", "Name"],
                [
                    [
                        link(
                            site,
                            v(k, "child") or "",
                            v(k, "notation") or compact(v(k, "child") or ""),
                        ),
                        esc(v(k, "zh") or ""),
                        esc(v(k, "en") or ""),
                    ]
                    for k in kids
                ],
            )
        )
    amounts = await site.select("concept-amounts", this=d.iri)
    if amounts:
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
        body = []
        per = await figure_tolerance(site)
        for (tbl, col), g in sorted(groups.items(), key=lambda kv: (kv[1]["orglabel"] or "", kv[1]["year"], kv[0])):
            total = sum(g["children"].values(), Decimal(0))
            n = len(g["children"])
            cell, bad = diff_cell(g["amount"], total if n else None, n, per)
            body.append(
                (
                    bad,
                    f"<td>{link(site, g['org'], g['orglabel']) if g['org'] else '—'}</td>"
                    f"<td>{esc(g['year'])}</td>"
                    f"<td>{link(site, tbl, g['tlabel'] or _tail(tbl))}</td>"
                    f"<td>{link(site, col, g['clabel'] or _tail(col))}</td>"
                    '<td class="num">'
                    f"{link(site, g['obs'] or '', fmt_amount(g['amount'] or 0))}</td>"
                    f'<td class="num">{esc(fmt_amount(total)) if n else "—"}</td>{cell}'
                    f'<td class="unit">{esc(g["unit"])}</td>',
                )
            )
        rows = "".join(f"<tr{' class=mismatch' if bad else ''}>{cells}</tr>" for bad, cells in body)
        out.append(
            "<h2>金额 Amounts: parent vs Σ children</h2>"
            '<table class="data"><thead><tr><th>部门 Department</th><th>年度 Year</th><th>表 Table</th>'
            '<th>列 Column</th><th class="num">金额 Amount</th><th class="num">Σ 下级</th><th class="num">差额</th>'
            f"<th>单位 Unit</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    return "".join(out)


def _tail(iri: str) -> str:
    """Readable last segments of an IRI (for table and column links)."""
    parts = [p for p in iri.rstrip("/").split("/") if p]
    return "/".join(parts[-3:]) if len(parts) >= 3 else iri


def _level(notation: str | None) -> int:
    if not notation:
        return 0
    return {3: 0, 5: 1, 7: 2}.get(len(notation), 0)


async def table_block(site: Site, d: Described) -> str:
    """The table as printed: rows × columns, coded rows indented by level, sums checked."""
    rows = await site.select("table-rows", this=d.iri)
    if not rows:
        return ""
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
    head = "".join(f'<th class="num">{esc(columns[c])}</th>' for c in cols)
    body = []
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
            text = link(site, obs, fmt_amount(amount)) if obs and amount is not None else ""
            cells.append(f'<td class="{cls}" title="{attr(title)}">{text}</td>')
        mismatches += row_bad
        indent = _level(row["notation"]) * 1.2
        name = esc(row["label"])
        if row["code"]:
            name = link(site, row["code"], row["notation"] or "") + " " + name
        if row["total"]:
            name = f"<strong>{name}</strong>"
        body.append(
            f"<tr{' class=mismatch' if row_bad else ''}>"
            f'<td style="padding-left:{0.5 + indent:.1f}em">{name}</td>{"".join(cells)}</tr>'
        )
    note = (
        f'<p class="error">{mismatches} row(s) differ from the sum of their children beyond '
        "rounding (highlighted; hover a cell for Σ children).</p>"
        if mismatches
        else '<p class="hint">Every coded row equals the sum of its children (within rounding).</p>'
    )
    return (
        f'<h2>表内容 Table <span class="unit">(单位 unit: {esc("、".join(units))})</span></h2>'
        + note
        + '<table class="data grid"><thead><tr><th>科目 Row</th>'
        + head
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


CLAIM_RANK = {"inconsistent": 0, "consistent": 1, "unverifiable": 2}


async def claims_block(site: Site, budget_iri: str) -> str:
    """The sentences of the prose with their figures marked by the verdict of their checks
    (budgetkg/claims.py): red when a check fails, green when all agree, grey when unverifiable."""
    rows = await site.cached_select("budget-claims", b=budget_iri)
    if not rows:
        return ""
    sentences: dict[tuple[int, str], dict[str, list[tuple[str, str]]]] = {}
    for r in rows:
        key = (int(v(r, "page") or 0), v(r, "sentence") or "")
        printed = v(r, "printed") or ""
        note = f"{v(r, 'kind')}: {v(r, 'status')} — {v(r, 'compared') or ''}"
        sentences.setdefault(key, {}).setdefault(printed, []).append((v(r, "status") or "", note))
    out = ['<h2>说明文字核对 Figures of the prose, checked</h2><ol class="claims">']
    for (page, sentence), figures in sorted(sentences.items()):
        text = esc(sentence)
        for printed, checks in sorted(figures.items(), key=lambda kv: -len(kv[0])):
            digits = re_figure_digits(printed)
            status = min((c[0] for c in checks), key=lambda s: CLAIM_RANK.get(s, 9))
            title = attr(" | ".join(c[1] for c in checks))
            marked = f'<mark class="claim-{attr(status)}" title="{title}">{esc(digits)}</mark>'
            text = text.replace(esc(digits), marked, 1)
        out.append(f'<li><span class="page">p.{page}</span> {text}</li>')
    out.append("</ol>")
    return "".join(out)


def re_figure_digits(printed: str) -> str:
    """The number of a printed figure (增加1,392.35万元 → 1,392.35), as it stands in the sentence."""
    m = re.search(r"-?\d[\d,]*(?:\.\d+)?", printed)
    return m.group(0) if m else printed


def provenance_block(site: Site, d: Described) -> str:
    if not d.provenance:
        return ""
    items = []
    for r in d.provenance:
        src = v(r, "src") or ""
        file = v(r, "file") or compact(src)
        sha = v(r, "sha") or ""
        page = v(r, "page")
        pdf = site.build.source_pdf(sha) if sha else None
        text = link(site, src, file)
        if page:
            text += f" · 第 {esc(page)} 页 page {esc(page)}"
            if pdf is not None:
                text += f' · <a href="/source/{attr(sha)}.pdf#page={attr(page)}">PDF p.{esc(page)}</a>'
        elif pdf is not None:
            text += f' · <a href="/source/{attr(sha)}.pdf">PDF</a>'
        if sha:
            text += f' <span class="iri">sha256 {esc(sha[:16])}…</span>'
        items.append(f"<li>{text}</li>")
    return "<h2>来源 Provenance</h2><ul>" + "".join(dict.fromkeys(items)) + "</ul>"


def _severity(iri: str | None) -> str:
    return (iri or "").rsplit("#", 1)[-1] or "Violation"


def validation_block(site: Site, results: list[Row]) -> str:
    if not results:
        return '<h2>校验 Validation</h2><p class="hint">No SHACL results concern this resource.</p>'
    body = []
    for r in results:
        sev = _severity(v(r, "sev"))
        value = r.get("value")
        body.append(
            [
                f'<span class="sev-{attr(sev)}">{esc(sev)}</span>',
                esc(v(r, "msg") or ""),
                render_term(site, value) if value else "",
                link(site, v(r, "shape") or "", compact(v(r, "shape") or "")) if v(r, "shape") else "",
            ]
        )
    content = table(["Severity", "Message", "Value", "Shape"], body, cls="data validation")
    if len(body) > 5:
        return (
            f'<h2>校验 Validation</h2><details class="validation"><summary>{len(body)} SHACL results concern '
            f"this resource (show)</summary>{content}</details>"
        )
    return "<h2>校验 Validation</h2>" + content


def properties_block(site: Site, d: Described) -> str:
    labels = d.object_labels()
    by_prop: dict[str, list[Term]] = defaultdict(list)
    graphs: dict[str, set[str]] = defaultdict(set)
    for r in d.out:
        p, o = v(r, "p"), r.get("o")
        if p is None or o is None:
            continue
        if o not in by_prop[p]:
            by_prop[p].append(o)
        if v(r, "g"):
            graphs[p].add(v(r, "g") or "")
    body = []
    for p in sorted(by_prop, key=compact):
        vals = [render_term(site, o, pick_label(labels.get(o[1], []))) for o in by_prop[p]]
        body.append([link(site, p, compact(p)), "<br>".join(vals)])
    return "<h2>属性 Properties</h2>" + table(["Property", "Value"], body, cls="data props")


def incoming_block(site: Site, d: Described) -> str:
    if not d.incoming:
        return ""
    body = []
    seen: set[tuple[str, str]] = set()
    for r in d.incoming:
        key = (v(r, "s") or "", v(r, "p") or "")
        if key in seen:
            continue
        seen.add(key)
        s = r.get("s")
        body.append([render_term(site, s, v(r, "slabel")) if s else "", link(site, key[1], compact(key[1]))])
    more = ""
    if d.incoming_total > len(body):
        q = _urlquote(f"SELECT ?s ?p WHERE {{ ?s ?p <{d.iri}> }}")
        more = (
            f'<p class="hint">Showing {len(body)} of {d.incoming_total}. '
            f'<a href="/query?query={attr(q)}">All in SPARQL</a></p>'
        )
    return "<h2>被引用 Referenced by</h2>" + table(["Resource", "via"], body) + more


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


async def budget_view(site: Site, rows: list[Row], totals: dict[str, dict[str, dict[str, Decimal]]]) -> dict:
    """What ``templates/_budget.html`` shows of one budget (its rows of ``budgets.rq``)."""
    b = rows[0]
    biri = v(b, "b") or ""
    unit = v(b, "unit") or "万元"
    orglabel = _best(rows, "orglabel")
    view: dict[str, Any] = {
        "href": href(site, biri),
        "title": _best(rows, "title") or f"{orglabel or ''} {v(b, 'year') or ''}",
        "org_href": href(site, v(b, "org") or "") if v(b, "org") else None,
        "org_label": orglabel or compact(v(b, "org") or ""),
        "year": v(b, "year"),
        "phase": _tail(v(b, "phase") or "").rsplit("/", 1)[-1].rsplit("#", 1)[-1] if v(b, "phase") else None,
        "unit": unit,
        "cards": [],
        "split": None,
        "treemap": None,
        "bars": None,
    }
    tables = totals.get(biri, {})
    chosen = _choose_table(tables)
    if chosen:
        cols = tables[chosen]
        total = _col(cols, "total") or max(cols.values())
        basic, project = _col(cols, "basic"), _col(cols, "project")
        view["cards"] = [("支出合计 Total expenditure", total)]
        if basic is not None:
            view["cards"].append(("基本支出 Basic", basic))
        if project is not None:
            view["cards"].append(("项目支出 Projects", project))
        if basic is not None and project is not None and total:
            view["split"] = (float(basic / total * 100), float(project / total * 100))
        view["table_href"], view["table_label"] = href(site, chosen), _tail(chosen)
        col_iri = _col_iri(cols, "total") or next(iter(cols))
        chart = await functional_chart(site, chosen, col_iri, unit)
        view["treemap"] = Markup(chart) if chart else None
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
    if svg:
        view["bars"] = Markup(charts.interactive("bars", unit, svg, [charts.node_data(n) for n in nodes]))
    return view


async def budget_section(site: Site, rows: list[Row], totals: dict[str, dict[str, dict[str, Decimal]]]) -> str:
    """One budget's summary as HTML (for the budget's own page)."""
    view = await budget_view(site, rows, totals)
    return str(templating.ENV.get_template("_budget.html").module.budget(view))


async def functional_chart(site: Site, table_iri: str, col_iri: str, unit: str) -> str:
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
    if not svg:
        return ""
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
    has_charts = any(b["treemap"] or b["bars"] for b in views)
    return templating.page(
        "home.html",
        title="Budgets",
        site_title=site.config.title,
        budgets=views,
        validation=validation,
        charts=has_charts and templating.ECHARTS.is_file(),
    )
