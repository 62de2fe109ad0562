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

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from budgetkg.serve import charts
from budgetkg.serve.markup import attr, compact, esc, fmt_amount, layout, table, to_decimal
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
    """Link target: server-relative for IRIs under the base, the IRI itself otherwise."""
    return site.build.local_path(iri) or iri


def link(site: Site, iri: str, label: str | None = None) -> str:
    text = label or compact(iri)
    return f'<a href="{attr(href(site, iri))}" title="{attr(iri)}">{esc(text)}</a>'


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


def html_response(request: Request, text: str, status: int = 200) -> Response:
    return HTMLResponse(text, status_code=status, headers={"Vary": "Accept", "Cache-Control": "no-cache"})


def error_page(site: Site, status: int, title: str, message: str) -> Response:
    body = f"<h1>{esc(title)}</h1><p class=error>{esc(message)}</p>"
    return HTMLResponse(
        layout(title, body, site_title=site.config.title),
        status_code=status,
        headers={"Vary": "Accept", "Cache-Control": "no-store"},
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


def tolerance(n_children: int) -> Decimal:
    """Largest parent − Σ children gap explained by rounding each figure to 0.01."""
    return Decimal("0.005") * (n_children + 1)


def diff_cell(parent: Decimal | None, total: Decimal | None, n: int) -> tuple[str, bool]:
    """HTML cell for parent − Σ children, and whether it is beyond rounding."""
    if parent is None or total is None or n == 0:
        return '<td class="num diff">—</td>', False
    diff = parent - total
    bad = abs(diff) > tolerance(n)
    cls = "bad" if bad else "ok"
    mark = "✗" if bad else ("≈" if diff else "✓")
    return f'<td class="num diff {cls}">{esc(fmt_amount(diff))} {mark}</td>', bad


async def resource_page(site: Site, d: Described) -> str:
    types = d.types
    labels = d.labels()
    zh = pick_label(labels, "zh") or d.first(SKOS + "notation") or compact(d.iri)
    en = pick_label(labels, "en") if any(t[3] and t[3].startswith("en") for t in labels) else None
    local = href(site, d.iri)
    parts: list[str] = [f"<h1>{esc(zh)}</h1>"]
    if en:
        parts.append(f'<p class="sub" lang="en">{esc(en)}</p>')
    parts.append(f'<p class="iri">{esc(d.iri)}</p>')
    if types:
        parts.append('<p class="types">' + "".join(link(site, t, compact(t)) for t in types) + "</p>")
    sparql_link = "/query?query=" + _urlquote(f"DESCRIBE <{d.iri}>")
    parts.append(
        '<p class="downloads">'
        f'<a href="{attr(local)}.ttl">Turtle</a><a href="{attr(local)}.jsonld">JSON-LD</a>'
        f'<a href="{attr(local)}.nt">N-Triples</a><a href="{attr(local)}?format=rdfxml">RDF/XML</a>'
        f'<a href="{attr(local)}/children.csv">下级 children (CSV)</a>'
        f'<a href="{attr(sparql_link)}">SPARQL</a></p>'
    )
    if QB + "Observation" in types:
        parts.append(observation_block(site, d))
        parts.append(await observation_tree(site, d))
    if SKOS + "Concept" in types and d.first(SKOS + "notation"):
        parts.append(await concept_block(site, d))
    if "/table/" in d.iri or any(t.endswith("Table") for t in types):
        parts.append(await table_block(site, d))
    if BK + "Project" in types:
        target = d.first(BK + "performanceTarget")
        if target:
            parts.append(f"<h2>绩效目标 Performance target</h2><p>{esc(target)}</p>")
    if BK + "Budget" in types:
        parts.append(await claims_block(site, d.iri))
    parts.append(provenance_block(site, d))
    parts.append(validation_block(site, d.validation))
    parts.append(properties_block(site, d))
    parts.append(incoming_block(site, d))
    return layout(zh, "\n".join(p for p in parts if p), site_title=site.config.title)


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
        cell, bad = diff_cell(me, total, len(children))
        out.append(table(["编码 Code", "名称 Name", f"金额 ({esc(unit)})"], body))
        out.append(
            f'<table class="data check"><tr{" class=mismatch" if bad else ""}>'
            f'<th>本行 this row</th><td class="num">{esc(fmt_amount(me or 0))}</td>'
            f'<th>Σ 下级 children</th><td class="num">{esc(fmt_amount(total))}</td>'
            f"<th>差额 difference</th>{cell}</tr></table>"
            f'<p class="hint">Rounding tolerance ±{tolerance(len(children))} {esc(unit)} '
            f"({len(children)} children, figures printed to 0.01).</p>"
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
                },
            )
            if v(r, "cobs"):
                g["children"][v(r, "cobs")] = to_decimal(v(r, "camount")) or Decimal(0)
        body = []
        for (tbl, col), g in sorted(groups.items(), key=lambda kv: (kv[1]["year"], kv[0])):
            total = sum(g["children"].values(), Decimal(0))
            n = len(g["children"])
            cell, bad = diff_cell(g["amount"], total if n else None, n)
            body.append(
                (
                    bad,
                    f"<td>{esc(g['year'])}</td>"
                    f"<td>{link(site, tbl, g['tlabel'] or _tail(tbl))}</td>"
                    f"<td>{link(site, col, g['clabel'] or _tail(col))}</td>"
                    '<td class="num">'
                    f"{link(site, g['obs'] or '', fmt_amount(g['amount'] or 0))}</td>"
                    f'<td class="num">{esc(fmt_amount(total)) if n else "—"}</td>{cell}',
                )
            )
        rows = "".join(f"<tr{' class=mismatch' if bad else ''}>{cells}</tr>" for bad, cells in body)
        out.append(
            "<h2>金额 Amounts: parent vs Σ children</h2>"
            '<table class="data"><thead><tr><th>年度 Year</th><th>表 Table</th><th>列 Column</th>'
            '<th class="num">金额</th><th class="num">Σ 下级</th><th class="num">差额</th>'
            f"</tr></thead><tbody>{rows}</tbody></table>"
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
                if abs(diff) > tolerance(len(kids)):
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
        "<h2>表内容 Table</h2>"
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
    return "<h2>校验 Validation</h2>" + table(["Severity", "Message", "Value", "Shape"], body, cls="data validation")


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


async def budget_section(site: Site, rows: list[Row], totals: dict[str, dict[str, dict[str, Decimal]]]) -> str:
    b = rows[0]
    biri = v(b, "b") or ""
    unit = v(b, "unit") or "万元"
    orglabel = _best(rows, "orglabel")
    title = _best(rows, "title") or f"{orglabel or ''} {v(b, 'year') or ''}"
    tables = totals.get(biri, {})
    chosen = _choose_table(tables)
    out = [f'<section class="budget"><h2>{link(site, biri, title)}</h2>']
    meta = []
    if v(b, "org"):
        meta.append(link(site, v(b, "org") or "", orglabel))
    if v(b, "year"):
        meta.append(f"{esc(v(b, 'year'))} 年度")
    if v(b, "phase"):
        meta.append(esc(_tail(v(b, "phase") or "").rsplit("/", 1)[-1].rsplit("#", 1)[-1]))
    out.append(f'<p class="sub">{" · ".join(meta)}</p>')
    if chosen:
        cols = tables[chosen]
        total = _col(cols, "total") or max(cols.values())
        basic, project = _col(cols, "basic"), _col(cols, "project")
        cards = [("支出合计 Total expenditure", total)]
        if basic is not None:
            cards.append(("基本支出 Basic", basic))
        if project is not None:
            cards.append(("项目支出 Projects", project))
        out.append(
            '<div class="cards">'
            + "".join(
                f'<div class="card"><div class="label">{esc(label)}</div>'
                f'<div class="value">{esc(fmt_amount(val))} <span class="unit">{esc(unit)}</span>'
                "</div></div>"
                for label, val in cards
            )
            + "</div>"
        )
        if basic is not None and project is not None and total:
            bp = float(basic / total * 100)
            pp = float(project / total * 100)
            out.append(
                f'<div class="split" title="基本 {bp:.1f}% · 项目 {pp:.1f}%">'
                f'<span style="width:{bp:.2f}%;background:#1f6fb2">基本 {bp:.1f}%</span>'
                f'<span style="width:{pp:.2f}%;background:#d4841b">项目 {pp:.1f}%</span></div>'
            )
        out.append(f'<p class="hint">From table {link(site, chosen, _tail(chosen))}.</p>')
        col_iri = _col_iri(cols, "total") or next(iter(cols))
        out.append(await functional_chart(site, chosen, col_iri, unit))
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
        out.append(f'<h3>最大项目 Largest projects ({esc(unit)})</h3><div class="chart">{svg}</div>')
    out.append("</section>")
    return "".join(out)


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
    for r in rows:
        n = v(r, "notation") or ""
        if len(n) == 5 and n[:3] in classes:
            classes[n[:3]].children.append(
                charts.Node(
                    label=f"{n} {v(r, 'label') or ''}".strip(),
                    value=to_decimal(v(r, "amount")) or Decimal(0),
                    href=href(site, v(r, "obs") or ""),
                )
            )
    svg = charts.treemap(list(classes.values()), unit)
    if not svg:
        return ""
    return f'<h3>支出功能分类 Where the money goes (类 → 款, {esc(unit)})</h3><div class="chart treemap">{svg}</div>'


async def validation_summary(site: Site) -> str:
    results = await site.cached_select("validation-all")
    if not results:
        return '<h2>校验 Validation</h2><p class="hint">No SHACL results: every check passed.</p>'
    counts: dict[str, int] = defaultdict(int)
    for r in results:
        counts[_severity(v(r, "sev"))] += 1
    summary = " · ".join(f'<span class="sev-{attr(s)}">{n} {esc(s)}</span>' for s, n in sorted(counts.items()))
    items = []
    for r in results[:15]:
        focus = v(r, "focus") or ""
        sev = _severity(v(r, "sev"))
        items.append(
            f'<li><span class="sev-{attr(sev)}">{esc(sev)}</span> '
            f"{link(site, focus, v(r, 'flabel') or _tail(focus))}: {esc(v(r, 'msg') or '')}</li>"
        )
    return (
        f"<h2>校验 Validation</h2><p>{summary} — "
        '<a href="/validation">all results</a></p><ul>' + "".join(items) + "</ul>"
    )


async def home(request: Request) -> Response:
    site: Site = request.app.state.site
    try:
        budgets = await site.cached_select("budgets")
        total_rows = await site.cached_select("budget-totals")
        totals: dict[str, dict[str, dict[str, Decimal]]] = defaultdict(lambda: defaultdict(dict))
        for r in total_rows:
            amount = to_decimal(v(r, "amount"))
            if amount is None:
                continue
            cols = totals[v(r, "b") or ""][v(r, "table") or ""]
            col = v(r, "col") or ""
            cols[col] = max(cols.get(col, amount), amount)
        grouped: dict[str, list[Row]] = defaultdict(list)
        for row in budgets:
            grouped[v(row, "b") or ""].append(row)
        sections = [await budget_section(site, rows, totals) for rows in grouped.values()]
        validation = await validation_summary(site)
    except PoolError as exc:
        return error_page(site, exc.status, "Busy", exc.message)
    intro = (
        f"<h1>{esc(site.config.title)}</h1>"
        '<p class="sub">部门预算知识图谱 · Chinese department budgets as linked data. '
        'Query with <a href="/query">SPARQL</a>, download the <a href="/dumps/">dumps</a>.</p>'
    )
    if not sections:
        sections = ['<p class="hint">This build has no bk:Budget yet.</p>']
    return html_response(
        request,
        layout("Budgets", intro + "".join(sections) + validation, site_title=site.config.title),
    )


def _unique(rows: list[Row], key: str) -> list[Row]:
    seen: dict[str, Row] = {}
    for r in rows:
        seen.setdefault(v(r, key) or "", r)
    return list(seen.values())


async def validation_page(request: Request) -> Response:
    site: Site = request.app.state.site
    try:
        results = await site.cached_select("validation-all")
    except PoolError as exc:
        return error_page(site, exc.status, "Busy", exc.message)
    body = []
    for r in _unique(results, "r"):
        focus = v(r, "focus") or ""
        sev = _severity(v(r, "sev"))
        value = r.get("value")
        body.append(
            [
                f'<span class="sev-{attr(sev)}">{esc(sev)}</span>',
                link(site, focus, v(r, "flabel") or _tail(focus)),
                esc(v(r, "msg") or ""),
                render_term(site, value) if value else "",
                esc(compact(v(r, "shape") or "")),
            ]
        )
    files = []
    for name in ("report.ttl", "report.html"):
        if (site.build.root / "validation" / name).is_file():
            files.append(f'<a href="/validation/{name}">{name}</a>')
    head = f"<h1>校验结果 Validation results</h1><p>{len(body)} results. {' · '.join(files)}</p>"
    content = (
        table(["Severity", "Focus node", "Message", "Value", "Shape"], body)
        if body
        else ('<p class="hint">No SHACL results: every check passed.</p>')
    )
    return html_response(request, layout("Validation", head + content, site_title=site.config.title))
